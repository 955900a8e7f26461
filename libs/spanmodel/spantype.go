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
// Every receiver calls it on every payload, so it allocates a fixed handful of blocks
// rather than growing a slice per trace: SDKs send a trace's spans together, so runs of
// one id skip the map, which is only consulted where a run starts.
func GroupByTrace(spans []*spanv1.DatakitSpan) []*spanv1.DatakitTrace {
	if len(spans) == 0 {
		return nil
	}
	trace := make([]int32, len(spans)) // trace index of each span
	var (
		counts []int
		idx    map[string]int
	)
	for k, s := range spans {
		if k > 0 && s.TraceId == spans[k-1].TraceId {
			trace[k] = trace[k-1]
			counts[trace[k]]++
			continue
		}
		i, ok := idx[s.TraceId]
		if !ok {
			if idx == nil {
				idx = make(map[string]int, 8)
			}
			i = len(counts)
			idx[s.TraceId] = i
			counts = append(counts, 0)
		}
		trace[k] = int32(i)
		counts[i]++
	}
	traces := make([]spanv1.DatakitTrace, len(counts))
	out := make([]*spanv1.DatakitTrace, len(counts))
	all := make([]*spanv1.DatakitSpan, len(spans))
	start := 0
	for i, n := range counts {
		// Capped so that appending to one trace cannot write into the next one's spans.
		traces[i].Spans = all[start : start : start+n]
		out[i] = &traces[i]
		start += n
	}
	for k, s := range spans {
		t := &traces[trace[k]]
		t.Spans = append(t.Spans, s)
	}
	return out
}
