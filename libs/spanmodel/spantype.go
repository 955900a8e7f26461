package spanmodel

import (
	"strings"

	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// span_type values.
const (
	SpanTypeEntry   = "entry"
	SpanTypeLocal   = "local"
	SpanTypeExit    = "exit"
	SpanTypeUnknown = "unknown"
)

// source_type values.
const (
	SourceTypeApp          = "app"
	SourceTypeFramework    = "framework"
	SourceTypeCache        = "cache"
	SourceTypeMessageQueue = "message_queue"
	SourceTypeCustom       = "custom"
	SourceTypeDB           = "db"
	SourceTypeWeb          = "web"
)

// Status values.
const (
	StatusOK       = "ok"
	StatusInfo     = "info"
	StatusDebug    = "debug"
	StatusWarning  = "warning"
	StatusError    = "error"
	StatusCritical = "critical"
)

func isRootParent(id string) bool { return id == "" || id == "0" }

// AssignSpanTypes sets span_type on spans that have none, by DataKit's rule over one
// payload: a span whose parent is absent from the payload is an entry; otherwise it is
// local when it has children and exit when it has none. With multiServer (DDTrace, Zipkin)
// a parent of another service also makes the span an entry.
func AssignSpanTypes(spans []*spanv1.DatakitSpan, multiServer bool) {
	byID := make(map[string]*spanv1.DatakitSpan, len(spans))
	parents := make(map[string]struct{}, len(spans))
	for _, s := range spans {
		byID[s.SpanId] = s
		if !isRootParent(s.ParentId) {
			parents[s.ParentId] = struct{}{}
		}
	}
	for _, s := range spans {
		if s.SpanType != "" {
			continue
		}
		s.SpanType = spanTypeOf(s, byID, parents, multiServer)
	}
}

func spanTypeOf(s *spanv1.DatakitSpan, byID map[string]*spanv1.DatakitSpan, parents map[string]struct{}, multiServer bool) string {
	if isRootParent(s.ParentId) {
		return SpanTypeEntry
	}
	p, ok := byID[s.ParentId]
	if !ok {
		return SpanTypeEntry
	}
	if multiServer && p.Service != s.Service {
		return SpanTypeEntry
	}
	if _, ok := parents[s.SpanId]; ok {
		return SpanTypeLocal
	}
	return SpanTypeExit
}

var ddSourceTypes = func() map[string]string {
	m := map[string]string{}
	for st, names := range map[string][]string{
		SourceTypeApp:          {"consul"},
		SourceTypeFramework:    {".net", "datanucleus", "django", "express", "flask", "go-gin", "graphql", "hibernate", "laravel", "soap", "spring"},
		SourceTypeCache:        {"cache", "memcached", "redis"},
		SourceTypeDB:           {"aerospike", "cassandra", "db", "elasticsearch", "influxdb", "leveldb", "mongodb", "mysql", "pymysql", "sql"},
		SourceTypeMessageQueue: {"go-nsq", "kafka", "mqtt", "queue", "rabbitmq", "rocketmq"},
		SourceTypeWeb:          {"dns", "grpc", "http", "http2", "rpc", "web"},
		SourceTypeCustom:       {"", "benchmark", "build", "custom", "template", "test", "worker"},
	} {
		for _, n := range names {
			m[n] = st
		}
	}
	return m
}()

// SourceTypeOf maps a DDTrace-style span type ("http", "redis", "sql", ...) to DataKit's
// source_type, case-insensitively; unknown types are custom.
func SourceTypeOf(spanType string) string {
	if st, ok := ddSourceTypes[strings.ToLower(spanType)]; ok {
		return st
	}
	return SourceTypeCustom
}

// GroupByTrace groups spans by trace id, keeping first-seen order of traces and spans.
func GroupByTrace(spans []*spanv1.DatakitSpan) []*spanv1.DatakitTrace {
	idx := map[string]int{}
	var out []*spanv1.DatakitTrace
	for _, s := range spans {
		i, ok := idx[s.TraceId]
		if !ok {
			i = len(out)
			idx[s.TraceId] = i
			out = append(out, &spanv1.DatakitTrace{})
		}
		out[i].Spans = append(out[i].Spans, s)
	}
	return out
}
