package aggregator

import (
	"fmt"
	"testing"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
)

// BenchmarkPackTrace measures grouping 100 traces of 10 spans by trace_id and packing
// them into DataPackets (marshal, predicates, zstd), per span.
func BenchmarkPackTrace(b *testing.B) {
	var pts []*pointpb.PBPoint
	for tr := range 100 {
		for s := range 10 {
			parent := "0"
			if s > 0 {
				parent = "1"
			}
			pts = append(pts, span(fmt.Sprintf("%032x", tr), fmt.Sprint(s+1), parent, "ok", int64(1_000_000+s), int64(100*s)))
		}
	}
	o := packOptions{Token: "tkn", Source: "ddtrace", Version: 1, MaxRawBodySize: 1 << 20}
	b.ReportAllocs()
	for b.Loop() {
		groups, _ := groupTraces(pts)
		for _, g := range groups {
			if _, err := pack(g, DataTracing, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(pts)*b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkMetricSelect measures the trace_root_span_count rule (condition, fork, hashes)
// per span.
func BenchmarkMetricSelect(b *testing.B) {
	c, err := ParseMetricTOML([]byte(rootSpanRule))
	if err != nil {
		b.Fatal(err)
	}
	var pts []*pointpb.PBPoint
	for i := range 1000 {
		parent := "1"
		if i%10 == 0 {
			parent = "0"
		}
		pts = append(pts, span("t", fmt.Sprint(i), parent, "ok", 10, 5))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = pickMetrics(c, "tracing", pts)
	}
	b.ReportMetric(float64(len(pts)*b.N)/b.Elapsed().Seconds(), "spans/s")
}
