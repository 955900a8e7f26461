package translator

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

func convertOne(t *testing.T, o Options, spans ...*ddwire.Span) []*spanv1.DatakitSpan {
	t.Helper()
	tr, err := New(o)
	require.NoError(t, err)
	var out []*spanv1.DatakitSpan
	for _, trace := range tr.Convert(ddwire.Traces{spans}, "") {
		out = append(out, trace.Spans...)
	}
	return out
}

func TestTraceIDFormats(t *testing.T) {
	withTID := func(tid string) *ddwire.Span {
		return &ddwire.Span{TraceID: 0xff, SpanID: 0x10, ParentID: 0x1, Meta: ddwire.MetaOf(map[string]ddwire.Str{"_dd.p.tid": ddwire.Str(tid)})}
	}
	tests := []struct {
		name              string
		opts              Options
		span              *ddwire.Span
		trace, span_, par string
	}{
		{"decimal", Options{Trace128BitID: true}, &ddwire.Span{TraceID: 255, SpanID: 16, ParentID: 1}, "255", "16", "1"},
		{"max uint64", Options{}, &ddwire.Span{TraceID: math.MaxUint64, SpanID: 1}, "18446744073709551615", "1", "0"},
		{"128-bit", Options{Trace128BitID: true}, withTID("6650a41a00000000"), "6650a41a0000000000000000000000ff", "16", "1"},
		{"128-bit short high is padded", Options{Trace128BitID: true}, withTID("abc"), "0000000000000abc00000000000000ff", "16", "1"},
		{"128-bit upper case", Options{Trace128BitID: true}, withTID("ABC"), "0000000000000abc00000000000000ff", "16", "1"},
		{"128-bit not hex ignored", Options{Trace128BitID: true}, withTID("zz"), "255", "16", "1"},
		{"128-bit off", Options{}, withTID("6650a41a00000000"), "255", "16", "1"},
		{"64-bit hex ignores tid", Options{Trace128BitID: true, TraceID64BitHex: true}, withTID("6650a41a00000000"), "00000000000000ff", "0000000000000010", "0000000000000001"},
		{"compatible_otel: span ids only", Options{CompatibleOTel: true}, &ddwire.Span{TraceID: 255, SpanID: 16, ParentID: 0}, "255", "0000000000000010", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := convertOne(t, tt.opts, tt.span)[0]
			assert.Equal(t, tt.trace, s.TraceId)
			assert.Equal(t, tt.span_, s.SpanId)
			assert.Equal(t, tt.par, s.ParentId)
		})
	}
}

func TestTraceIDFromFirstSpanAppliesToTheChunk(t *testing.T) {
	spans := convertOne(t, Options{Trace128BitID: true},
		&ddwire.Span{TraceID: 1, SpanID: 1},
		&ddwire.Span{TraceID: 1, SpanID: 2, ParentID: 1, Meta: ddwire.MetaOf(map[string]ddwire.Str{"_dd.p.tid": "1"})},
	)
	require.Len(t, spans, 2)
	assert.Equal(t, "00000000000000010000000000000001", spans[0].TraceId)
	assert.Equal(t, spans[0].TraceId, spans[1].TraceId)
}

func TestSamplingPriority(t *testing.T) {
	tests := []struct {
		metrics map[string]ddwire.Float64
		want    *int32
		tag     string
	}{
		{nil, nil, ""},
		{map[string]ddwire.Float64{"_sampling_priority_v1": 2}, ptr(int32(2)), "user_keep"},
		{map[string]ddwire.Float64{"_sampling_priority_v1": 1}, ptr(int32(1)), "sampler_keep"},
		{map[string]ddwire.Float64{"_sampling_priority_v1": 0}, ptr(int32(0)), ""},
		{map[string]ddwire.Float64{"_sampling_priority_v1": -1}, ptr(int32(-1)), ""},
		{map[string]ddwire.Float64{"_sampling_priority_v1": -3}, ptr(int32(-3)), ""},
		{map[string]ddwire.Float64{"_sampling_priority_v1": 3}, ptr(int32(3)), ""},
	}
	for _, tt := range tests {
		s := convertOne(t, Options{}, &ddwire.Span{TraceID: 1, SpanID: 1, Metrics: ddwire.MetricsOf(tt.metrics)})[0]
		if tt.want == nil {
			assert.Nil(t, s.SamplingPriority)
		} else {
			require.NotNil(t, s.SamplingPriority)
			assert.Equal(t, *tt.want, *s.SamplingPriority)
		}
		assert.Equal(t, tt.tag, s.Tags["sampling_rate"])
	}
}

