// Package translator converts Datadog tracer spans (package ddwire) into DatakitSpans the
// way DataKit's ddtrace input does (datakit-spec §1.1). It is pure: no transport, no
// clock, no config package; the receiver passes its settings as Options.
package translator

import (
	"strings"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

// Source is the source tag and measurement of every span.
const Source = "ddtrace"

// Well-known meta and metrics keys.
const (
	keyPriority  = "_sampling_priority_v1"
	keyTraceHigh = "_dd.p.tid"
	keyRuntimeID = "runtime-id"
	keyDBType    = "db.type"
	keyPeerHost  = "peer.hostname"
)

// maxTagValue is DataKit's limit: a promoted meta value longer than this becomes a field.
const maxTagValue = 1024

// promoted maps the meta keys DataKit always lifts out of the message to their tag keys.
var promoted = map[string]string{
	"http.url":          "http_url",
	"http.hostname":     "http_hostname",
	"http.route":        "http_route",
	"http.status_code":  "http_status_code",
	"http.method":       "http_method",
	"http.client_ip":    "http_client_ip",
	"sampling.priority": "sampling_priority",
	"span.kind":         "span_kind",
	"error":             "error",
	"runtime.name":      "runtime_name",
	"dd.version":        "dd_version",
	"dd.env":            "dd_env",
	"error.message":     "error_message",
	"error.stack":       "error_stack",
	"error.type":        "error_type",
	"system.pid":        "pid",
	"error.msg":         "error_message",
	"project":           "project",
	"version":           "version",
	"env":               "env",
	"host":              "host",
	"pod_name":          "pod_name",
	"pod_namespace":     "pod_namespace",
	"_dd.base_service":  "base_service",
	"db.type":           "db_system",
	"db.instance":       "db_name",
	"db.operation":      "db_operation",
	"out.host":          "out_host",
}

// priorityTags is DataKit's DDPriorityMap: the sampling_rate tag of kept traces.
var priorityTags = map[int32]string{
	1: "sampler_keep",
	2: "user_keep",
}

// Options are the [[inputs.ddtrace]] settings the conversion depends on.
type Options struct {
	// CompatibleOTel prints span and parent ids as 16 hex digits.
	CompatibleOTel bool
	// TraceID64BitHex prints all ids as 16 hex digits and ignores _dd.p.tid.
	TraceID64BitHex bool
	// Trace128BitID joins _dd.p.tid and the low 64 bits into a 32-hex trace id.
	Trace128BitID bool
	// CustomerTags are meta keys (or "reg:<regexp>") promoted to tags.
	CustomerTags []string
	// DelMessage omits the message field.
	DelMessage bool
	// Tags are the input's tags, added to every span without overriding its own.
	Tags map[string]string
}

// Translator converts payloads with fixed Options; it is safe for concurrent use.
type Translator struct {
	opts     Options
	spanBase int
	custom   spanmodel.KeyMatcher
}

// New compiles the options.
func New(o Options) (*Translator, error) {
	t := &Translator{opts: o, spanBase: 10}
	if o.CompatibleOTel || o.TraceID64BitHex {
		t.spanBase = 16
	}
	var err error
	if t.custom, err = spanmodel.CompileKeyMatcher(o.CustomerTags); err != nil {
		return nil, err
	}
	return t, nil
}

// Convert turns one payload into traces grouped by trace id. remoteIP is the client
// address (the remote_ip tag). Traces are not filtered here: rejected sampling priorities
// are carried in sampling_priority for the filter's sampler.
func (t *Translator) Convert(traces ddwire.Traces, remoteIP string) []*spanv1.DatakitTrace {
	n := 0
	for _, tr := range traces {
		n += len(tr)
	}
	if n == 0 {
		return nil
	}
	spans := make([]*spanv1.DatakitSpan, 0, n)
	for _, tr := range traces {
		first := firstSpan(tr)
		if first == nil {
			continue
		}
		traceID := t.traceID(tr, first)
		for _, s := range tr {
			if s != nil {
				spans = append(spans, t.span(s, traceID, remoteIP))
			}
		}
	}
	spanmodel.AssignSpanTypes(spans, true)
	return spanmodel.GroupByTrace(spans)
}

func firstSpan(tr ddwire.Trace) *ddwire.Span {
	for _, s := range tr {
		if s != nil {
			return s
		}
	}
	return nil
}

// traceID is computed once per trace, as DataKit does from the trace's first span; the
// upper half of a 128-bit id may sit on any span of the chunk, so all are searched.
func (t *Translator) traceID(tr ddwire.Trace, first *ddwire.Span) string {
	low := uint64(first.TraceID)
	if t.opts.TraceID64BitHex {
		return spanmodel.FormatSpanIDByBase(low, 16)
	}
	if t.opts.Trace128BitID {
		for _, s := range tr {
			if s == nil {
				continue
			}
			if high, ok := s.Meta[keyTraceHigh]; ok && isHex16(string(high)) {
				return pad16(string(high)) + lowHex(low)
			}
		}
	}
	return spanmodel.FormatSpanIDByBase(low, 10)
}

func isHex16(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func pad16(s string) string {
	s = strings.ToLower(s)
	if len(s) < 16 {
		s = strings.Repeat("0", 16-len(s)) + s
	}
	return s
}

// lowHex is %016x, also for 0 (FormatSpanIDByBase prints a zero id as "0").
func lowHex(v uint64) string {
	if v == 0 {
		return "0000000000000000"
	}
	return spanmodel.FormatSpanIDByBase(v, 16)
}

func (t *Translator) span(s *ddwire.Span, traceID, remoteIP string) *spanv1.DatakitSpan {
	ds := &spanv1.DatakitSpan{
		TraceId:       traceID,
		SpanId:        spanmodel.FormatSpanIDByBase(uint64(s.SpanID), t.spanBase),
		ParentId:      spanmodel.FormatSpanIDByBase(uint64(s.ParentID), t.spanBase),
		Service:       string(s.Service),
		Resource:      strings.ReplaceAll(string(s.Resource), "\n", " "),
		Operation:     string(s.Name),
		Source:        Source,
		SourceType:    spanmodel.SourceTypeOf(string(s.Type)),
		StartUnixNano: int64(s.Start),
		DurationNano:  int64(s.Duration),
		Status:        spanmodel.StatusOK,
		Tags:          make(map[string]string, len(s.Meta)+4),
	}
	if s.Error != 0 {
		ds.Status = spanmodel.StatusError
	}
	// taken are the meta keys that left the message; a span promotes few, so a small
	// array beats a copy of the meta map.
	var takenBuf [16]string
	taken := takenBuf[:0]
	if rid, ok := s.Meta[keyRuntimeID]; ok {
		ds.Tags["runtime_id"] = string(rid)
		ds.Tags[keyRuntimeID] = string(rid)
		taken = append(taken, keyRuntimeID)
	}
	if _, ok := s.Meta[keyDBType]; ok {
		if h := s.Meta[keyPeerHost]; h != "" {
			ds.Tags["db_host"] = string(h)
		}
	}
	for k, v := range s.Meta {
		key, ok := t.promote(k)
		if !ok {
			continue
		}
		taken = append(taken, k)
		t.setPromoted(ds, key, string(v))
	}
	if code := ds.Tags["http_status_code"]; code != "" {
		if class := spanmodel.HTTPStatusClass(code); class != "" {
			ds.Tags["http_status_class"] = class
		}
	}
	if remoteIP != "" {
		ds.Tags["remote_ip"] = remoteIP
	}
	if p, ok := s.Metrics[keyPriority]; ok {
		prio := int32(p)
		ds.SamplingPriority = &prio
		if tag, ok := priorityTags[prio]; ok {
			ds.Tags["sampling_rate"] = tag
		}
	}
	t.addInputTags(ds)
	if !t.opts.DelMessage {
		ds.Message = message(s, taken)
	}
	return ds
}

// promote reports the tag key of a meta key that leaves the message.
func (t *Translator) promote(k string) (string, bool) {
	if key, ok := promoted[k]; ok {
		return key, true
	}
	if t.custom.Match(k) {
		return spanmodel.TagKey(k), true
	}
	return "", false
}

func (t *Translator) setPromoted(ds *spanv1.DatakitSpan, key, v string) {
	if len(v) > maxTagValue {
		if ds.Fields == nil {
			ds.Fields = map[string]*spanv1.FieldValue{}
		}
		ds.Fields[key] = &spanv1.FieldValue{Kind: &spanv1.FieldValue_S{S: v}}
		return
	}
	switch key {
	case "env":
		ds.Env = v
	case "project":
		ds.Project = v
	case "version":
		ds.Version = v
	default:
		ds.Tags[key] = v
	}
}

// addInputTags applies [inputs.ddtrace.tags] like DataKit's AddTag: a key the span
// already has keeps its value.
func (t *Translator) addInputTags(ds *spanv1.DatakitSpan) {
	for k, v := range t.opts.Tags {
		switch k {
		case "env":
			if ds.Env == "" {
				ds.Env = v
			}
		case "project":
			if ds.Project == "" {
				ds.Project = v
			}
		case "version":
			if ds.Version == "" {
				ds.Version = v
			}
		case "service", "source", "operation", "span_type", "source_type", "status":
			// always set on the span
		default:
			if _, ok := ds.Tags[k]; !ok {
				ds.Tags[k] = v
			}
		}
	}
}
