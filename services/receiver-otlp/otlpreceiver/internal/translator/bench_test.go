package translator

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// benchTraces is n spans of one service, 10 attributes each (a typical HTTP server span),
// in traces of 10 spans.
func benchTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr("service.name", "checkout")
	res.PutStr("telemetry.sdk.language", "go")
	res.PutStr("host.name", "web-1")
	sl := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		sp := sl.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{byte(i / 10), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
		sp.SetSpanID(pcommon.SpanID{byte(i), byte(i >> 8), 1, 2, 3, 4, 5, 6})
		if i%10 != 0 {
			sp.SetParentSpanID(pcommon.SpanID{byte(i - 1), byte((i - 1) >> 8), 1, 2, 3, 4, 5, 6})
		}
		sp.SetName("GET /api/v1/cart")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(1_700_000_000_000_000_000)
		sp.SetEndTimestamp(1_700_000_000_002_000_000)
		a := sp.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("url.path", "/api/v1/cart")
		a.PutStr("url.scheme", "https")
		a.PutStr("http.route", "/api/v1/cart")
		a.PutStr("server.address", "shop.example.com")
		a.PutInt("server.port", 443)
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)")
		a.PutStr("user.id", fmt.Sprintf("user-%d", i))
		a.PutDouble("cart.value", 99.5)
	}
	return td
}

func BenchmarkTranslate(b *testing.B) {
	tr, err := New(defaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	m := Meta{RemoteIP: "10.0.0.1"}
	for _, n := range []int{1, 10, 100, 1000} {
		td := benchTraces(n)
		pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("spans=%d/decode+convert", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pb)))
			for b.Loop() {
				td, err := DecodeProtobuf(pb)
				if err != nil {
					b.Fatal(err)
				}
				_ = tr.ToTraceBatch(td, m)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "spans/s")
		})
		b.Run(fmt.Sprintf("spans=%d/convert", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tr.ToTraceBatch(td, m)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// BenchmarkTranslateVaried is BenchmarkTranslate's convert over spans that differ in their
// promoted values too (path, route, status code, peer port), as a busy service's do: the
// spans still clone their neighbour's maps, writing the values that differ.
func BenchmarkTranslateVaried(b *testing.B) {
	tr, err := New(defaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	const n = 100
	td := variedTraces(n)
	m := Meta{RemoteIP: "10.0.0.1"}
	b.Run(fmt.Sprintf("spans=%d/convert", n), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = tr.ToTraceBatch(td, m)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "spans/s")
	})
}

// variedTraces is benchTraces(n) with the promoted values of BenchmarkTranslateVaried.
func variedTraces(n int) ptrace.Traces {
	td := benchTraces(n)
	sl := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := range n {
		a := sl.At(i).Attributes()
		a.PutStr("url.path", fmt.Sprintf("/api/v1/cart/%d", i%7))
		a.PutStr("http.route", fmt.Sprintf("/api/v1/cart/%d", i%3))
		a.PutInt("http.response.status_code", int64(200+i%2*204))
		a.PutInt("server.port", int64(8000+i%5))
	}
	return td
}