func TestMetaPromotion(t *testing.T) {
	long := strings.Repeat("y", 1025)
	exact := strings.Repeat("z", 1024)
	s := convertOne(t, Options{CustomerTags: []string{"a.b", "reg:^k8s\\.", "exact"}},
		&ddwire.Span{TraceID: 1, SpanID: 1, Error: 2, Resource: "a\nb", Type: "Redis", Meta: ddwire.MetaOf(map[string]ddwire.Str{
			"a.b": "1", "k8s.pod": "p", "kafka.topic": "t", "error.stack": ddwire.Str(long), "exact": ddwire.Str(exact),
			"db.type": "redis", "http.status_code": "abc", "system.pid": "9", "env": "e", "dd.env": "de",
		})})[0]
	assert.Equal(t, "1", s.Tags["a_b"])
	assert.Equal(t, "p", s.Tags["k8s_pod"])
	assert.NotContains(t, s.Tags, "kafka_topic", "not listed: stays in the message")
	assert.Contains(t, s.Message, `"kafka.topic":"t"`)
	assert.NotContains(t, s.Message, `"a.b"`)
	assert.Equal(t, long, s.Fields["error_stack"].GetS(), "over 1024 chars: a field")
	assert.Equal(t, exact, s.Tags["exact"], "1024 chars still a tag")
	assert.Equal(t, "redis", s.Tags["db_system"])
	assert.NotContains(t, s.Tags, "db_host", "no peer.hostname")
	assert.NotContains(t, s.Tags, "http_status_class", "not a status code")
	assert.Equal(t, "9", s.Tags["pid"])
	assert.Equal(t, "e", s.Env)
	assert.Equal(t, "de", s.Tags["dd_env"])
	assert.Equal(t, "a b", s.Resource)
	assert.Equal(t, "error", s.Status)
	assert.Equal(t, "cache", s.SourceType, "case-insensitive type map")
}

// A meta key taken twice (runtime-id is always taken, here also a customer tag) must not
// push a key that stays out of the message: the message counted taken keys, not entries.
func TestMessageKeepsMetaWhenAKeyIsTakenTwice(t *testing.T) {
	s := convertOne(t, Options{CustomerTags: []string{"runtime-id"}},
		&ddwire.Span{TraceID: 1, SpanID: 1, Meta: ddwire.MetaOf(map[string]ddwire.Str{"runtime-id": "r", "stays": "1"})})[0]
	assert.Equal(t, "r", s.Tags["runtime_id"])
	assert.Equal(t, "r", s.Tags["runtime-id"])
	assert.Contains(t, s.Message, `"meta":{"stays":"1"}`)
}

// Two meta keys with one tag key resolve the same way every time (in key order: the
// last key wins), where a Go map's order made it random.
func TestPromotionCollisionIsDeterministic(t *testing.T) {
	for range 20 {
		s := convertOne(t, Options{CustomerTags: []string{"reg:^a"}},
			&ddwire.Span{TraceID: 1, SpanID: 1, Meta: ddwire.MetaOf(map[string]ddwire.Str{
				"error.message": "from message", "error.msg": "from msg", "a.b": "dot", "a_b": "underscore",
			})})[0]
		assert.Equal(t, "from msg", s.Tags["error_message"])
		assert.Equal(t, "underscore", s.Tags["a_b"])
	}
}

// Every span of a payload gets its own strings and priority although they are cut from
// shared buffers, also past the flush threshold and across payloads (pooled buffers).
func TestSharedBuffersKeepEverySpansStrings(t *testing.T) {
	tr, err := New(Options{})
	require.NoError(t, err)
	check := func(round int, spans []*spanv1.DatakitSpan) {
		t.Helper()
		require.Len(t, spans, 200)
		for i, s := range spans {
			assert.Equal(t, strconv.Itoa(round*1000+i+1), s.SpanId)
			assert.Equal(t, strconv.Itoa(round*1000+i), s.ParentId)
			assert.Equal(t, int32((i+round)%3), s.GetSamplingPriority())
			var m struct{ Resource string }
			require.NoError(t, json.Unmarshal([]byte(s.Message), &m), s.Message)
			assert.Equal(t, strings.Repeat(string(rune('a'+round)), i), m.Resource)
		}
	}
	var rounds [][]*spanv1.DatakitSpan
	for round := range 3 {
		var trace ddwire.Trace
		for i := range 200 {
			trace = append(trace, &ddwire.Span{
				TraceID: 7, SpanID: ddwire.Uint64(round*1000 + i + 1), ParentID: ddwire.Uint64(round*1000 + i),
				Resource: ddwire.Str(strings.Repeat(string(rune('a'+round)), i)),
				Metrics:  ddwire.MetricsOf(map[string]ddwire.Float64{"_sampling_priority_v1": ddwire.Float64((i + round) % 3)}),
			})
		}
		got := tr.Convert(ddwire.Traces{trace}, "")
		require.Len(t, got, 1)
		rounds = append(rounds, got[0].Spans)
	}
	for round, spans := range rounds {
		check(round, spans) // after the later payloads reused the pooled buffers
	}
}

