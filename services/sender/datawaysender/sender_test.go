package datawaysender

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/bus/bustest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/telemetry"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/tools/dataway-sim/sim"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type env struct {
	cfg *config.Config
	bus *bus.Bus
	sim *sim.Server
	url string
	reg *prometheus.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := config.NewDefaultConfig()
	cfg.Bus = bustest.Config(t)
	s := sim.New(sim.Options{Token: "tkn"})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg.Dataway.URLs = []string{srv.URL + "?token=tkn"}
	cfg.Dataway.RetryDelay = config.Duration(5 * time.Millisecond)
	cfg.Dataway.MaxRetryDelay = config.Duration(20 * time.Millisecond)
	cfg.Dataway.MaxRetryCount = 1
	cfg.Dataway.MaxRawBodySize = 8 << 10
	cfg.IO.FlushInterval = config.Duration(50 * time.Millisecond)
	cfg.IO.MaxCacheCount = 100
	cfg.GlobalTags = map[string]string{"cluster": "c1"}
	return &env{cfg: cfg, sim: s, url: srv.URL, reg: prometheus.NewRegistry()}
}

func (e *env) openBus(t *testing.T) *bus.Bus {
	t.Helper()
	b, err := bus.Open(context.Background(), e.cfg.Bus, bus.Options{Name: t.Name()})
	require.NoError(t, err)
	e.bus = b
	return b
}

func (e *env) start(t *testing.T, mod func(*Settings)) *Sender {
	t.Helper()
	s := Settings{
		Bus: e.bus, Config: e.cfg, Registry: e.reg, Hostname: "test-host",
		NakDelay: 20 * time.Millisecond, MaxNakDelay: 100 * time.Millisecond, AckWait: 2 * time.Second,
	}
	if mod != nil {
		mod(&s)
	}
	sd, err := New(s)
	require.NoError(t, err)
	host := &app.Host{Logger: slog.New(slog.DiscardHandler), Registry: e.reg, Health: telemetry.NewHealth()}
	require.NoError(t, sd.Start(context.Background(), host))
	assert.Empty(t, host.Health.Failures(), "ready once the bus is connected")
	return sd
}

func shutdown(t *testing.T, sd *Sender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, sd.Shutdown(ctx))
}

// batch builds a kept batch of nTraces traces with spansPer spans each, ids prefixed.
func batch(prefix string, nTraces, spansPer int) *spanv1.TraceBatch {
	b := &spanv1.TraceBatch{Source: "ddtrace", Input: "ddtrace"}
	for i := range nTraces {
		tr := &spanv1.DatakitTrace{}
		for j := range spansPer {
			tr.Spans = append(tr.Spans, &spanv1.DatakitSpan{
				TraceId: fmt.Sprintf("%s-t%d", prefix, i), SpanId: fmt.Sprintf("%s-s%d-%d", prefix, i, j), ParentId: "0",
				Service: "svc", Resource: "GET /", Source: "ddtrace", SpanType: "entry", SourceType: "web", Status: "ok",
				StartUnixNano: 1_700_000_000_000_000_000, DurationNano: 1000, Message: "{}",
			})
		}
		b.Traces = append(b.Traces, tr)
	}
	return b
}

func publish(t *testing.T, b *bus.Bus, batches ...*spanv1.TraceBatch) {
	t.Helper()
	for _, bt := range batches {
		require.NoError(t, b.PublishBatch(context.Background(), bus.KeptPrefix, bt, ""))
	}
}

// delivered counts each (trace_id, span_id) pair the sim stored.
func delivered(s *sim.Server) map[string]int {
	out := map[string]int{}
	for _, p := range s.Points("tracing") {
		out[fmt.Sprint(p.Fields["trace_id"], "/", p.Fields["span_id"])]++
	}
	return out
}

func streamMsgs(t *testing.T, b *bus.Bus, stream string) uint64 {
	t.Helper()
	st, err := b.JetStream().Stream(context.Background(), stream)
	require.NoError(t, err)
	info, err := st.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

func TestSpansArriveAtSim(t *testing.T) {
	e := newEnv(t)
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	sd := e.start(t, nil)
	defer shutdown(t, sd)

	publish(t, e.bus, batch("a", 3, 2), batch("b", 1, 1))
	require.Eventually(t, func() bool { return len(e.sim.Points("tracing")) == 7 }, 10*time.Second, 10*time.Millisecond)
	p := e.sim.Points("tracing")[0]
	assert.Equal(t, "ddtrace", p.Measurement)
	assert.Equal(t, "test-host", p.Tags["dk_fingerprint"])
	assert.Equal(t, "c1", p.Tags["cluster"], "global tags are applied by the sender")
	assert.Equal(t, int64(1), p.Fields["duration"])
	assert.Equal(t, "/v1/write/tracing", e.sim.Requests()[0].Path)
	require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamKept) == 0 }, 5*time.Second, 10*time.Millisecond, "delivered messages are acked")
}

