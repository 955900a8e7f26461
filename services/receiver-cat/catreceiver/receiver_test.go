package catreceiver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/pipeline/pipelinetest"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver/cattest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	waitFor   = 5 * time.Second
	pollEvery = 5 * time.Millisecond
)

// sink is the next stage for spans (pipelinetest.Sink) and for heartbeat points.
type sink struct {
	pipelinetest.Sink
	mu     sync.Mutex
	points []*pointpb.PBPoint
	cats   []string
}

func (s *sink) PublishPoints(_ context.Context, category, _ string, pts *pointpb.PBPoints) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cats = append(s.cats, category)
	s.points = append(s.points, pts.Arr...)
	return nil
}

func (s *sink) counts() (int, int) {
	spans := len(s.Spans())
	s.mu.Lock()
	defer s.mu.Unlock()
	return spans, len(s.points)
}

func start(t *testing.T, s *sink, points PointsPublisher) (*Receiver, *http.ServeMux) {
	t.Helper()
	cfg := &config.Config{Inputs: config.Inputs{CAT: []config.CAT{{TCPPort: "0", TCPHost: "127.0.0.1",
		Tracing:               config.Tracing{Tags: map[string]string{"env": "test"}},
		StartTransactionTypes: "Cache.;Squirrel.", MatchTransactionTypes: "SQL", Block: "false", Routers: "127.0.0.1:2280;", Sample: "1.0"}}}}
	comps, err := ComponentsWithPoints(cfg, s, points)
	require.NoError(t, err)
	require.Len(t, comps, 1)
	r := comps[0].(*Receiver)
	_, host := apptest.StartComponents(t, r)
	return r, host.Mux
}

func dial(t *testing.T, r *Receiver) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", r.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedByServer waits for the server to close c.
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitFor)))
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server closed the connection")
}

func TestTreesAndHeartbeats(t *testing.T) {
	s := &sink{}
	r, _ := start(t, s, s)
	c := dial(t, r)
	for _, tree := range cattest.SampleTrees(time.UnixMilli(1700000000123)) {
		_, err := c.Write(cattest.Frame(cattest.Encode(tree)))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { n, p := s.counts(); return n == 2 && p == 6 }, waitFor, pollEvery)
	spans := s.Spans()
	s.mu.Lock()
	defer s.mu.Unlock()
	root, child := spans[0], spans[1]
	assert.Equal(t, "shop-0a000005-470000-1", root.TraceId)
	assert.Equal(t, "0", root.ParentId)
	assert.Equal(t, "entry", root.SpanType)
	assert.Equal(t, "URL", root.SourceType)
	assert.Equal(t, "test", root.Tags["env"])
	assert.Equal(t, root.SpanId, child.ParentId)
	assert.Equal(t, root.TraceId, child.TraceId)
	assert.Equal(t, "error", child.Status)
	assert.Equal(t, []string{MetricCategory}, s.cats)
	assert.Equal(t, "cat", s.points[0].Name)
	assert.InDelta(t, 2, testutil.ToFloat64(r.metrics.frames.WithLabelValues("cat", "accepted")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(r.metrics.frames.WithLabelValues("cat", "ignored")), 0, "the Status tree")
}

func TestHeartbeatsWithoutSinkAreCounted(t *testing.T) {
	s := &sink{}
	cfg := &config.Config{Inputs: config.Inputs{CAT: []config.CAT{{TCPPort: "0", TCPHost: "127.0.0.1"}}}}
	comps, err := Components(cfg, s)
	require.NoError(t, err)
	r := comps[0].(*Receiver)
	apptest.StartComponents(t, r)
	c := dial(t, r)
	_, err = c.Write(cattest.Frame(cattest.Encode(cattest.SampleTrees(time.Now())[2])))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(r.metrics.heartbeats.WithLabelValues("cat", "dropped")) == 6
	}, waitFor, pollEvery)
}

func TestBadFramesCloseTheConnection(t *testing.T) {
	tests := []struct {
		name   string
		frame  []byte
		result string
	}{
		{"too large", binary.BigEndian.AppendUint32(nil, MaxFrame+1), "too_large"},
		{"not nt1", cattest.Frame([]byte("hello world")), "invalid"},
		{"truncated tree", cattest.Frame(append([]byte("NT1"), 5, 'a')), "invalid"},
		{"no message id", cattest.Frame(cattest.Encode(&cattest.Tree{Domain: "d", Root: &cattest.Transaction{Type: "URL", Name: "/"}})), "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			r, _ := start(t, s, s)
			c := dial(t, r)
			_, err := c.Write(tt.frame)
			require.NoError(t, err)
			closedByServer(t, c)
			assert.InDelta(t, 1, testutil.ToFloat64(r.metrics.frames.WithLabelValues("cat", tt.result)), 0)
			n, _ := s.counts()
			assert.Zero(t, n)
		})
	}
}

func TestBusRefusalClosesTheConnection(t *testing.T) {
	s := &sink{}
	s.SetErr(pipeline.Exhausted(errors.New("full")))
	r, _ := start(t, s, s)
	c := dial(t, r)
	_, err := c.Write(cattest.Frame(cattest.Encode(cattest.SampleTrees(time.Now())[0])))
	require.NoError(t, err)
	closedByServer(t, c)
	assert.InDelta(t, 1, testutil.ToFloat64(r.metrics.frames.WithLabelValues("cat", "refused")), 0)
}

func TestRouter(t *testing.T) {
	s := &sink{}
	_, mux := start(t, s, s)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cat/s/router", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"kvs":{"startTransactionTypes":"Cache.;Squirrel.","block":"false","routers":"127.0.0.1:2280;","sample":"1.0","matchTransactionTypes":"SQL"}}`, rec.Body.String())
}

func TestShutdownWithOpenConnection(t *testing.T) {
	s := &sink{}
	r, _ := start(t, s, s)
	c := dial(t, r)
	_, err := c.Write(cattest.Frame(cattest.Encode(cattest.SampleTrees(time.Now())[0])))
	require.NoError(t, err)
	require.Eventually(t, func() bool { n, _ := s.counts(); return n == 1 }, waitFor, pollEvery)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, r.Shutdown(ctx))
	closedByServer(t, c)
}
