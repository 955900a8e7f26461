package translator

import (
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/stretchr/testify/require"

	"github.com/tracekit/tracekit/libs/spanmodel"
)

// TestToTracesTagLayouts: spans with different tag layouts in one batch (nil tags, keys
// moving between positions, ignored keys) convert as each alone.
func TestToTracesTagLayouts(t *testing.T) {
	ignore := spanmodel.TagMatcher{regexp.MustCompile(`^drop`)}
	spans := []*jaeger.Span{
		{SpanId: 1, Tags: []*jaeger.Tag{nil, strTag("a.b", "1"), strTag("drop.me", "x")}},
		{SpanId: 2, Tags: []*jaeger.Tag{strTag("drop.me", "y"), strTag("a.b", "2"), strTag("c", "3"), nil}},
		{SpanId: 3, Tags: []*jaeger.Tag{strTag("a.b", "4"), strTag("a.b", "5")}},
		{SpanId: 4},
	}
	want := []map[string]string{{"a_b": "1"}, {"a_b": "2", "c": "3"}, {"a_b": "5"}, {}}
	traces := ToTraces(&jaeger.Batch{Process: &jaeger.Process{ServiceName: "s"}, Spans: spans}, Options{IgnoreTags: ignore, DelMessage: true})
	require.Len(t, traces, 1)
	for i, s := range traces[0].Spans {
		require.Equal(t, want[i], s.Tags, "span %d", i+1)
		one := ToTraces(&jaeger.Batch{Process: &jaeger.Process{ServiceName: "s"}, Spans: spans[i : i+1]}, Options{IgnoreTags: ignore, DelMessage: true})
		require.Equal(t, one[0].Spans[0].Tags, s.Tags)
	}
}

// TestToTracesSpanTypes: span types over batches below and above the size whose ids
// ToTraces keeps on the stack (64 spans), with nil spans, references instead of parent
// ids, duplicate ids and parents outside the batch, are those AssignSpanTypes gives over
// the id strings.
func TestToTracesSpanTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 10, 63, 64, 65, 130, 400} {
		for range 10 {
			var spans []*jaeger.Span
			for i := range n {
				if i%17 == 5 {
					spans = append(spans, nil)
				}
				s := &jaeger.Span{TraceIdLow: int64(r.IntN(3)), SpanId: int64(r.IntN(n + 2)), ParentSpanId: int64(r.IntN(n + 4))}
				if r.IntN(4) == 0 {
					s.ParentSpanId = 0
					s.References = []*jaeger.SpanRef{{RefType: jaeger.SpanRefType_CHILD_OF, TraceIdLow: s.TraceIdLow, SpanId: int64(r.IntN(n + 2))}}
				}
				spans = append(spans, s)
			}
			traces := ToTraces(&jaeger.Batch{Process: &jaeger.Process{ServiceName: "s"}, Spans: spans}, Options{})
			got := 0
			for _, tr := range traces {
				got += len(tr.Spans)
			}
			require.Equal(t, n, got)
			checkSpanTypes(t, traces)
		}
	}
}
