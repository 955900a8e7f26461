package translator

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	testTraceID = pcommon.TraceID{0x81, 0x86, 0x16, 0x08, 0x4f, 0x85, 0x05, 0x20, 0x84, 0x3d, 0x19, 0xe3, 0x93, 0x6e, 0x47, 0x20}
	testSpanID  = pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
)

// oneSpan builds a payload with one span; edit adjusts resource and span.
func oneSpan(edit func(res pcommon.Map, sp ptrace.Span)) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(testTraceID)
	sp.SetSpanID(testSpanID)
	sp.SetName("op")
	sp.SetStartTimestamp(1_000_000)
	sp.SetEndTimestamp(3_500_000)
	if edit != nil {
		edit(rs.Resource().Attributes(), sp)
	}
	return td
}

// convert runs one-span payloads through a translator with opts (DataKit defaults when nil).
func convert(t *testing.T, opts *Options, td ptrace.Traces, m Meta) *spanv1.DatakitSpan {
	t.Helper()
	o := defaultOptions()
	if opts != nil {
		o = *opts
	}
	tr, err := New(o)
	require.NoError(t, err)
	spans := tr.Spans(td, m)
	require.Len(t, spans, 1)
	_, err = spanmodel.Marshal(&spanv1.TraceBatch{Traces: []*spanv1.DatakitTrace{{Spans: spans}}})
	require.NoError(t, err, "span must marshal")
	if spans[0].Message != "" {
		require.True(t, json.Valid([]byte(spans[0].Message)), "message is JSON: %s", spans[0].Message)
	}
	return spans[0]
}

func TestIDs(t *testing.T) {
	parent := pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 9}
	tests := []struct {
		name                  string
		opts                  Options
		parent                pcommon.SpanID
		trace, span, parentID string
	}{
		{"hex", Options{}, parent, "818616084f850520843d19e3936e4720", "0102030405060708", "0000000000000009"},
		{"no parent", Options{}, pcommon.NewSpanIDEmpty(), "818616084f850520843d19e3936e4720", "0102030405060708", "0"},
		// DataKit's trace_test.go vector.
		{"compatible_ddtrace", Options{CompatibleDDTrace: true}, parent, "9528800851807586080", "72623859790382856", "9"},
		{"compatible_ddtrace no parent", Options{CompatibleDDTrace: true}, pcommon.NewSpanIDEmpty(), "9528800851807586080", "72623859790382856", "0"},
		{"compatible_zhaoshang", Options{CompatibleZhaoShang: true}, parent, strings.ToValidUTF8(string(testTraceID[:]), "\uFFFD"), "0102030405060708", "0000000000000009"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := convert(t, &tt.opts, oneSpan(func(_ pcommon.Map, sp ptrace.Span) { sp.SetParentSpanID(tt.parent) }), Meta{})
			assert.Equal(t, tt.trace, s.TraceId)
			assert.Equal(t, tt.span, s.SpanId)
			assert.Equal(t, tt.parentID, s.ParentId)
		})
	}
	s := convert(t, nil, oneSpan(nil), Meta{})
	assert.Contains(t, s.Message, `{"key":"trace_id","value":{"stringValue":"818616084f850520843d19e3936e4720"}}`, "trace id appended for text search")
}

