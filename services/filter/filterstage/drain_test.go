package filterstage

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/bus/bustest"
	"github.com/tracekit/tracekit/libs/config"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// gateChain keeps everything, but each Apply waits until the gate opens (or its context
// ends); it reports the context it was given.
type gateChain struct {
	entered chan context.Context
	gate    chan struct{}
}

func (g gateChain) Apply(ctx context.Context, b *spanv1.TraceBatch) (*spanv1.TraceBatch, func()) {
	g.entered <- ctx
	select {
	case <-g.gate:
	case <-ctx.Done():
	}
	return b, nil
}

func startGated(t *testing.T, b *bus.Bus) (*Stage, gateChain) {
	t.Helper()
	g := gateChain{entered: make(chan context.Context, 16), gate: make(chan struct{})}
	st, err := New(Settings{Bus: b, Config: config.NewDefaultConfig(), Build: func(*config.Config) (Chain, error) { return g, nil }})
	require.NoError(t, err)
	require.NoError(t, st.Start(context.Background(), apptest.NewHost()))
	return st, g
}

func consumerInfo(t *testing.T, b *bus.Bus) (pending, ackPending, redelivered int) {
	t.Helper()
	c, err := b.JetStream().Consumer(context.Background(), bus.StreamSpans, Durable)
	require.NoError(t, err)
	info, err := c.Info(context.Background())
	require.NoError(t, err)
	return int(info.NumPending), info.NumAckPending, info.NumRedelivered
}

// TestShutdownFinishesTheBatchInHand: SIGTERM stops fetching but the batch being filtered
// is still published and acknowledged, not naked back to the stream.
func TestShutdownFinishesTheBatchInHand(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	kc := collectKept(t, b)
	st, g := startGated(t, b)
	publish(t, b, mkBatch("ddtrace", []string{"1"}, 2))
	var workCtx context.Context
	select {
	case workCtx = <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the stage never took the batch")
	}

	done := make(chan error, 1)
	go func() { done <- st.Shutdown(context.Background()) }()
	require.Eventually(t, func() bool { return st.fetchCtx.Err() != nil }, 5*time.Second, time.Millisecond, "shutdown stops fetching")
	assert.NoError(t, workCtx.Err(), "stopping the fetch does not abort the batch in hand")
	close(g.gate)
	require.NoError(t, <-done)

	require.Eventually(t, func() bool { return kc.count() == 2 }, 10*time.Second, 10*time.Millisecond, "the batch was published")
	pending, ackPending, redelivered := consumerInfo(t, b)
	assert.Zero(t, pending)
	assert.Zero(t, ackPending, "the source message was acknowledged before the stage stopped")
	assert.Zero(t, redelivered)
}

// TestShutdownDeadlineAbortsTheBatch: when Shutdown's context ends first, the batch in hand
// is abandoned to redelivery and Shutdown returns.
func TestShutdownDeadlineAbortsTheBatch(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	st, g := startGated(t, b)
	publish(t, b, mkBatch("ddtrace", []string{"1"}, 2))
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the stage never took the batch")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.NoError(t, st.Shutdown(ctx))
	_, ackPending, _ := consumerInfo(t, b)
	assert.Equal(t, 1, ackPending, "the unfinished message waits for redelivery")
}
