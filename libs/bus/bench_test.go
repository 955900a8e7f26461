package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/bus/bustest"
	"github.com/tracekit/tracekit/libs/config"
)

// BenchmarkPublishBatch is a receiver's hop onto the bus: one TraceBatch per request, stored
// by JetStream (file store, ack awaited) or handed to core NATS. Requests carry 10 traces of
// 5 spans, roughly what a busy tracer flushes.
func BenchmarkPublishBatch(b *testing.B) {
	for _, mode := range []string{config.BusModeJetStream, config.BusModeCore} {
		b.Run("mode="+mode, func(b *testing.B) {
			cfg := bustest.Config(b)
			cfg.Mode = mode
			cfg.MaxBytes = 8 << 30
			bb := bustest.Open(b, cfg)
			batch := batch("opentelemetry", 10, 5)
			spans := 50
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := bb.PublishBatch(ctx, bus.SpansPrefix, batch, ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(spans*b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// BenchmarkPublishConsume is one stage's round trip: publish, fetch in batches, ack, as the
// filter and the sender consume. The figure is the sustained rate of the pair.
func BenchmarkPublishConsume(b *testing.B) {
	for _, spansPerMsg := range []int{10, 100} {
		b.Run(fmt.Sprintf("spans_per_msg=%d", spansPerMsg), func(b *testing.B) {
			cfg := bustest.Config(b)
			cfg.MaxBytes = 8 << 30
			bb := bustest.Open(b, cfg)
			msg := batch("ddtrace", spansPerMsg/5, 5)
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan int, 1024)
			done := make(chan struct{})
			defer func() { cancel(); <-done }()
			go func() {
				defer close(done)
				spec := bus.ConsumerSpec{Stream: bus.StreamSpans, Subject: bus.SpansPrefix + ">", Durable: "bench", Batch: 256, MaxWait: 20 * time.Millisecond}
				_ = bb.Consume(ctx, spec, func(_ context.Context, msgs []*bus.Msg) {
					for _, m := range msgs {
						_ = m.Ack()
					}
					select {
					case got <- len(msgs):
					case <-ctx.Done():
					}
				})
			}()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := bb.PublishBatch(ctx, bus.SpansPrefix, msg, ""); err != nil {
					b.Fatal(err)
				}
			}
			for n := 0; n < b.N; {
				n += <-got
			}
			b.StopTimer()
			b.ReportMetric(float64(spansPerMsg*b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}
