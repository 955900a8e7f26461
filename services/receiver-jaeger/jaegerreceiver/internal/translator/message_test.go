package translator

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/stretchr/testify/assert"

	"github.com/tracekit/tracekit/libs/spanmodel"
)

// jsonSpan and jsonMessage are how the message was written before appendMessage.
type jsonSpan struct {
	*jaeger.Span
	TraceIDLow   uint64 `json:"traceIdLow"`
	TraceIDHigh  uint64 `json:"traceIdHigh"`
	SpanID       uint64 `json:"spanId"`
	ParentSpanID uint64 `json:"parentSpanId"`
}

func jsonMessage(s *jaeger.Span) string {
	b, err := json.Marshal(jsonSpan{
		Span: s, TraceIDLow: uint64(s.TraceIdLow), TraceIDHigh: uint64(s.TraceIdHigh),
		SpanID: uint64(s.SpanId), ParentSpanID: uint64(s.ParentSpanId),
	})
	if err != nil {
		return ""
	}
	return string(b)
}

func TestAppendMessageMatchesEncodingJSON(t *testing.T) {
	str := func(s string) *string { return &s }
	full := &jaeger.Span{
		TraceIdLow: -1, TraceIdHigh: math.MinInt64, SpanId: 7, ParentSpanId: -7, OperationName: "GET <a&b>\u2028\xff",
		References: []*jaeger.SpanRef{{RefType: jaeger.SpanRefType_CHILD_OF, TraceIdLow: -1, SpanId: 3}, nil, {RefType: 9}},
		Flags:      -2, StartTime: 1700000000000000, Duration: -5,
		Tags: []*jaeger.Tag{
			{Key: "s", VType: jaeger.TagType_STRING, VStr: str("v\n\"")}, {Key: "empty", VStr: str("")}, nil,
			{Key: "d", VType: jaeger.TagType_DOUBLE, VDouble: ptr(1e-9)}, {Key: "d2", VType: jaeger.TagType_DOUBLE, VDouble: ptr(99.5)},
			{Key: "b", VType: jaeger.TagType_BOOL, VBool: ptr(false)}, {Key: "l", VType: jaeger.TagType_LONG, VLong: ptr(int64(-3))},
			{Key: "bin", VType: jaeger.TagType_BINARY, VBinary: []byte{0, 1, 0xff}}, {Key: "bad type", VType: 42},
		},
		Logs: []*jaeger.Log{{Timestamp: 5, Fields: []*jaeger.Tag{{Key: "event", VStr: str("x")}}}, {Timestamp: 6}, nil, {Fields: []*jaeger.Tag{}}},
	}
	cases := map[string]*jaeger.Span{
		"full":         full,
		"zero":         {},
		"empty lists":  {References: []*jaeger.SpanRef{}, Tags: []*jaeger.Tag{}, Logs: []*jaeger.Log{}},
		"NaN":          {Tags: []*jaeger.Tag{{Key: "d", VDouble: ptr(math.NaN())}}},
		"Inf in log":   {Logs: []*jaeger.Log{{Fields: []*jaeger.Tag{{Key: "d", VDouble: ptr(math.Inf(-1))}}}}},
		"empty binary": {Tags: []*jaeger.Tag{{Key: "bin", VType: jaeger.TagType_BINARY, VBinary: []byte{}}}},
		"bench first":  benchBatch().Spans[0],
		"bench last":   benchBatch().Spans[benchSpans-1],
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			got := ""
			if b, ok := appendMessage(nil, s, nil); ok {
				got = string(b)
			}
			assert.Equal(t, jsonMessage(s), got)
		})
	}
	t.Run("memo", func(t *testing.T) {
		// One memo across all cases, twice: positions change key, type and number.
		var memo memoRun
		for range 2 {
			for name, s := range cases {
				got, values := memo.message(s)
				assert.Equal(t, jsonMessage(s), got, name)
				assert.Equal(t, tagValues(s), values, name)
			}
		}
	})
}

// memoRun drives the tag memo as ToTraces does.
type memoRun struct {
	keys spanmodel.TagKeys
	memo []keyMemo
}

// message is s's message with the memo, and its tags' values read through it.
func (r *memoRun) message(s *jaeger.Span) (string, []string) {
	if len(r.memo) < len(s.Tags) {
		r.memo = append(r.memo, make([]keyMemo, len(s.Tags)-len(r.memo))...)
	}
	var values []string
	for j, t := range s.Tags {
		if t == nil {
			continue
		}
		m := &r.memo[j]
		if !m.set || m.raw != t.Key {
			m.reset(t.Key, &r.keys, nil)
		}
		values = append(values, m.value(t))
	}
	got := ""
	if b, ok := appendMessage(nil, s, r.memo); ok {
		got = string(b)
	}
	return got, values
}

// tagValues are s's tag values without the memo.
func tagValues(s *jaeger.Span) []string {
	var values []string
	for _, t := range s.Tags {
		if t != nil {
			values = append(values, spanmodel.ValidString(tagValue(t)))
		}
	}
	return values
}

func FuzzAppendMessageMatchesEncodingJSON(f *testing.F) {
	for _, name := range []string{"shop.batch.thrift", "shop_options.batch.thrift"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		batch, err := DecodeBatch(data)
		if err != nil {
			return
		}
		var memo memoRun
		for pass := range 3 {
			for _, s := range batch.Spans {
				if s == nil {
					continue
				}
				got := ""
				if pass == 0 {
					if b, ok := appendMessage(nil, s, nil); ok {
						got = string(b)
					}
				} else {
					var values []string
					got, values = memo.message(s)
					if want := tagValues(s); !slices.Equal(values, want) {
						t.Fatalf("memo values %q, want %q", values, want)
					}
				}
				if want := jsonMessage(s); got != want {
					t.Fatalf("message (pass %d)\n%s\nencoding/json\n%s", pass, got, want)
				}
			}
		}
	})
}
