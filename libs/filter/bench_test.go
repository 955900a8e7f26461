package filter

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// BenchmarkChain is the chain's cost per span on a kept 10-span trace going through every
// filter (the rare key already seen, so the sampler decides), metrics included.
func BenchmarkChain(b *testing.B) {
	c := build(b, NewBuilder(Options{Registerer: prometheus.NewRegistry()}), `
[[inputs.ddtrace]]
  keep_rare_resource = true
  omit_err_status = ["404", "500"]
  trace_max_spans = 100
  [inputs.ddtrace.close_resource]
    "*" = ["^GET /healthz$", "^GET /metrics$"]
    "login" = ["^POST /auth"]
  [inputs.ddtrace.sampler]
    sampling_rate = 1.0
`)
	const nSpans = 10
	var spans []*spanv1.DatakitSpan
	for i := 0; i < nSpans; i++ {
		opts := []sp{resource(fmt.Sprintf("GET /api/v1/items/%d", i)), httpCode("200")}
		if i == 0 {
			opts = append(opts, entry())
		}
		spans = append(spans, span(opts...))
	}
	batch := &spanv1.TraceBatch{Source: "ddtrace", Input: "ddtrace", Traces: []*spanv1.DatakitTrace{withID("4bf92f3577b34da6a3ce929d0e0e4736", trace(spans...))}}
	ctx := context.Background()
	if kept, _ := c.Apply(ctx, batch); kept == nil {
		b.Fatal("the benchmark trace must be kept")
	}
	b.ReportAllocs()
	for b.Loop() {
		kept, commit := c.Apply(ctx, batch)
		commit()
		if kept == nil {
			b.Fatal("dropped")
		}
	}
	b.ReportMetric(float64(nSpans*b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(nSpans*b.N), "ns/span")
}
