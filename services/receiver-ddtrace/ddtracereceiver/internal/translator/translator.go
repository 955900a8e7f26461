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

// priorityTag is DataKit's DDPriorityMap: the sampling_rate tag of kept traces.
func priorityTag(p int32) string {
	switch p {
	case 1:
		return "sampler_keep"
	case 2:
		return "user_keep"
	}
	return ""
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
	// keys are the tag keys of the meta keys that always leave the message: promoted,
	// then the plain customer_tags (one lookup a meta key instead of two).
	keys map[string]string
	// patterns tells whether customer_tags has reg: entries, matched after keys.
	patterns bool
	// inputTags is how many [inputs.ddtrace.tags] may land in a span's tags.
	inputTags int
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
	t.keys = make(map[string]string, len(promoted)+len(t.custom.Keys()))
	for k, v := range promoted {
		t.keys[k] = v
	}
	for _, k := range t.custom.Keys() {
		if _, ok := t.keys[k]; !ok {
			t.keys[k] = spanmodel.TagKey(k)
		}
	}
	for _, e := range o.CustomerTags {
		t.patterns = t.patterns || strings.HasPrefix(e, "reg:")
	}
	for k := range o.Tags {
		switch k {
		case "env", "project", "version", "service", "source", "operation", "span_type", "source_type", "status":
		default:
			t.inputTags++
		}
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
	c := newConversion(n)
	defer c.release()
	spans := make([]*spanv1.DatakitSpan, 0, n)
	// One array for the payload's spans: they live and die together (the batch).
	block := make([]spanv1.DatakitSpan, n)
	for _, tr := range traces {
		first := firstSpan(tr)
		if first == nil {
			continue
		}
		traceID := t.traceID(tr, first)
		for _, s := range tr {
			if s != nil {
				ds := &block[len(spans)]
				t.span(c, ds, s, traceID, remoteIP)
				spans = append(spans, ds)
			}
		}
	}
	c.flush()
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
			if high, ok := s.Meta.Get(keyTraceHigh); ok && isHex16(string(high)) {
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

// promotion is a meta entry that leaves the message, and the tag key it becomes.
type promotion struct {
	i   int
	key string
}

func (t *Translator) span(c *conversion, ds *spanv1.DatakitSpan, s *ddwire.Span, traceID, remoteIP string) {
	ds.TraceId = traceID
	c.id(&ds.SpanId, uint64(s.SpanID), t.spanBase)
	c.id(&ds.ParentId, uint64(s.ParentID), t.spanBase)
	ds.Service = string(s.Service)
	ds.Resource = strings.ReplaceAll(string(s.Resource), "\n", " ")
	ds.Operation = string(s.Name)
	ds.Source = Source
	ds.SourceType = spanmodel.SourceTypeOf(string(s.Type))
	ds.StartUnixNano = int64(s.Start)
	ds.DurationNano = int64(s.Duration)
	ds.Status = spanmodel.StatusOK
	if s.Error != 0 {
		ds.Status = spanmodel.StatusError
	}
	meta := s.Meta
	// taken are the meta entries that left the message.
	var taken takenSet
	taken.init(len(meta))
	// The promotions are found first so the tag map is made at its final size: a map
	// sized for every meta entry is a big one (several allocations) where a span's tags
	// mostly fit a small one.
	var promBuf [16]promotion
	proms := promBuf[:0]
	nTags := 0
	for i, e := range meta {
		key, ok := t.promote(c, e.Key)
		if !ok {
			continue
		}
		proms = append(proms, promotion{i, key})
		if len(e.Value) > maxTagValue {
			continue
		}
		switch key {
		case "env", "project", "version":
		case "http_status_code":
			nTags += 2 // and its class
		default:
			nTags++
		}
	}
	ridAt, hasRID := meta.Index(keyRuntimeID)
	if hasRID {
		nTags += 2
	}
	var dbHost ddwire.Str
	if _, ok := meta.Get(keyDBType); ok {
		dbHost, _ = meta.Get(keyPeerHost)
	}
	if dbHost != "" {
		nTags++
	}
	if remoteIP != "" {
		nTags++
	}
	p, hasPrio := s.Metrics.Get(keyPriority)
	var prio int32
	var prioTag string
	if hasPrio {
		prio = int32(p)
		if prioTag = priorityTag(prio); prioTag != "" {
			nTags++
		}
	}
	ds.Tags = make(map[string]string, nTags+t.inputTags)
	if hasRID {
		rid := string(meta[ridAt].Value)
		ds.Tags["runtime_id"] = rid
		ds.Tags[keyRuntimeID] = rid
		taken.add(ridAt)
	}
	if dbHost != "" {
		ds.Tags["db_host"] = string(dbHost)
	}
	for _, pr := range proms {
		taken.add(pr.i)
		t.setPromoted(ds, pr.key, string(meta[pr.i].Value))
	}
	if code := ds.Tags["http_status_code"]; code != "" {
		if class := spanmodel.HTTPStatusClass(code); class != "" {
			ds.Tags["http_status_class"] = class
		}
	}
	if remoteIP != "" {
		ds.Tags["remote_ip"] = remoteIP
	}
	if hasPrio {
		ds.SamplingPriority = c.priority(prio)
		if prioTag != "" {
			ds.Tags["sampling_rate"] = prioTag
		}
	}
	t.addInputTags(ds)
	if !t.opts.DelMessage {
		c.message(ds, s, &taken)
	}
}

// promote reports the tag key of a meta key that leaves the message.
func (t *Translator) promote(c *conversion, k string) (string, bool) {
	if key, ok := t.keys[k]; ok {
		return key, true
	}
	if t.patterns && t.custom.Match(k) {
		return c.tagKeys.Key(k), true
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