func TestServiceAndSplit(t *testing.T) {
	tests := []struct {
		name     string
		split    bool
		res      map[string]any
		attrs    map[string]any
		service  string
		base     string
		hasBase  bool
		resource string
	}{
		{name: "default", split: true, service: "unknown_service"},
		{name: "service.name", split: true, res: map[string]any{"service.name": "cart"}, service: "cart"},
		{name: "non-string service.name", split: true, res: map[string]any{"service.name": 7}, service: "unknown_service"},
		{name: "db split", split: true, res: map[string]any{"service.name": "cart"}, attrs: map[string]any{"db.system": "redis"}, service: "redis", base: "cart", hasBase: true},
		{name: "rpc split", split: true, res: map[string]any{"service.name": "cart"}, attrs: map[string]any{"rpc.system": "grpc"}, service: "grpc", base: "cart", hasBase: true},
		{name: "messaging split", split: true, res: map[string]any{"service.name": "cart"}, attrs: map[string]any{"messaging.system": "kafka"}, service: "kafka", base: "cart", hasBase: true},
		{name: "empty system ignored", split: true, res: map[string]any{"service.name": "cart"}, attrs: map[string]any{"db.system": ""}, service: "cart"},
		{name: "split off", split: false, res: map[string]any{"service.name": "cart"}, attrs: map[string]any{"db.system": "redis"}, service: "cart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{SplitServiceName: tt.split, CleanMessage: true}
			s := convert(t, &o, oneSpan(func(res pcommon.Map, sp ptrace.Span) {
				require.NoError(t, res.FromRaw(tt.res))
				require.NoError(t, sp.Attributes().FromRaw(tt.attrs))
			}), Meta{})
			assert.Equal(t, tt.service, s.Service)
			base, ok := s.Tags["base_service"]
			assert.Equal(t, tt.hasBase, ok)
			assert.Equal(t, tt.base, base)
			assert.Equal(t, "op", s.Resource, "resource is the span name")
			assert.Empty(t, s.Operation, "no operation tag for OpenTelemetry")
			assert.NotContains(t, s.Message, "service.name", "consumed by clean_message")
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		code ptrace.StatusCode
		msg  string
		want string
	}{
		{ptrace.StatusCodeError, "", "error"},
		{ptrace.StatusCodeError, "boom", "error"},
		{ptrace.StatusCodeOk, "", "ok"},
		{ptrace.StatusCodeUnset, "", "ok"}, // SDKs always send a Status; see status()
		{ptrace.StatusCodeUnset, "described", "ok"},
		{ptrace.StatusCode(7), "", "info"},
	}
	for _, tt := range tests {
		s := convert(t, nil, oneSpan(func(_ pcommon.Map, sp ptrace.Span) {
			sp.Status().SetCode(tt.code)
			sp.Status().SetMessage(tt.msg)
		}), Meta{})
		assert.Equal(t, tt.want, s.Status, "code %v message %q", tt.code, tt.msg)
	}
}

func TestSpanKind(t *testing.T) {
	for kind, want := range map[ptrace.SpanKind]string{0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer", 6: ""} {
		s := convert(t, nil, oneSpan(func(_ pcommon.Map, sp ptrace.Span) { sp.SetKind(kind) }), Meta{})
		assert.Equal(t, want, s.Tags["span_kind"], "kind %d", kind)
	}
}

func TestTimes(t *testing.T) {
	s := convert(t, nil, oneSpan(nil), Meta{})
	assert.Equal(t, int64(1_000_000), s.StartUnixNano)
	assert.Equal(t, int64(2_500_000), s.DurationNano, "nanoseconds kept; the sender emits µs")
	s = convert(t, nil, oneSpan(func(_ pcommon.Map, sp ptrace.Span) { sp.SetEndTimestamp(10) }), Meta{})
	assert.Zero(t, s.DurationNano, "end before start")
}

func TestPromotion(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		res, attrs map[string]any
		tags       map[string]string
		fields     map[string]*spanv1.FieldValue
		noTag      []string
		noField    []string
		inMessage  []string
		outMessage []string
	}{
		{
			name:   "int http status code is a tag",
			attrs:  map[string]any{"http.response.status_code": 503, "http.method": "POST"},
			tags:   map[string]string{"http_status_code": "503"},
			fields: map[string]*spanv1.FieldValue{"http_method": strField("POST")},
		},
		{
			name:    "string http status code stays a field",
			attrs:   map[string]any{"http.status_code": "404"},
			fields:  map[string]*spanv1.FieldValue{"http_status_code": strField("404")},
			noTag:   []string{"http_status_code"},
			noField: []string{"http.status_code"},
		},
		{
			name:  "typed fields",
			attrs: map[string]any{"server.port": 8080, "db.name": "shop", "client.port": 1.5, "env": true, "project": []byte("pj"), "version": []any{"a", 1}, "host": map[string]any{"k": "v"}},
			fields: map[string]*spanv1.FieldValue{
				"server_port": {Kind: &spanv1.FieldValue_I{I: 8080}},
				"db_name":     strField("shop"),
				"client_port": {Kind: &spanv1.FieldValue_F{F: 1.5}},
				"env":         {Kind: &spanv1.FieldValue_B{B: true}},
				"project":     strField("pj"),
				"version":     strField(`{"values":[{"stringValue":"a"},{"intValue":"1"}]}`),
				"host":        strField(`{"values":[{"key":"k","value":{"stringValue":"v"}}]}`),
			},
			outMessage: []string{"server.port", "db.name"},
		},
		{
			name:    "span wins over resource, and the later kind replaces the other",
			res:     map[string]any{"http.status_code": "200", "process.pid": 1},
			attrs:   map[string]any{"http.status_code": 500, "process.pid": 2},
			tags:    map[string]string{"http_status_code": "500"},
			fields:  map[string]*spanv1.FieldValue{"process_pid": {Kind: &spanv1.FieldValue_I{I: 2}}},
			noField: []string{"http_status_code"},
		},
		{
			name:       "not promoted stays in message",
			attrs:      map[string]any{"user.id": "u1"},
			noField:    []string{"user_id"},
			inMessage:  []string{`{"key":"user.id","value":{"stringValue":"u1"}}`},
			outMessage: nil,
		},
		{
			name:       "customer_tags exact and reg:",
			opts:       Options{CustomerTags: []string{"user.id", "reg:^app\\."}},
			attrs:      map[string]any{"user.id": "u1", "app.tier": "gold", "other": "x"},
			fields:     map[string]*spanv1.FieldValue{"user_id": strField("u1"), "app_tier": strField("gold")},
			noField:    []string{"other"},
			inMessage:  []string{`"other"`},
			outMessage: []string{"user.id", "app.tier"},
		},
		{
			name:       "customer_tags_all",
			opts:       Options{CustomerTagsAll: true},
			res:        map[string]any{"k8s.pod.name": "p-1"},
			attrs:      map[string]any{"a.b.c": int64(3), "http.method": "GET"},
			fields:     map[string]*spanv1.FieldValue{"k8s_pod_name": strField("p-1"), "a_b_c": {Kind: &spanv1.FieldValue_I{I: 3}}, "http_method": strField("GET")},
			outMessage: []string{"a.b.c", "k8s.pod.name", "trace_id"},
		},
		{
			name:    "promoted values never shadow dedicated keys",
			opts:    Options{CustomerTagsAll: true},
			attrs:   map[string]any{"service": "x", "status": "x", "span_kind": "x", "remote_ip": "x", "trace_id": "x"},
			tags:    map[string]string{"span_kind": "unspecified", "remote_ip": "192.0.2.1"},
			noField: []string{"service", "status", "span_kind", "remote_ip", "trace_id"},
		},
		{
			name:   "messaging keys lose their dots",
			attrs:  map[string]any{"messaging.message.id": "m1", "messaging.destination.name": "q"},
			fields: map[string]*spanv1.FieldValue{"messaging_message_id": strField("m1"), "messaging_destination_name": strField("q")},
		},
		{
			name:    "empty value promoted to nothing",
			attrs:   map[string]any{"db.name": nil},
			noField: []string{"db_name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.CleanMessage = true
			s := convert(t, &o, oneSpan(func(res pcommon.Map, sp ptrace.Span) {
				require.NoError(t, res.FromRaw(tt.res))
				require.NoError(t, sp.Attributes().FromRaw(tt.attrs))
			}), Meta{RemoteIP: "192.0.2.1"})
			for k, v := range tt.tags {
				assert.Equal(t, v, s.Tags[k], "tag %s", k)
			}
			for k, v := range tt.fields {
				assert.Equal(t, v.String(), s.Fields[k].String(), "field %s", k)
			}
			for _, k := range tt.noTag {
				assert.NotContains(t, s.Tags, k)
			}
			for _, k := range tt.noField {
				assert.NotContains(t, s.Fields, k)
			}
			for _, m := range tt.inMessage {
				assert.Contains(t, s.Message, m)
			}
			for _, m := range tt.outMessage {
				assert.NotContains(t, s.Message, m)
			}
		})
	}
}

