package datawaysender

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/tools/dataway-sim/sim"
)

// One message split over several bodies, the first of which fails for good while the rest
// are accepted: the message is naked, and its redelivery sends only the failed body's
// spans, so Dataway gets every span exactly once.
func TestPartlyDeliveredMessageIsNotSentTwice(t *testing.T) {
	e := newEnv(t)
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	// One attempt and one retry (MaxRetryCount 1) of the first body both fail.
	require.NoError(t, e.sim.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: 503, Count: 2}))
	sd := e.start(t, func(s *Settings) { s.Concurrency = 1 })
	defer shutdown(t, sd)

	const traces, spansPer = 20, 10
	publish(t, e.bus, batch("big", traces, spansPer))
	require.Eventually(t, func() bool { return len(delivered(e.sim)) == traces*spansPer }, 20*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamKept) == 0 }, 10*time.Second, 10*time.Millisecond)

	var writes int
	for _, r := range e.sim.Requests() {
		if r.Path == "/v1/write/tracing" {
			writes++
		}
	}
	require.Greater(t, writes, 3, "the message must span several bodies for this test to mean anything")
	for k, n := range delivered(e.sim) {
		assert.Equal(t, 1, n, "span %s delivered more than once", k)
	}
	assert.Positive(t, counter(t, e.reg, "tracekit_sender_redelivered_points_skipped_total", map[string]string{"category": "tracing"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "tracekit_sender_messages_total", map[string]string{"stream": "kept", "result": "nak"}))
	assert.Zero(t, sd.partial.len(), "an acked message is forgotten")
}

func TestPartialsEvictOldest(t *testing.T) {
	p := newPartials(2)
	for seq := uint64(1); seq <= 50; seq++ {
		p.put(partialKey{"kept", seq}, []bool{true, false})
	}
	assert.Equal(t, 2, p.len())
	assert.Nil(t, p.get(partialKey{"kept", 48}, 2), "evicted")
	assert.Equal(t, []bool{true, false}, p.get(partialKey{"kept", 50}, 2))
	assert.Nil(t, p.get(partialKey{"kept", 50}, 3), "a record for another point count is not used")
	assert.LessOrEqual(t, len(p.order), 2*2+16, "the eviction order is compacted")
	p.drop(partialKey{"kept", 50})
	assert.Equal(t, 1, p.len())
}
