package condition

import "testing"

// BenchmarkEval measures one condition per point: a typical tail-sampling / aggregation
// selector over a DataKit span's keys.
func BenchmarkEval(b *testing.B) {
	for _, bc := range []struct{ name, cond string }{
		{"eq", `{ parent_id = "0" }`},
		{"and-or", `{ service = "checkout", status = "error" } ; { duration > 1000 }`},
		{"in-match", `{ http_status_code IN ["500", "503"], resource MATCH ["^GET /tmall"] }`},
	} {
		e := MustCompile(bc.cond)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = e.Eval(span)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