// A listed customer tag overrides the built-in point key of the same attribute; a reg:
// entry does not (DataKit merges the listed keys into its otelPubAttrs table).
func TestCustomerTagsPrecedence(t *testing.T) {
	tr, err := New(Options{CustomerTags: []string{"http.request.method", `reg:^http\.response\.`, `reg:^app\.`}})
	require.NoError(t, err)
	for key, want := range map[string]string{
		"http.request.method":       "http_request_method",
		"http.response.status_code": "http_status_code",
		"app.tier":                  "app_tier",
		"db.system":                 "db_system",
	} {
		got, ok := tr.target(key)
		assert.True(t, ok, key)
		assert.Equal(t, want, got.key, key)
	}
	_, ok := tr.target("other.key")
	assert.False(t, ok)
}

func TestBadCustomerTagRegexp(t *testing.T) {
	_, err := New(Options{CustomerTags: []string{"ok", "reg:("}})
	require.ErrorContains(t, err, "customer_tags[1]")
}

func TestRuntimeID(t *testing.T) {
	s := convert(t, nil, oneSpan(func(res pcommon.Map, sp ptrace.Span) {
		res.PutStr("runtime_id", "from-res")
		sp.Attributes().PutStr("runtime_id", "from-span")
	}), Meta{})
	assert.Equal(t, "from-res", s.Fields["runtime_id"].GetS())
	assert.Equal(t, "from-res", s.Fields["runtime-id"].GetS())
	assert.Contains(t, s.Message, "from-span", "the span's own is not consumed when the resource has one")

	s = convert(t, nil, oneSpan(func(_ pcommon.Map, sp ptrace.Span) { sp.Attributes().PutStr("runtime_id", "from-span") }), Meta{})
	assert.Equal(t, "from-span", s.Fields["runtime_id"].GetS())
	assert.NotContains(t, s.Message, "from-span", "consumed with clean_message")

	noClean := Options{}
	s = convert(t, &noClean, oneSpan(func(_ pcommon.Map, sp ptrace.Span) { sp.Attributes().PutStr("runtime_id", "from-span") }), Meta{})
	assert.Equal(t, "from-span", s.Fields["runtime-id"].GetS())
	assert.Contains(t, s.Message, "from-span")

	s = convert(t, nil, oneSpan(nil), Meta{})
	assert.NotContains(t, s.Fields, "runtime_id")
}

