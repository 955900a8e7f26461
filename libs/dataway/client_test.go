package dataway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/pipeline"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"github.com/tracekit/tracekit/tools/dataway-sim/sim"
)

type testSim struct {
	*sim.Server
	srv *httptest.Server
}

func startSim(t *testing.T, o sim.Options) *testSim {
	t.Helper()
	s := sim.New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &testSim{Server: s, srv: srv}
}

func newTestClient(t *testing.T, reg prometheus.Registerer, enc Encoder, retries int, urls ...string) *Client {
	t.Helper()
	c, err := NewClient(Options{
		URLs: urls, Encoder: enc, Timeout: 5 * time.Second, MaxRetryCount: retries,
		RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 40 * time.Millisecond, Registerer: reg,
	})
	require.NoError(t, err)
	t.Cleanup(c.hc.CloseIdleConnections)
	return c
}

func bodiesOf(t *testing.T, e Encoder, n, msgLen int) []*Body {
	t.Helper()
	pts := make([]*pointpb.PBPoint, n)
	for i := range pts {
		pts[i] = SpanToPoint(testSpan(i, msgLen), PointOptions{Hostname: "h"})
	}
	bodies, drops, err := e.Encode(pts)
	require.NoError(t, err)
	require.Empty(t, drops)
	return bodies
}

func TestClientWriteHeaders(t *testing.T) {
	for _, enc := range []Encoding{EncodingV2, EncodingV1} {
		t.Run(enc.String(), func(t *testing.T) {
			s := startSim(t, sim.Options{Token: "tkn_a"})
			e := Encoder{Encoding: enc, MaxRawBodySize: 1 << 20, Gzip: true}
			c := newTestClient(t, nil, e, 1, s.srv.URL+"?token=tkn_a&extra=1")
			b := bodiesOf(t, e, 3, 10)[0]
			res := c.Write(context.Background(), "tracing", b)
			require.NoError(t, res.Err)
			assert.Equal(t, 3, res.Sent)

			reqs := s.Requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, "/v1/write/tracing", r.Path)
			assert.Equal(t, "token=tkn_a&extra=1", r.Query)
			assert.Equal(t, enc.ContentType(), r.Headers["Content-Type"])
			assert.Equal(t, "gzip", r.Headers["Content-Encoding"])
			assert.Equal(t, "3", r.Headers["X-Points"])
			assert.True(t, strings.HasPrefix(r.Headers["X-Pkg-Id"], "dk_"), r.Headers["X-Pkg-Id"])
			assert.True(t, strings.HasPrefix(r.Headers["User-Agent"], "datakit-"), r.Headers["User-Agent"])
			assert.Equal(t, "DataKit", r.Headers["Referer"])
			assert.Equal(t, b.RawSize, r.RawBytes)
			assert.Equal(t, len(b.Data), r.Bytes)

			pts := s.Points("tracing")
			require.Len(t, pts, 3)
			assert.Equal(t, "ddtrace", pts[0].Measurement)
			assert.Equal(t, "span-0", pts[0].Fields["span_id"])
			assert.Equal(t, int64(12345), pts[0].Fields["duration"])
			assert.Equal(t, "h", pts[0].Tags["dk_fingerprint"])
		})
	}
}

func TestClientEveryURLGetsEveryBody(t *testing.T) {
	a, b := startSim(t, sim.Options{}), startSim(t, sim.Options{})
	e := Encoder{MaxRawBodySize: 2048}
	c := newTestClient(t, nil, e, 0, a.srv.URL+"?token=x", b.srv.URL+"?token=y")
	bodies := bodiesOf(t, e, 50, 20)
	require.Greater(t, len(bodies), 1)
	for _, body := range bodies {
		require.NoError(t, c.Write(context.Background(), "tracing", body).Err)
	}
	assert.Len(t, a.Points("tracing"), 50)
	assert.Len(t, b.Points("tracing"), 50)
	assert.Equal(t, "token=y", b.Requests()[0].Query)
}

func TestClientRetries(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusRequestTimeout} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s := startSim(t, sim.Options{})
			require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: status, Count: 2}))
			e := Encoder{MaxRawBodySize: 1 << 20}
			c := newTestClient(t, nil, e, 2, s.srv.URL)
			start := time.Now()
			res := c.Write(context.Background(), "tracing", bodiesOf(t, e, 4, 0)[0])
			require.NoError(t, res.Err)
			// Backoff: at least the jittered first two delays (>= 5ms + 10ms).
			assert.GreaterOrEqual(t, time.Since(start), 15*time.Millisecond)
			reqs := s.Requests()
			require.Len(t, reqs, 3)
			assert.Equal(t, []int{status, status, 200}, []int{reqs[0].Status, reqs[1].Status, reqs[2].Status})
			assert.Equal(t, reqs[0].Headers["X-Pkg-Id"], reqs[2].Headers["X-Pkg-Id"], "a retry is the same package")
			assert.Len(t, s.Points("tracing"), 4)
		})
	}
}