func TestDelMessageAndInputTags(t *testing.T) {
	s := convertOne(t, Options{DelMessage: true, Tags: map[string]string{"a": "input", "project": "p", "status": "x"}},
		&ddwire.Span{TraceID: 1, SpanID: 1, Meta: ddwire.MetaOf(map[string]ddwire.Str{"host": "h"})})[0]
	assert.Empty(t, s.Message)
	assert.Equal(t, "input", s.Tags["a"])
	assert.Equal(t, "p", s.Project)
	assert.Equal(t, "ok", s.Status, "an input tag does not replace the status")
	assert.Equal(t, "h", s.Tags["host"])
}

func TestNilSpansAndEmptyTracesAreSkipped(t *testing.T) {
	tr, err := New(Options{})
	require.NoError(t, err)
	assert.Nil(t, tr.Convert(ddwire.Traces{{nil}, {}}, ""))
	got := tr.Convert(ddwire.Traces{{nil, &ddwire.Span{TraceID: 3, SpanID: 3}}}, "")
	require.Len(t, got, 1)
	assert.Equal(t, "3", got[0].Spans[0].TraceId)
}

func TestSameTraceInTwoChunksIsOneTrace(t *testing.T) {
	tr, err := New(Options{})
	require.NoError(t, err)
	got := tr.Convert(ddwire.Traces{{{TraceID: 5, SpanID: 1}}, {{TraceID: 6, SpanID: 9}}, {{TraceID: 5, SpanID: 2, ParentID: 1}}}, "")
	require.Len(t, got, 2)
	assert.Len(t, got[0].Spans, 2)
	assert.Equal(t, "exit", got[0].Spans[1].SpanType, "span types are computed over the whole payload")
}

func TestMessageIsValidJSON(t *testing.T) {
	span := &ddwire.Span{
		Service: "s\"q\\", Name: "n\x01\t\r\n", Resource: "bad \xff utf8 \u2028 \u2029 é 日本",
		Start: -5, Duration: 9, Error: 1, Type: "web",
		Meta:    ddwire.MetaOf(map[string]ddwire.Str{"k<>&": "v\x1f", "": ""}),
		Metrics: ddwire.MetricsOf(map[string]ddwire.Float64{"nan": ddwire.Float64(math.NaN()), "inf": ddwire.Float64(math.Inf(1)), "tiny": 1e-9, "huge": 1e22, "neg": -0.5, "int": 42}),
	}
	msg := string(appendMessage(nil, span, &takenSet{}))
	require.True(t, json.Valid([]byte(msg)), msg)
	var got struct {
		Service, Name, Resource, Type string
		Start, Duration               int64
		Error                         int32
		Meta                          map[string]string
		Metrics                       map[string]*float64
	}
	require.NoError(t, json.Unmarshal([]byte(msg), &got))
	assert.Equal(t, `s"q\`, got.Service)
	assert.Equal(t, "n\x01\t\r\n", got.Name)
	assert.Equal(t, "bad \ufffd utf8 \u2028 \u2029 é 日本", got.Resource)
	assert.Equal(t, "v\x1f", got.Meta["k<>&"])
	assert.Nil(t, got.Metrics["nan"])
	assert.Nil(t, got.Metrics["inf"])
	assert.InDelta(t, 1e-9, *got.Metrics["tiny"], 0)
	assert.InDelta(t, 1e22, *got.Metrics["huge"], 0)
	assert.Contains(t, msg, `"tiny":1e-9`)
	assert.Contains(t, msg, `"int":42`)
	assert.Equal(t, int64(-5), got.Start)
	assert.Equal(t, int32(1), got.Error)
}

func TestAppendFloatIntegralFastPath(t *testing.T) {
	values := []float64{1, -1, 2, 4242, -4242, 1e15, 1e15 + 1, 1<<53 - 1, -(1<<53 - 1), 1 << 53, 1e21, 123456789012345, 0, math.Copysign(0, -1), 0.5, 1e-7}
	for i := range 2000 {
		v := float64(i*i*i) * 7919
		values = append(values, v, -v, v+0.25)
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendFloat(nil, v)), "%v", v)
	}
}

func TestNewRejectsBadRegexp(t *testing.T) {
	_, err := New(Options{CustomerTags: []string{"ok", "reg:[", "reg:a"}})
	require.ErrorContains(t, err, "customer_tags[1]")
}
