package bus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/bus/bustest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/spanmodel"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func batch(source string, traces, spans int) *spanv1.TraceBatch {
	b := &spanv1.TraceBatch{Source: source, Input: source, ReceivedUnixNano: 1}
	for i := 0; i < traces; i++ {
		t := &spanv1.DatakitTrace{}
		for j := 0; j < spans; j++ {
			t.Spans = append(t.Spans, &spanv1.DatakitSpan{TraceId: fmt.Sprintf("t%d", i), SpanId: fmt.Sprintf("s%d", j), Resource: "GET /x"})
		}
		b.Traces = append(b.Traces, t)
	}
	return b
}

// collect consumes until want spans arrived and returns every span id seen (with repeats).
func collect(t *testing.T, b *bus.Bus, spec bus.ConsumerSpec, want int, answer func(*bus.Msg)) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := map[string]int{}
	var mu sync.Mutex
	total := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Consume(ctx, spec, func(_ context.Context, msgs []*bus.Msg) {
			for _, m := range msgs {
				tb, err := spanmodel.Unmarshal(m.Data)
				require.NoError(t, err)
				assert.Equal(t, spanmodel.Encoding, m.Header.Get(bus.HeaderEncoding))
				assert.Equal(t, tb.Input, m.Header.Get(bus.HeaderInput))
				mu.Lock()
				for _, tr := range tb.Traces {
					for _, s := range tr.Spans {
						seen[s.TraceId+"/"+s.SpanId]++
						total++
					}
				}
				if total >= want {
					cancel()
				}
				mu.Unlock()
				answer(m)
			}
		})
	}()
	<-done
	require.GreaterOrEqual(t, total, want, "timed out waiting for spans")
	return seen
}

func spansSpec() bus.ConsumerSpec {
	return bus.ConsumerSpec{Stream: bus.StreamSpans, Subject: bus.SpansPrefix + ">", Durable: "filter", MaxWait: 50 * time.Millisecond}
}

func TestPublishConsumeJetStream(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	require.True(t, b.Durable())
	ctx := context.Background()
	require.NoError(t, b.PublishBatch(ctx, bus.SpansPrefix, batch("opentelemetry", 3, 4), ""))
	seen := collect(t, b, spansSpec(), 12, func(m *bus.Msg) { require.NoError(t, m.Ack()) })
	assert.Len(t, seen, 12)

	info, err := b.JetStream().Stream(ctx, bus.StreamSpans)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		si, err := info.Info(ctx)
		return err == nil && si.State.Msgs == 0
	}, 5*time.Second, 20*time.Millisecond, "work-queue stream keeps nothing once acked")
}

func TestNakRedelivers(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	require.NoError(t, b.PublishBatch(context.Background(), bus.SpansPrefix, batch("zipkin", 1, 1), ""))
	var deliveries []uint64
	collect(t, b, spansSpec(), 2, func(m *bus.Msg) {
		deliveries = append(deliveries, m.NumDelivered)
		if m.NumDelivered == 1 {
			require.NoError(t, m.Nak(10*time.Millisecond))
			return
		}
		require.NoError(t, m.Ack())
	})
	assert.Equal(t, []uint64{1, 2}, deliveries)
}

func TestUnackedSurvivesRestart(t *testing.T) {
	cfg := bustest.Config(t)
	b, err := bus.Open(context.Background(), cfg, bus.Options{})
	require.NoError(t, err)
	require.NoError(t, b.PublishBatch(context.Background(), bus.SpansPrefix, batch("ddtrace", 2, 2), ""))
	// Delivered but never answered, then the process "dies".
	collect(t, b, spansSpec(), 4, func(*bus.Msg) {})
	b.Close()

	b2 := bustest.Open(t, cfg)
	spec := spansSpec()
	spec.AckWait = 200 * time.Millisecond
	seen := collect(t, b2, spec, 4, func(m *bus.Msg) { require.NoError(t, m.Ack()) })
	assert.Len(t, seen, 4, "the stored messages come back after a restart")
}