func TestPointsStreamDelivered(t *testing.T) {
	e := newEnv(t)
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	sd := e.start(t, nil)
	defer shutdown(t, sd)

	pts := &pointpb.PBPoints{}
	for i := range 5 {
		pts.Arr = append(pts.Arr, &pointpb.PBPoint{Name: "nginx", Time: int64(i), Fields: []*pointpb.Field{
			{Key: "host", IsTag: true, Val: &pointpb.Field_S{S: "h"}}, {Key: "message", Val: &pointpb.Field_S{S: fmt.Sprint("line ", i)}},
		}})
	}
	require.NoError(t, e.bus.PublishPoints(context.Background(), "logging", "gateway", pts))
	require.Eventually(t, func() bool { return len(e.sim.Points("logging")) == 5 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "/v1/write/logging", e.sim.Requests()[0].Path)
	assert.Empty(t, e.sim.Points("tracing"))
	require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamPoints) == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestDatawayDownUnderLoad: while Dataway answers 503 nothing is acked and everything
// waits in JetStream; once it is back every span arrives.
func TestDatawayDownUnderLoad(t *testing.T) {
	e := newEnv(t)
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	require.NoError(t, e.sim.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: 503}))
	sd := e.start(t, nil)
	defer shutdown(t, sd)

	const publishers, perPublisher = 8, 10
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPublisher {
				assert.NoError(t, e.bus.PublishBatch(context.Background(), bus.KeptPrefix, batch(fmt.Sprintf("p%d-%d", p, i), 4, 3), ""))
			}
		}()
	}
	wg.Wait()
	const want = publishers * perPublisher * 4 * 3
	// Several failed rounds (each message naked at least twice) and still nothing acked.
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(sd.m.messages.WithLabelValues("kept", "nak")) >= 2*publishers*perPublisher
	}, 20*time.Second, 10*time.Millisecond)
	assert.Zero(t, testutil.ToFloat64(sd.m.messages.WithLabelValues("kept", "ack")))
	assert.Equal(t, uint64(publishers*perPublisher), streamMsgs(t, e.bus, bus.StreamKept))
	assert.Empty(t, e.sim.Points("tracing"))

	e.sim.ClearFaults()
	require.Eventually(t, func() bool { return len(delivered(e.sim)) == want }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamKept) == 0 }, 10*time.Second, 10*time.Millisecond)
	for k, n := range delivered(e.sim) {
		assert.Equal(t, 1, n, "span %s delivered more than once", k)
	}
}

// TestRestartBeforeAck: the sender's bus goes away while Dataway is down (a crash before
// any ack); a new sender on the reopened store delivers everything.
func TestRestartBeforeAck(t *testing.T) {
	e := newEnv(t)
	b1 := e.openBus(t)
	require.NoError(t, e.sim.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: 503}))
	sd1 := e.start(t, nil)
	publish(t, b1, batch("r1", 5, 4), batch("r2", 5, 4))
	require.Eventually(t, func() bool { return len(e.sim.Requests()) >= 2 }, 10*time.Second, 10*time.Millisecond)
	b1.Close()
	shutdown(t, sd1)
	assert.Zero(t, testutil.ToFloat64(sd1.m.messages.WithLabelValues("kept", "ack")))

	e.sim.ClearFaults()
	e.reg = prometheus.NewRegistry()
	b2 := e.openBus(t)
	t.Cleanup(b2.Close)
	sd2 := e.start(t, nil)
	defer shutdown(t, sd2)
	require.Eventually(t, func() bool { return len(delivered(e.sim)) == 40 }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return streamMsgs(t, b2, bus.StreamKept) == 0 }, 10*time.Second, 10*time.Millisecond)
}

func TestPermanent4xxIsAckedAndCounted(t *testing.T) {
	e := newEnv(t)
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	require.NoError(t, e.sim.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: 400}))
	sd := e.start(t, nil)
	defer shutdown(t, sd)
	publish(t, e.bus, batch("x", 2, 2))
	require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamKept) == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.InDelta(t, 4, counter(t, e.reg, "tracekit_dataway_dropped_points_total", map[string]string{"category": "tracing", "reason": "status_400"}), 0)
	assert.Empty(t, e.sim.Points("tracing"))
}

func TestUndecodableMessageTerminated(t *testing.T) {
	e := newEnv(t)
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	sd := e.start(t, nil)
	defer shutdown(t, sd)
	require.NoError(t, e.bus.Publish(context.Background(), bus.KeptSubject("ddtrace"), nil, []byte("\xff\xff not a batch")))
	require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamKept) == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.InDelta(t, 1, testutil.ToFloat64(sd.m.messages.WithLabelValues("kept", "term")), 0)
}