func TestException(t *testing.T) {
	td := oneSpan(func(_ pcommon.Map, sp ptrace.Span) {
		ev := sp.Events().AppendEmpty()
		ev.SetName("log")
		ev = sp.Events().AppendEmpty()
		ev.SetName("exception")
		ev.Attributes().PutStr("exception.type", "E1")
		ev.Attributes().PutStr("exception.message", "first")
		ev.Attributes().PutInt("exception.stacktrace", 12)
		ev = sp.Events().AppendEmpty()
		ev.SetName("exception")
		ev.Attributes().PutStr("exception.type", "E2")
	})
	s := convert(t, nil, td, Meta{})
	assert.Equal(t, "E1", s.Fields["error_type"].GetS(), "first exception event only")
	assert.Equal(t, "first", s.Fields["error_message"].GetS())
	assert.Equal(t, "12", s.Fields["error_stack"].GetS())
	assert.NotContains(t, s.Message, "E1", "the consumed event is removed with clean_message")
	assert.Contains(t, s.Message, "E2", "a later exception event stays")
	assert.Equal(t, "E2", s.Fields["exception_type"].GetS(), "the remaining event's attributes are promoted")

	noClean := Options{}
	s = convert(t, &noClean, td, Meta{})
	assert.Equal(t, "E1", s.Fields["error_type"].GetS())
	assert.Contains(t, s.Message, "E1")
}

