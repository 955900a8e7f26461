package spanmodel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/proto"
)

func TestFormatSpanIDByBase(t *testing.T) {
	tests := []struct {
		id   uint64
		base int
		want string
	}{
		{0, 16, "0"},
		{0, 10, "0"},
		{255, 16, "00000000000000ff"},
		{255, 10, "255"},
		{0xffffffffffffffff, 16, "ffffffffffffffff"},
		{0x1234567890abcdef, 16, "1234567890abcdef"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, FormatSpanIDByBase(tt.id, tt.base), "%d base %d", tt.id, tt.base)
	}
}

func TestHexID(t *testing.T) {
	assert.Equal(t, "0", HexID(nil))
	assert.Equal(t, "0", HexID(make([]byte, 8)))
	assert.Equal(t, "00000000000000ff", HexID([]byte{0, 0, 0, 0, 0, 0, 0, 0xff}))
}

func TestUnifyToUint64ID(t *testing.T) {
	tests := []struct {
		id   string
		want uint64
	}{
		{"", 0},
		{"12345", 12345},
		{"18446744073709551615", 18446744073709551615},
		{"00000000000000ff", 255},
		{"ff", 255},
		// Upper-case hex is not hex to DataKit: ASCII bytes of the last 8 characters.
		{"FF", 0x4646},
		// 32 hex digits overflow: the last 8 characters as ASCII.
		{"4bf92f3577b34da6a3ce929d0e0e4736", 0x3065306534373336},
		// Decimal that overflows uint64 falls back to ASCII too.
		{"99999999999999999999", 0x3939393939393939},
		{"agent^123^1", 0x5e3132335e31 | 0x6e74<<48},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, UnifyToUint64ID(tt.id), tt.id)
	}
}

func TestHTTPStatusClass(t *testing.T) {
	for code, want := range map[string]string{"200": "2xx", "404": "4xx", "503": "5xx", "": "", "600": "", "x": ""} {
		assert.Equal(t, want, HTTPStatusClass(code), code)
	}
}

func TestSourceTypeOf(t *testing.T) {
	for typ, want := range map[string]string{"web": "web", "HTTP": "web", "sql": "db", "redis": "cache", "kafka": "message_queue", "spring": "framework", "consul": "app", "": "custom", "weird": "custom"} {
		assert.Equal(t, want, SourceTypeOf(typ), typ)
	}
}

func TestAssignSpanTypes(t *testing.T) {
	mk := func(id, parent, svc string) *spanv1.DatakitSpan {
		return &spanv1.DatakitSpan{SpanId: id, ParentId: parent, Service: svc}
	}
	tests := []struct {
		name        string
		spans       []*spanv1.DatakitSpan
		multiServer bool
		want        []string
	}{
		{"root", []*spanv1.DatakitSpan{mk("1", "0", "a")}, false, []string{"entry"}},
		{"empty parent", []*spanv1.DatakitSpan{mk("1", "", "a")}, false, []string{"entry"}},
		{"parent missing", []*spanv1.DatakitSpan{mk("2", "9", "a")}, false, []string{"entry"}},
		{"chain", []*spanv1.DatakitSpan{mk("1", "0", "a"), mk("2", "1", "a"), mk("3", "2", "a")}, false, []string{"entry", "local", "exit"}},
		{"other service single", []*spanv1.DatakitSpan{mk("1", "0", "a"), mk("2", "1", "b")}, false, []string{"entry", "exit"}},
		{"other service multi", []*spanv1.DatakitSpan{mk("1", "0", "a"), mk("2", "1", "b")}, true, []string{"entry", "entry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			AssignSpanTypes(tt.spans, tt.multiServer)
			var got []string
			for _, s := range tt.spans {
				got = append(got, s.SpanType)
			}
			assert.Equal(t, tt.want, got)
		})
	}
	preset := []*spanv1.DatakitSpan{{SpanId: "1", SpanType: "exit"}}
	AssignSpanTypes(preset, false)
	assert.Equal(t, "exit", preset[0].SpanType, "a span_type set by the translator wins")
}

