package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/filter"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// TestFilterScaleOut runs an external nats-server and two bin/filter processes sharing the
// durable consumer. The test publishes traces on tracekit.spans.jaeger and reads
// tracekit.kept.>: every trace is processed exactly once (no loss, no duplicates), both
// processes took a share, and what is kept is exactly what the sampler formula keeps,
// whichever process saw the trace.
func TestFilterScaleOut(t *testing.T) {
	_, url := harness.StartNATS(t)
	const rate = 0.4
	cfgPath := filepath.Join(t.TempDir(), "filter.toml")
	toml := fmt.Sprintf(`[bus]
url = %q
[log]
level = "info"
format = "text"
[[inputs.jaeger]]
  [inputs.jaeger.sampler]
    sampling_rate = %v
`, url, rate)
	require.NoError(t, os.WriteFile(cfgPath, []byte(toml), 0o600))
	var admins []string
	for i := 0; i < 2; i++ {
		addr := harness.FreeAddr(t)
		p := harness.StartProc(t, "filter", []string{"-config", cfgPath}, "TRACEKIT_HTTP_LISTEN="+addr)
		harness.WaitHTTP(t, p, "http://"+addr+"/readyz", 60*time.Second)
		admins = append(admins, addr)
	}

	bc := config.NewDefaultConfig().Bus
	bc.URL = url
	ctx := context.Background()
	b, err := bus.Open(ctx, bc, bus.Options{Name: "e2e-filter-scaleout"})
	require.NoError(t, err)
	t.Cleanup(b.Close)

	// Collect what the filters keep.
	var mu sync.Mutex
	seenSpans := map[string]int{}
	seenTraces := map[string]int{}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		spec := bus.ConsumerSpec{Stream: bus.StreamKept, Subject: bus.KeptPrefix + ">", Durable: "e2e-kept", MaxWait: 50 * time.Millisecond}
		_ = b.Consume(cctx, spec, func(_ context.Context, msgs []*bus.Msg) {
			for _, m := range msgs {
				tb, err := spanmodel.Unmarshal(m.Data)
				if err != nil {
					t.Errorf("kept message: %v", err)
					continue
				}
				mu.Lock()
				for _, tr := range tb.Traces {
					seenTraces[tr.Spans[0].TraceId]++
					for _, s := range tr.Spans {
						seenSpans[s.TraceId+"/"+s.SpanId]++
					}
				}
				mu.Unlock()
				_ = m.Ack()
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })

	const batches, perBatch, spansPer = 400, 10, 3
	want := map[string]bool{}
	threshold := uint64(rate * 10000)
	for i := 0; i < batches; i++ {
		batch := &spanv1.TraceBatch{Source: config.SourceJaeger, Input: config.SourceJaeger, ReceivedUnixNano: time.Now().UnixNano()}
		for j := 0; j < perBatch; j++ {
			// 128-bit hex ids as Jaeger and OpenTelemetry send them.
			id := fmt.Sprintf("%016x%016x", uint64(i+1)*0x9e3779b97f4a7c15, uint64(i*perBatch+j+1)*0xbf58476d1ce4e5b9)
			if filter.SampleID(id, threshold) {
				want[id] = true
			}
			tr := &spanv1.DatakitTrace{}
			for k := 0; k < spansPer; k++ {
				tr.Spans = append(tr.Spans, &spanv1.DatakitSpan{TraceId: id, SpanId: fmt.Sprintf("%016x", k+1), Service: "scale", Resource: "GET /x", Status: "ok", Source: config.SourceJaeger})
			}
			batch.Traces = append(batch.Traces, tr)
		}
		require.NoError(t, b.PublishBatch(ctx, bus.SpansPrefix, batch, ""))
	}
	require.NotEmpty(t, want)

	drained := func() bool {
		for stream, durable := range map[string]string{bus.StreamSpans: "filter", bus.StreamKept: "e2e-kept"} {
			c, err := b.JetStream().Consumer(ctx, stream, durable)
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
				return false
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return len(seenSpans) >= len(want)*spansPer
	}
	require.Eventually(t, drained, 90*time.Second, 50*time.Millisecond, "the filters consume everything")

	mu.Lock()
	defer mu.Unlock()
	for id, n := range seenSpans {
		require.Equal(t, 1, n, "span %s kept exactly once", id)
	}
	require.Len(t, seenTraces, len(want), "kept traces = those the sampler formula keeps")
	for id := range seenTraces {
		require.True(t, want[id], "trace %s kept although the sampler drops it", id)
	}

	var received, kept float64
	for i, addr := range admins {
		r := metricSum(t, addr, "tracekit_filter_traces_total", `verdict="received"`)
		k := metricSum(t, addr, "tracekit_filter_traces_total", `verdict="kept"`)
		assert.Positive(t, r, "filter %d took a share", i)
		received += r
		kept += k
		t.Logf("filter %d: %v traces received, %v kept", i, r, k)
	}
	assert.InDelta(t, batches*perBatch, received, 0, "every trace processed once across the two processes")
	assert.InDelta(t, len(want), kept, 0)
}

// metricSum adds the samples of a counter whose label set contains match, from /metrics.
func metricSum(t *testing.T, addr, name, match string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, match) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err)
		sum += v
	}
	require.NoError(t, sc.Err())
	return sum
}
