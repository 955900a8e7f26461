package filterstage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/bus/bustest"
)

// BenchmarkStageHop is the whole filter hop per span: fetch from TRACEKIT_SPANS, decode,
// chain, publish to TRACEKIT_KEPT (waiting for the JetStream ack), ack. The batches are
// stored before the timer starts, so only the hop is measured.
func BenchmarkStageHop(b *testing.B) {
	const traces, spansPer = 10, 10
	cfg := bustest.Config(b)
	bs := bustest.Open(b, cfg)
	ids := make([]string, traces)
	for i := 0; i < b.N; i++ {
		for j := range ids {
			ids[j] = fmt.Sprintf("%016x", uint64(i*traces+j+1)*0x9e3779b97f4a7c15)
		}
		if err := bs.PublishBatch(context.Background(), bus.SpansPrefix, mkBatch("ddtrace", ids, spansPer), ""); err != nil {
			b.Fatal(err)
		}
	}
	cf := newConfigFile(b, "[[inputs.ddtrace]]\n  omit_err_status = [\"404\"]\n  [inputs.ddtrace.close_resource]\n    \"*\" = [\"^GET /healthz$\"]\n  [inputs.ddtrace.sampler]\n    sampling_rate = 1.0\n")
	b.ReportAllocs()
	b.ResetTimer()
	inst := startStage(b, bs, cf)
	ctx := context.Background()
	for {
		c, err := bs.JetStream().Consumer(ctx, bus.StreamSpans, Durable)
		if err == nil {
			if info, err := c.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= uint64(b.N) {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	_ = inst.st.Shutdown(ctx)
	n := b.N * traces * spansPer
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/span")
}
