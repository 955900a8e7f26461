package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/spanmodel"
)

// TestRollingRestart restarts every service of the split topology once, in turn, with
// SIGTERM while three real SDKs send: each must drain and exit cleanly, and every span the
// SDKs got acknowledged must reach Dataway. It then checks the sender's drain on its own:
// with Dataway answering slowly, a SIGTERM'd sender finishes the deliveries it holds
// before it exits, and whatever it did not deliver is still in the stream.
func TestRollingRestart(t *testing.T) {
	sim := harness.StartSim(t)
	grpcAddr := harness.FreeAddr(t)
	stack := harness.StartSplit(t, sim, scaleInputs(grpcAddr), []string{"receiver-otlp", "receiver-zipkin"})
	load := startSpanLoad(t, loadTargets{GRPC: grpcAddr, HTTP: stack.Admin["receiver-otlp"], Zipkin: stack.Admin["receiver-zipkin"]}, 10*time.Millisecond)
	load.WaitTraces(t, 300)

	for _, name := range []string{"receiver-otlp", "receiver-zipkin", "filter", "sender"} {
		p := stack.Proc(t, name)
		start := time.Now()
		p.Stop(t)
		exited, err := p.Exited()
		require.True(t, exited)
		require.NoError(t, err, "%s drains and exits with status 0 on SIGTERM", name)
		t.Logf("%s stopped in %s", name, time.Since(start).Round(time.Millisecond))
		stack.RestartProc(t, name)
		load.WaitTraces(t, 300)
	}

	js := openJetStream(t, stack.BusURL)
	ctx := context.Background()
	consumer := func(stream, durable string) *jetstream.ConsumerInfo {
		c, err := js.Consumer(ctx, stream, durable)
		require.NoError(t, err)
		info, err := c.Info(ctx)
		require.NoError(t, err)
		return info
	}
	keptMsgs := func() (n, first, last uint64) {
		s, err := js.Stream(ctx, bus.StreamKept)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		return info.State.Msgs, info.State.FirstSeq, info.State.LastSeq
	}

	// Slow Dataway: from now on the sender holds every batch for seconds.
	sim.SetFault(t, harness.Fault{PathPrefix: "/v1/write/tracing", Latency: "1500ms"})
	load.WaitTraces(t, 100)
	acked := load.Stop(t)
	require.Greater(t, len(acked), 3000, "enough load to mean something")
	// Wait until the rest is in the sender's hands: the filter has processed everything
	// and the sender fetched every kept message but has not answered some yet.
	require.Eventually(t, func() bool {
		f := consumer(bus.StreamSpans, "filter")
		s := consumer(bus.StreamKept, "sender")
		return f.NumPending == 0 && f.NumAckPending == 0 && s.NumPending == 0 && s.NumAckPending > 0
	}, 30*time.Second, 20*time.Millisecond, "the sender holds undelivered messages")
	held, _, _ := keptMsgs()
	sender := stack.Proc(t, "sender")
	start := time.Now()
	sender.Stop(t)
	exited, err := sender.Exited()
	require.True(t, exited)
	require.NoError(t, err, "the sender drains and exits with status 0 on SIGTERM")
	left, first, last := keptMsgs()
	t.Logf("sender stopped in %s holding %d messages; %d still in the stream", time.Since(start).Round(time.Millisecond), held, left)
	assert.Less(t, left, held, "the SIGTERM'd sender delivered what it held before exiting")

	// Nothing lost at that moment: each acknowledged span is in Dataway or still queued.
	queued := map[string]bool{}
	s, err := js.Stream(ctx, bus.StreamKept)
	require.NoError(t, err)
	for seq := first; left > 0 && seq <= last; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		require.NoError(t, err)
		b, err := spanmodel.Unmarshal(m.Data)
		require.NoError(t, err)
		for _, tr := range b.Traces {
			for _, sp := range tr.Spans {
				queued[sp.TraceId+"/"+sp.SpanId] = true
			}
		}
	}
	delivered := spanKeys(sim.Points(t, "tracing"))
	var lost int
	for k := range acked {
		if delivered[k] == 0 && !queued[k] {
			lost++
		}
	}
	require.Zero(t, lost, "acknowledged spans neither delivered nor queued after the sender's drain")

	sim.ClearFaults(t)
	stack.RestartProc(t, "sender")
	got := waitDelivered(t, sim, acked, 45*time.Second)
	_, evicted := simStored(t, sim)
	require.Zero(t, evicted, "dataway-sim kept every point")
	dupSpans, dupCopies := duplicates(got)
	filterRedelivered := metricSum(t, stack.Admin["filter"], "tracekit_bus_redelivered_messages_total", `stream="TRACEKIT_SPANS"`)
	t.Logf("%d spans acknowledged, %d distinct delivered; %d delivered twice or more (%d extra copies); redelivered since its restart: %v to the filter, %v to the sender",
		len(acked), len(got), dupSpans, dupCopies, filterRedelivered,
		metricSum(t, stack.Admin["sender"], "tracekit_bus_redelivered_messages_total", `stream="TRACEKIT_KEPT"`))
	assert.Zero(t, filterRedelivered, "the SIGTERM'd filter finished its batch in hand instead of handing it back")
}

// openJetStream connects to the stack's nats-server for inspection.
func openJetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	require.NotEmpty(t, url, "the split topology's nats-server")
	bc := config.NewDefaultConfig().Bus
	bc.URL = url
	b, err := bus.Open(context.Background(), bc, bus.Options{Name: "e2e-inspect"})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b.JetStream()
}
