package pipelinetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func batch(ids ...string) *spanv1.TraceBatch {
	tr := &spanv1.DatakitTrace{}
	for _, id := range ids {
		tr.Spans = append(tr.Spans, &spanv1.DatakitSpan{SpanId: id})
	}
	return &spanv1.TraceBatch{Traces: []*spanv1.DatakitTrace{tr}}
}

func TestSink(t *testing.T) {
	var s Sink
	ctx := context.Background()
	require.NoError(t, s.ConsumeTraces(ctx, batch("a", "b")))
	boom := errors.New("boom")
	s.SetErr(boom)
	require.ErrorIs(t, s.ConsumeTraces(ctx, batch("c")), boom)
	s.SetErr(nil)
	require.NoError(t, s.ConsumeTraces(ctx, batch("d")))
	assert.Equal(t, 3, s.Calls())
	assert.Len(t, s.Batches(), 2)
	var ids []string
	for _, sp := range s.Spans() {
		ids = append(ids, sp.SpanId)
	}
	assert.Equal(t, []string{"a", "b", "d"}, ids)

	release := s.Block()
	done := make(chan error, 1)
	go func() { done <- s.ConsumeTraces(ctx, batch("e")) }()
	select {
	case <-done:
		t.Fatal("a blocked sink must hold the caller")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	require.NoError(t, <-done)

	release = s.Block()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, s.ConsumeTraces(cctx, batch("f")), context.Canceled)
	release()
	s.Reset()
	assert.Empty(t, s.Batches())
}
