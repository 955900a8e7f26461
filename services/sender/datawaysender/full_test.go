package datawaysender

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/aggregator"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/tools/dataway-sim/sim"
)

// TestFullStreamWhileDatawayDown: with Dataway down the kept stream fills up to
// bus.max_bytes; the stream (DiscardNew) then refuses new data instead of evicting
// accepted data, the publisher gets Exhausted (a receiver answers 429) and the refusal is
// counted in tracekit_bus_publish_errors_total{reason="full"}. Everything accepted is
// delivered once Dataway is back.
func TestFullStreamWhileDatawayDown(t *testing.T) {
	e := newEnv(t)
	e.cfg.Bus.MaxBytes = 32 << 10
	b, err := bus.Open(context.Background(), e.cfg.Bus, bus.Options{Name: t.Name(), Registerer: e.reg})
	require.NoError(t, err)
	e.bus = b
	t.Cleanup(b.Close)
	require.NoError(t, e.sim.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: 503}))
	sd := e.start(t, nil)
	defer shutdown(t, sd)

	accepted := 0
	var perr error
	for i := 0; i < 500 && perr == nil; i++ {
		perr = b.PublishBatch(context.Background(), bus.KeptPrefix, batch(fmt.Sprint("f", i), 2, 3), "")
		if perr == nil {
			accepted++
		}
	}
	require.Error(t, perr, "the stream fills up")
	assert.True(t, pipeline.IsExhausted(perr), "a full stream is back-pressure (429), not a drop: %v", perr)
	assert.Positive(t, accepted)
	assert.GreaterOrEqual(t, counter(t, e.reg, "tracekit_bus_publish_errors_total", map[string]string{"kind": "kept", "reason": "full"}), 1.0)

	e.sim.ClearFaults()
	require.Eventually(t, func() bool { return len(delivered(e.sim)) == accepted*6 }, 30*time.Second, 20*time.Millisecond,
		"every accepted span arrives once Dataway is back")
	for k, n := range delivered(e.sim) {
		assert.Equal(t, 1, n, "span %s delivered more than once", k)
	}
}

// TestAggregatorRouterKeepsTracesInStream wires the aggregator as Build does: with a
// [trace] section, spans go to /v1/tail_sampling, not /v1/write/tracing; while that fails
// the messages are naked and wait in JetStream, and arrive once it is back.
func TestAggregatorRouterKeepsTracesInStream(t *testing.T) {
	e := newEnv(t)
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tail-sampling.toml"), []byte("version = 1\n[trace]\n"), 0o600))
	e.cfg.Aggregator.LocalConfigDir = dir
	client, err := newClient(e.cfg.Dataway, e.reg, nil)
	require.NoError(t, err)
	agg, err := aggregator.New(aggregator.Options{Config: e.cfg.Aggregator, Dataway: e.cfg.Dataway, Client: client, Registry: e.reg})
	require.NoError(t, err)
	require.NoError(t, agg.Start(context.Background(), nil))
	defer func() { require.NoError(t, agg.Shutdown(context.Background())) }()
	require.NoError(t, e.sim.SetFault(sim.Fault{PathPrefix: "/v1/tail_sampling", Status: 503}))
	sd := e.start(t, func(s *Settings) { s.Client, s.Router, s.Routes = client, agg.Process, agg.Consumes })
	defer shutdown(t, sd)

	publish(t, e.bus, batch("ts", 3, 2))
	require.Eventually(t, func() bool {
		return counter(t, e.reg, "tracekit_sender_messages_total", map[string]string{"stream": "kept", "result": "nak"}) >= 2
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, uint64(1), streamMsgs(t, e.bus, bus.StreamKept), "the message waits in the stream")

	e.sim.ClearFaults()
	require.Eventually(t, func() bool { return e.sim.Stats().TailSampling >= 3 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamKept) == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Empty(t, e.sim.Points("tracing"), "tail sampling consumes the tracing points")
}