func TestShutdownFlushesHeldData(t *testing.T) {
	e := newEnv(t)
	e.cfg.IO.FlushInterval = config.Duration(time.Hour)
	e.cfg.IO.MaxCacheCount = 1_000_000
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	sd := e.start(t, nil)
	publish(t, e.bus, batch("s", 3, 3))
	require.Eventually(t, func() bool { return sd.heldCount() == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Empty(t, e.sim.Points("tracing"), "nothing is sent before the interval or the count")
	shutdown(t, sd)
	assert.Len(t, delivered(e.sim), 9)
	assert.Zero(t, streamMsgs(t, e.bus, bus.StreamKept))
}

func TestMaxCacheCountFlushes(t *testing.T) {
	e := newEnv(t)
	e.cfg.IO.FlushInterval = config.Duration(time.Hour)
	e.cfg.IO.MaxCacheCount = 10
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	sd := e.start(t, nil)
	defer shutdown(t, sd)
	publish(t, e.bus, batch("c", 4, 3)) // 12 points >= 10
	require.Eventually(t, func() bool { return len(delivered(e.sim)) == 12 }, 10*time.Second, 10*time.Millisecond)
}

func TestRouterTakesPoints(t *testing.T) {
	e := newEnv(t)
	e.openBus(t)
	t.Cleanup(e.bus.Close)
	var mu sync.Mutex
	var routed int
	sd := e.start(t, func(s *Settings) {
		s.Router = func(_ context.Context, category string, pts []*pointpb.PBPoint) ([]*pointpb.PBPoint, error) {
			mu.Lock()
			defer mu.Unlock()
			routed += len(pts) / 2
			return pts[len(pts)/2:], nil
		}
	})
	defer shutdown(t, sd)
	publish(t, e.bus, batch("q", 1, 10))
	require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamKept) == 0 }, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 5, routed)
	assert.Len(t, delivered(e.sim), 5)
}

func TestNakDelayGrows(t *testing.T) {
	sd := &Sender{s: Settings{NakDelay: 100 * time.Millisecond, MaxNakDelay: time.Second}}
	assert.Equal(t, 100*time.Millisecond, sd.nakDelay(1))
	assert.Equal(t, 200*time.Millisecond, sd.nakDelay(2))
	assert.Equal(t, 800*time.Millisecond, sd.nakDelay(4))
	assert.Equal(t, time.Second, sd.nakDelay(50))
}

// counter reads one labelled counter from a registry.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestSpansSkipTheRouterItDoesNotWant: when Routes says the Router does not want tracing,
// kept spans go straight into bodies and arrive exactly as through the point path.
func TestSpansSkipTheRouterItDoesNotWant(t *testing.T) {
	spanBatch := func() *spanv1.TraceBatch {
		b := batch("d", 2, 3)
		for i, tr := range b.Traces {
			for j, s := range tr.Spans {
				s.Env, s.Version = "prod", "1.0"
				s.Tags = map[string]string{"http.url": fmt.Sprint("/x/", i, j), "service": "ignored", "host": "span-host"}
				s.Fields = map[string]*spanv1.FieldValue{"retries": {Kind: &spanv1.FieldValue_I{I: int64(j)}}, "error.msg": {Kind: &spanv1.FieldValue_S{S: "e"}}}
			}
		}
		return b
	}
	run := func(t *testing.T, routes Routes) ([]sim.Point, int) {
		e := newEnv(t)
		e.openBus(t)
		t.Cleanup(e.bus.Close)
		var mu sync.Mutex
		routed := 0
		sd := e.start(t, func(s *Settings) {
			s.Routes = routes
			s.Router = func(_ context.Context, _ string, pts []*pointpb.PBPoint) ([]*pointpb.PBPoint, error) {
				mu.Lock()
				defer mu.Unlock()
				routed += len(pts)
				return pts, nil
			}
		})
		defer shutdown(t, sd)
		publish(t, e.bus, spanBatch())
		require.Eventually(t, func() bool { return streamMsgs(t, e.bus, bus.StreamKept) == 0 }, 10*time.Second, 10*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return e.sim.Points("tracing"), routed
	}
	direct, routedDirect := run(t, func(category string) bool { return category != "tracing" })
	viaPoints, routedPoints := run(t, func(string) bool { return true })
	assert.Zero(t, routedDirect, "the router is not asked for tracing")
	assert.Equal(t, 6, routedPoints)
	require.Len(t, direct, 6)
	key := func(p sim.Point) string { return fmt.Sprint(p.Fields["span_id"]) }
	want := map[string]sim.Point{}
	for _, p := range viaPoints {
		want[key(p)] = p
	}
	for _, p := range direct {
		w, ok := want[key(p)]
		require.True(t, ok, key(p))
		assert.Equal(t, w.Measurement, p.Measurement)
		assert.Equal(t, w.Tags, p.Tags)
		assert.Equal(t, w.Fields, p.Fields)
		assert.Equal(t, w.Time, p.Time)
	}
	assert.Equal(t, "span-host", direct[0].Tags["host"])
	assert.Equal(t, "svc", direct[0].Tags["service"])
	assert.Contains(t, direct[0].Tags, "http_url")
}
