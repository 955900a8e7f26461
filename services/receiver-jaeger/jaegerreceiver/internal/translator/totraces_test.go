package translator

import (
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