func TestGroupByTrace(t *testing.T) {
	spans := []*spanv1.DatakitSpan{{TraceId: "a", SpanId: "1"}, {TraceId: "b", SpanId: "2"}, {TraceId: "a", SpanId: "3"}}
	got := GroupByTrace(spans)
	require.Len(t, got, 2)
	assert.Len(t, got[0].Spans, 2)
	assert.Equal(t, "3", got[0].Spans[1].SpanId)
	assert.Equal(t, "b", got[1].Spans[0].TraceId)
	assert.Nil(t, GroupByTrace(nil))

	got[0].Spans = append(got[0].Spans, &spanv1.DatakitSpan{TraceId: "a", SpanId: "4"})
	assert.Equal(t, "2", got[1].Spans[0].SpanId, "appending to one trace leaves the next alone")
}

// groupByTraceRef is the obvious map-of-slices grouping GroupByTrace must agree with.
func groupByTraceRef(spans []*spanv1.DatakitSpan) [][]string {
	idx := map[string]int{}
	var out [][]string
	for _, s := range spans {
		i, ok := idx[s.TraceId]
		if !ok {
			i = len(out)
			idx[s.TraceId] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], s.SpanId)
	}
	return out
}

func TestGroupByTraceMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		n := r.IntN(40)
		spans := make([]*spanv1.DatakitSpan, n)
		for k := range spans {
			// Few ids, so runs, interleavings and returns to an earlier trace all occur.
			spans[k] = &spanv1.DatakitSpan{TraceId: fmt.Sprint(r.IntN(4)), SpanId: fmt.Sprint(k)}
			if k > 0 && r.IntN(2) == 0 {
				spans[k].TraceId = spans[k-1].TraceId
			}
		}
		var got [][]string
		for _, tr := range GroupByTrace(spans) {
			var ids []string
			for _, s := range tr.Spans {
				ids = append(ids, s.SpanId)
			}
			got = append(got, ids)
		}
		require.Equal(t, groupByTraceRef(spans), got)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	b := &spanv1.TraceBatch{Source: "opentelemetry", Input: "opentelemetry", ReceivedUnixNano: 42,
		Traces: []*spanv1.DatakitTrace{{Spans: []*spanv1.DatakitSpan{{TraceId: "t", SpanId: "s", Tags: map[string]string{"k": "v"},
			Fields: map[string]*spanv1.FieldValue{"n": {Kind: &spanv1.FieldValue_I{I: 3}}}}}}}}
	data, err := Marshal(b)
	require.NoError(t, err)
	got, err := Unmarshal(data)
	require.NoError(t, err)
	assert.True(t, proto.Equal(b, got))
	_, err = Unmarshal([]byte{0xff, 0xff})
	require.ErrorContains(t, err, "unmarshal trace batch")
}

func TestSplit(t *testing.T) {
	b := &spanv1.TraceBatch{Source: "x", Input: "x"}
	for i := 0; i < 50; i++ {
		tr := &spanv1.DatakitTrace{}
		for j := 0; j < 10; j++ {
			tr.Spans = append(tr.Spans, &spanv1.DatakitSpan{TraceId: fmt.Sprint(i), SpanId: fmt.Sprint(j), Resource: "GET /some/resource/path"})
		}
		b.Traces = append(b.Traces, tr)
	}
	// One huge trace that must be spread over several messages.
	huge := &spanv1.DatakitTrace{}
	for j := 0; j < 200; j++ {
		huge.Spans = append(huge.Spans, &spanv1.DatakitSpan{TraceId: "huge", SpanId: fmt.Sprint(j), Resource: "GET /some/resource/path"})
	}
	b.Traces = append(b.Traces, huge)
	total := SpanCount(b)
	const max = 2000
	parts := Split(b, max)
	require.Greater(t, len(parts), 2)
	n := 0
	for _, p := range parts {
		assert.LessOrEqual(t, Size(p), max)
		assert.Equal(t, "x", p.Source)
		n += SpanCount(p)
	}
	assert.Equal(t, total, n, "no span lost or duplicated by splitting")
	assert.Len(t, Split(b, 1<<30), 1)
}
