package translator

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

// benchPayload is nTraces traces of spansPerTrace spans, each span with 10 meta tags
// (half promoted, half left for the message) and 3 metrics: what dd-trace-go sends for a
// web request with database calls.
func benchPayload(nTraces, spansPerTrace int) ddwire.Traces {
	ts := make(ddwire.Traces, 0, nTraces)
	for i := range nTraces {
		tr := make(ddwire.Trace, 0, spansPerTrace)
		for j := range spansPerTrace {
			parent := ddwire.Uint64(0)
			if j > 0 {
				parent = ddwire.Uint64(i*1000 + j)
			}
			tr = append(tr, &ddwire.Span{
				Service: "shop", Name: "http.request", Resource: ddwire.Str("GET /api/v1/cart/" + strconv.Itoa(j)), Type: "web",
				TraceID: ddwire.Uint64(1<<62 + i), SpanID: ddwire.Uint64(i*1000 + j + 1), ParentID: parent,
				Start: ddwire.Int64(t0 + int64(j)*1000), Duration: 12345,
				// Not in key order, as a tracer writes its Go map: the decoder sorts.
				Meta: unsortedMeta(
					"http.url", "http://shop.local/api/v1/cart", "http.method", "GET", "http.status_code", "200",
					"span.kind", "server", "env", "prod", "component", "net/http", "language", "go",
					"_dd.p.dm", "-1", "network.client.ip", "10.1.2.3", "http.useragent", "Mozilla/5.0",
				),
				Metrics: ddwire.Metrics{{Key: "_sampling_priority_v1", Value: 1}, {Key: "_dd.top_level", Value: 1}, {Key: "process_id", Value: 4242}},
			})
		}
		ts = append(ts, tr)
	}
	return ts
}

// unsortedMeta is key, value, ... in this order (MarshalMsg writes entries as they are).
func unsortedMeta(kv ...string) ddwire.Meta {
	m := make(ddwire.Meta, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m = append(m, ddwire.KV[ddwire.Str]{Key: kv[i], Value: ddwire.Str(kv[i+1])})
	}
	return m
}

func BenchmarkDecodeConvertV04(b *testing.B) {
	const nTraces, perTrace = 10, 10
	body, err := benchPayload(nTraces, perTrace).MarshalMsg(nil)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := New(Options{Trace128BitID: true, CustomerTags: []string{"network.client.ip"}})
	if err != nil {
		b.Fatal(err)
	}
	nSpans := nTraces * perTrace
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		ts, err := ddwire.DecodeTraces(body, ddwire.MsgPack)
		if err != nil {
			b.Fatal(err)
		}
		if got := tr.Convert(ts, "127.0.0.1"); len(got) != nTraces {
			b.Fatalf("got %d traces", len(got))
		}
	}
	b.ReportMetric(float64(nSpans*b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(nSpans*b.N), "ns/span")
	// CPU time (GC included) per span: unlike wall time it holds on a loaded machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(nSpans*b.N), "cpu-ns/span")
}

func BenchmarkDecodeConvertV05(b *testing.B) {
	body := v05Dict()
	tr, err := New(Options{Trace128BitID: true})
	if err != nil {
		b.Fatal(err)
	}
	const nSpans = 2
	b.ReportAllocs()
	for b.Loop() {
		ts, err := ddwire.DecodeV05(body)
		if err != nil {
			b.Fatal(err)
		}
		tr.Convert(ts, "127.0.0.1")
	}
	b.ReportMetric(float64(nSpans*b.N)/b.Elapsed().Seconds(), "spans/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
