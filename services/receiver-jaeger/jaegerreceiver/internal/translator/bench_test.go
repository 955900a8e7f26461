package translator

import (
	"fmt"
	"testing"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
)

const benchSpans = 50

// benchBatch is one batch of benchSpans spans with 10 tags each (mixed types).
func benchBatch() *jaeger.Batch {
	b := &jaeger.Batch{Process: &jaeger.Process{ServiceName: "bench", Tags: []*jaeger.Tag{strTag("version", "1.0"), strTag("hostname", "h")}}}
	for i := range benchSpans {
		s := &jaeger.Span{TraceIdLow: 9, SpanId: int64(i + 1), OperationName: "GET /api/items", StartTime: 1700000000000000, Duration: 1000}
		if i > 0 {
			s.ParentSpanId = 1
		}
		for j := range 8 {
			s.Tags = append(s.Tags, strTag(fmt.Sprintf("tag.key%d", j), fmt.Sprintf("value-%d-%d", i, j)))
		}
		s.Tags = append(s.Tags,
			&jaeger.Tag{Key: "http.status_code", VType: jaeger.TagType_LONG, VLong: ptr(int64(200))},
			&jaeger.Tag{Key: "sampler.param", VType: jaeger.TagType_BOOL, VBool: ptr(true)})
		b.Spans = append(b.Spans, s)
	}
	return b
}

func BenchmarkDecodeConvert(b *testing.B) {
	batch, err := writeBatch(benchBatch())
	if err != nil {
		b.Fatal(err)
	}
	compact, err := writeAgent(benchBatch(), true)
	if err != nil {
		b.Fatal(err)
	}
	binary, err := writeAgent(benchBatch(), false)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		payload []byte
		decode  func([]byte) (*jaeger.Batch, error)
	}{
		{"http_binary_batch", batch, DecodeBatch},
		{"udp_compact", compact, agentDecoder(true)},
		{"udp_binary", binary, agentDecoder(false)},
	} {
		for _, opts := range []struct {
			suffix string
			o      Options
		}{{"", Options{}}, {"/del_message", Options{DelMessage: true}}} {
			b.Run(c.name+opts.suffix, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.payload)))
				for b.Loop() {
					jb, err := c.decode(c.payload)
					if err != nil {
						b.Fatal(err)
					}
					if len(ToTraces(jb, opts.o)) == 0 {
						b.Fatal("no traces")
					}
				}
				b.ReportMetric(float64(benchSpans*b.N)/b.Elapsed().Seconds(), "spans/s")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(benchSpans*b.N)/1000, "µs/span")
			})
		}
	}
}