func TestDBHost(t *testing.T) {
	tests := []struct {
		attrs map[string]any
		want  string
	}{
		{map[string]any{"db.system": "mysql", "net.peer.name": "db1"}, "db1"},
		{map[string]any{"db.system": "mysql", "server.address": "db2"}, "db2"},
		{map[string]any{"server.address": "web"}, ""},
		{map[string]any{"db.system": "mysql"}, ""},
	}
	for _, tt := range tests {
		s := convert(t, nil, oneSpan(func(_ pcommon.Map, sp ptrace.Span) { require.NoError(t, sp.Attributes().FromRaw(tt.attrs)) }), Meta{})
		assert.Equal(t, tt.want, s.Tags["db_host"], "%v", tt.attrs)
	}
}

func TestRemoteIP(t *testing.T) {
	s := convert(t, nil, oneSpan(nil), Meta{RemoteIP: "203.0.113.7"})
	assert.Equal(t, "203.0.113.7", s.Tags["remote_ip"])
	s = convert(t, nil, oneSpan(nil), Meta{})
	assert.NotContains(t, s.Tags, "remote_ip")
}

func TestInputTagsOverride(t *testing.T) {
	o := defaultOptions()
	o.Tags = map[string]string{"service": "svc", "status": "warning", "source_type": "app", "env": "prod", "http_method": "TAG", "span_kind": "mine", "zone": "z1"}
	s := convert(t, &o, oneSpan(func(res pcommon.Map, sp ptrace.Span) {
		res.PutStr("service.name", "orig")
		sp.Attributes().PutStr("http.method", "GET")
		sp.Attributes().PutStr("env", "dev")
		sp.Status().SetCode(ptrace.StatusCodeError)
	}), Meta{})
	assert.Equal(t, "svc", s.Service)
	assert.Equal(t, "warning", s.Status)
	assert.Equal(t, "app", s.SourceType, "an input source_type is kept")
	assert.Equal(t, "prod", s.Env)
	assert.NotContains(t, s.Fields, "env", "the input tag replaces the promoted field")
	assert.Equal(t, "TAG", s.Tags["http_method"])
	assert.NotContains(t, s.Fields, "http_method")
	assert.Equal(t, "mine", s.Tags["span_kind"])
	assert.Equal(t, "z1", s.Tags["zone"])
}

func TestSourceType(t *testing.T) {
	tests := []struct {
		attrs map[string]any
		want  string
	}{
		{map[string]any{"http.request.method": "GET"}, "web"},
		{map[string]any{"http.scheme": "https"}, "web"},
		{map[string]any{"url.full": "https://x"}, "web"},
		{map[string]any{"rpc.system": "grpc"}, "web"},
		{map[string]any{"db.system": "redis", "http.url": "x"}, "db"},
		{map[string]any{"messaging.system": "kafka", "url.path": "/"}, "message_queue"},
		{map[string]any{"user": "x"}, "custom"},
		{nil, "custom"},
	}
	for _, tt := range tests {
		o := Options{}
		s := convert(t, &o, oneSpan(func(_ pcommon.Map, sp ptrace.Span) { require.NoError(t, sp.Attributes().FromRaw(tt.attrs)) }), Meta{})
		assert.Equal(t, tt.want, s.SourceType, "%v", tt.attrs)
	}
}