func TestSharedDurableSplitsWork(t *testing.T) {
	server, other := bustest.OpenShared(t, bustest.Config(t))
	require.NotEmpty(t, server.ListenURL())

	const n = 200
	for i := 0; i < n; i++ {
		require.NoError(t, server.PublishBatch(context.Background(), bus.SpansPrefix, batch("jaeger", 1, 1), ""))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	per := map[string]int{}
	total := 0
	var wg sync.WaitGroup
	for name, b := range map[string]*bus.Bus{"a": server, "b": other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := spansSpec()
			spec.Batch = 5
			_ = b.Consume(ctx, spec, func(_ context.Context, msgs []*bus.Msg) {
				for _, m := range msgs {
					require.NoError(t, m.Ack())
				}
				mu.Lock()
				per[name] += len(msgs)
				total += len(msgs)
				if total >= n {
					cancel()
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // let the other instance take a share
			})
		}()
	}
	wg.Wait()
	assert.Equal(t, n, total, "each message is delivered once across instances")
	assert.Positive(t, per["a"])
	assert.Positive(t, per["b"])
}

func TestFullStreamIsExhausted(t *testing.T) {
	cfg := bustest.Config(t)
	cfg.MaxBytes = 4096
	b := bustest.Open(t, cfg)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = b.PublishBatch(context.Background(), bus.SpansPrefix, batch("cat", 2, 5), "")
	}
	require.Error(t, err)
	assert.True(t, pipeline.IsExhausted(err), "a full stream is back-pressure: %v", err)
}

func TestOversizeMessageIsPermanent(t *testing.T) {
	cfg := bustest.Config(t)
	cfg.MaxPayload = 2048
	b := bustest.Open(t, cfg)
	big := &spanv1.TraceBatch{Source: "x", Traces: []*spanv1.DatakitTrace{{Spans: []*spanv1.DatakitSpan{{Message: string(make([]byte, 4096))}}}}}
	err := b.PublishBatch(context.Background(), bus.SpansPrefix, big, "")
	require.Error(t, err)
	assert.True(t, pipeline.IsPermanent(err))
	assert.ErrorContains(t, err, "exceeds the bus max payload")
}

func TestLargeBatchIsSplit(t *testing.T) {
	cfg := bustest.Config(t)
	cfg.MaxPayload = 8 << 10
	b := bustest.Open(t, cfg)
	require.NoError(t, b.PublishBatch(context.Background(), bus.SpansPrefix, batch("opentelemetry", 40, 10), ""))
	seen := collect(t, b, spansSpec(), 400, func(m *bus.Msg) { require.NoError(t, m.Ack()) })
	assert.Len(t, seen, 400)
}

func TestDedupByMsgID(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	for i := 0; i < 3; i++ {
		require.NoError(t, b.PublishBatch(context.Background(), bus.KeptPrefix, batch("ddtrace", 1, 1), "seq-7"))
	}
	si, err := b.JetStream().Stream(context.Background(), bus.StreamKept)
	require.NoError(t, err)
	info, err := si.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.State.Msgs, "a republish after redelivery is stored once")
}

func TestCoreMode(t *testing.T) {
	cfg := bustest.Config(t)
	cfg.Mode = config.BusModeCore
	b := bustest.Open(t, cfg)
	require.False(t, b.Durable())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan int, 10)
	go func() {
		_ = b.Consume(ctx, spansSpec(), func(_ context.Context, msgs []*bus.Msg) {
			for _, m := range msgs {
				require.NoError(t, m.Ack())
				tb, err := spanmodel.Unmarshal(m.Data)
				require.NoError(t, err)
				got <- spanmodel.SpanCount(tb)
			}
		})
	}()
	// A core subscription only sees what is published after it exists.
	require.Eventually(t, func() bool {
		_ = b.PublishBatch(ctx, bus.SpansPrefix, batch("skywalking", 1, 3), "")
		select {
		case n := <-got:
			return n == 3
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, b.Ready())
}
func TestPublishPointsSplits(t *testing.T) {
	cfg := bustest.Config(t)
	cfg.MaxPayload = 4096
	b := bustest.Open(t, cfg)
	pts := &pointpb.PBPoints{}
	for i := 0; i < 100; i++ {
		pts.Arr = append(pts.Arr, &pointpb.PBPoint{Name: "cpu", Time: int64(i), Fields: []*pointpb.Field{{Key: "usage", Val: &pointpb.Field_F{F: float64(i)}}}})
	}
	require.NoError(t, b.PublishPoints(context.Background(), "metric", "cat", pts))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, msgs := 0, 0
	_ = b.Consume(ctx, bus.ConsumerSpec{Stream: bus.StreamPoints, Subject: bus.PointsPrefix + ">", Durable: "sender-points", MaxWait: 50 * time.Millisecond}, func(_ context.Context, ms []*bus.Msg) {
		for _, m := range ms {
			assert.Equal(t, "metric", m.Header.Get(bus.HeaderCategory))
			assert.Equal(t, bus.PointsSubject("metric"), m.Subject)
			var p pointpb.PBPoints
			require.NoError(t, proto.Unmarshal(m.Data, &p))
			got += len(p.Arr)
			msgs++
			require.NoError(t, m.Ack())
		}
		if got >= 100 {
			cancel()
		}
	})
	assert.Equal(t, 100, got)
	assert.Greater(t, msgs, 1, "split to fit the max payload")
}