func TestClientRetryBudgetExhausted(t *testing.T) {
	s := startSim(t, sim.Options{})
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: 503}))
	reg := prometheus.NewRegistry()
	e := Encoder{MaxRawBodySize: 1 << 20}
	c := newTestClient(t, reg, e, 3, s.srv.URL)
	res := c.Write(context.Background(), "tracing", bodiesOf(t, e, 2, 0)[0])
	require.Error(t, res.Err)
	assert.False(t, pipeline.IsPermanent(res.Err), "503 is transient: the caller keeps the data")
	assert.Len(t, s.Requests(), 4, "first attempt + max_retry_count retries")
	assert.InDelta(t, 4, testutil.ToFloat64(c.m.requests.WithLabelValues("tracing", "503")), 0)
	assert.InDelta(t, 2, testutil.ToFloat64(c.m.points.WithLabelValues("tracing", "failed")), 0)
}

func TestClientTransportErrorRetried(t *testing.T) {
	s := startSim(t, sim.Options{})
	url := s.srv.URL
	s.srv.Close()
	e := Encoder{MaxRawBodySize: 1 << 20}
	c := newTestClient(t, nil, e, 2, url)
	res := c.Write(context.Background(), "tracing", bodiesOf(t, e, 1, 0)[0])
	require.Error(t, res.Err)
	assert.False(t, pipeline.IsPermanent(res.Err))
	assert.InDelta(t, 3, testutil.ToFloat64(c.m.requests.WithLabelValues("tracing", "error")), 0)
}

func TestClientPermanent4xxDropped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault int
		token string
		want  string
	}{
		{"400", 400, "", "status_400"},
		{"403", 403, "", "status_403"},
		{"wrong token 401", 0, "bad", "status_401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, sim.Options{Token: "good"})
			if tc.fault != 0 {
				require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: tc.fault}))
			}
			token := tc.token
			if token == "" {
				token = "good"
			}
			reg := prometheus.NewRegistry()
			e := Encoder{MaxRawBodySize: 1 << 20}
			c := newTestClient(t, reg, e, 3, s.srv.URL+"?token="+token)
			res := c.Write(context.Background(), "tracing", bodiesOf(t, e, 5, 0)[0])
			require.Error(t, res.Err)
			assert.True(t, pipeline.IsPermanent(res.Err))
			assert.Equal(t, 5, res.Dropped)
			assert.Len(t, s.Requests(), 1, "a 4xx is not retried")
			assert.InDelta(t, 5, testutil.ToFloat64(c.m.dropped.WithLabelValues("tracing", tc.want)), 0)
		})
	}
}

func TestClient413SplitsInHalves(t *testing.T) {
	s := startSim(t, sim.Options{MaxRawBodySize: 3000})
	e := Encoder{MaxRawBodySize: 1 << 20, Gzip: true}
	c := newTestClient(t, nil, e, 0, s.srv.URL)
	bodies := bodiesOf(t, e, 40, 100)
	require.Len(t, bodies, 1)
	require.Greater(t, bodies[0].RawSize, 4*3000)
	res := c.Write(context.Background(), "tracing", bodies[0])
	require.NoError(t, res.Err)
	assert.Equal(t, 40, res.Sent)
	got := map[any]int{}
	for _, p := range s.Points("tracing") {
		got[p.Fields["span_id"]]++
	}
	assert.Len(t, got, 40)
	for id, n := range got {
		assert.Equal(t, 1, n, id)
	}
	var accepted int
	for _, r := range s.Requests() {
		if r.Status == 200 {
			accepted++
			assert.LessOrEqual(t, r.RawBytes, 3000)
		}
	}
	assert.Greater(t, accepted, 4)
}

func TestClient413SinglePointDropped(t *testing.T) {
	s := startSim(t, sim.Options{MaxRawBodySize: 100})
	e := Encoder{MaxRawBodySize: 1 << 20}
	c := newTestClient(t, nil, e, 0, s.srv.URL)
	res := c.Write(context.Background(), "tracing", bodiesOf(t, e, 3, 200)[0])
	require.Error(t, res.Err)
	assert.True(t, pipeline.IsPermanent(res.Err))
	assert.Equal(t, 3, res.Dropped)
	assert.InDelta(t, 3, testutil.ToFloat64(c.m.dropped.WithLabelValues("tracing", "status_413")), 0)
}

func TestClientContextCancelStopsRetrying(t *testing.T) {
	s := startSim(t, sim.Options{})
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/write", Status: 503}))
	e := Encoder{MaxRawBodySize: 1 << 20}
	c, err := NewClient(Options{URLs: []string{s.srv.URL}, Encoder: e, MaxRetryCount: 10, RetryDelay: time.Hour, MaxRetryDelay: time.Hour})
	require.NoError(t, err)
	defer c.hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res := c.Write(ctx, "tracing", bodiesOf(t, e, 1, 0)[0])
	require.Error(t, res.Err)
	assert.False(t, pipeline.IsPermanent(res.Err))
}

func TestParseEndpoint(t *testing.T) {
	ep, err := ParseEndpoint("https://openway.guance.com/ignored?token=tkn_1&a=b")
	require.NoError(t, err)
	assert.Equal(t, "https://openway.guance.com/v1/write/tracing?token=tkn_1&a=b", ep.URL("/v1/write/tracing"))
	assert.Equal(t, "tkn_1", ep.Token)
	_, err = ParseEndpoint("ftp://x")
	assert.Error(t, err)
}

func TestJitter(t *testing.T) {
	for range 100 {
		d := jitter(100 * time.Millisecond)
		assert.GreaterOrEqual(t, d, 50*time.Millisecond)
		assert.Less(t, d, 100*time.Millisecond)
	}
}