func TestMessageOptions(t *testing.T) {
	td := oneSpan(func(_ pcommon.Map, sp ptrace.Span) {
		sp.SetKind(ptrace.SpanKindServer)
		sp.Status().SetCode(ptrace.StatusCodeOk)
		sp.TraceState().FromRaw("k=v")
		sp.SetDroppedAttributesCount(3)
	})
	s := convert(t, &Options{DelMessage: true}, td, Meta{})
	assert.Empty(t, s.Message)

	s = convert(t, &Options{CleanMessage: true}, td, Meta{})
	assert.JSONEq(t, `{"traceState":"k=v","attributes":[{"key":"trace_id","value":{"stringValue":"818616084f850520843d19e3936e4720"}}],"droppedAttributesCount":3}`, s.Message)

	s = convert(t, &Options{}, td, Meta{})
	assert.JSONEq(t, `{"traceId":"818616084f850520843d19e3936e4720","spanId":"0102030405060708","traceState":"k=v","name":"op","kind":"SPAN_KIND_SERVER",
		"startTimeUnixNano":"1000000","endTimeUnixNano":"3500000",
		"attributes":[{"key":"trace_id","value":{"stringValue":"818616084f850520843d19e3936e4720"}}],"droppedAttributesCount":3,
		"status":{"code":"STATUS_CODE_OK"}}`, s.Message)
}

func TestSpanTypeAndGrouping(t *testing.T) {
	// Parent and children in different ResourceSpans of one payload: the span type sees the
	// whole payload, as DataKit's does.
	td := ptrace.NewTraces()
	add := func(trace pcommon.TraceID, id, parent byte) {
		sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(trace)
		sp.SetSpanID(pcommon.SpanID{id})
		if parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{parent})
		}
	}
	other := pcommon.TraceID{9}
	add(testTraceID, 1, 0)
	add(other, 5, 4) // parent not in payload
	add(testTraceID, 2, 1)
	add(testTraceID, 3, 2)
	tr, err := New(defaultOptions())
	require.NoError(t, err)
	b := tr.ToTraceBatch(td, Meta{})
	assert.Equal(t, Source, b.Source)
	require.Len(t, b.Traces, 2)
	require.Len(t, b.Traces[0].Spans, 3)
	require.Len(t, b.Traces[1].Spans, 1)
	types := map[string]string{}
	for _, tr := range b.Traces {
		for _, s := range tr.Spans {
			types[s.SpanId] = s.SpanType
		}
	}
	id := func(b byte) string { return hex.EncodeToString([]byte{b, 0, 0, 0, 0, 0, 0, 0}) }
	assert.Equal(t, map[string]string{id(1): "entry", id(2): "local", id(3): "exit", id(5): "entry"}, types)
}

func TestInvalidUTF8(t *testing.T) {
	o := Options{CustomerTagsAll: true, Tags: map[string]string{}}
	s := convert(t, &o, oneSpan(func(res pcommon.Map, sp ptrace.Span) {
		res.PutStr("service.name", "svc\xff")
		sp.SetName("na\xc3me")
		sp.Attributes().PutStr("k\xfe", "v\xff")
		sp.Attributes().PutEmptyBytes("raw").FromRaw([]byte{0xff, 0xfe})
	}), Meta{RemoteIP: "\xff"})
	assert.Equal(t, "svc\uFFFD", s.Service)
	assert.Equal(t, "na\uFFFDme", s.Resource)
	assert.Equal(t, "v\uFFFD", s.Fields["k\uFFFD"].GetS())
}

func TestAppendString(t *testing.T) {
	for _, in := range []string{"", "plain", `q"b\s`, "ctl\x00\x1f\n\r\t", "ünï", "bad\xffutf8", "\u2028"} {
		out := appendString(nil, in)
		var back string
		require.NoError(t, json.Unmarshal(out, &back), "%q -> %s", in, out)
		assert.Equal(t, strings.ToValidUTF8(in, "\uFFFD"), back)
	}
	assert.Equal(t, `"NaN"`, string(appendDouble(nil, math.NaN())))
	assert.Equal(t, `"-Infinity"`, string(appendDouble(nil, math.Inf(-1))))
	assert.Equal(t, `"Infinity"`, string(appendDouble(nil, math.Inf(1))))
	assert.Equal(t, `1e+21`, string(appendDouble(nil, 1e21)))
}

func strField(s string) *spanv1.FieldValue {
	return &spanv1.FieldValue{Kind: &spanv1.FieldValue_S{S: s}}
}
