package aggregator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/dataway"
	"github.com/tracekit/tracekit/libs/pipeline"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"github.com/tracekit/tracekit/tools/dataway-sim/sim"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

type fixture struct {
	agg *Aggregator
	reg *prometheus.Registry
	dir string
}

func startSim(t *testing.T) (*sim.Server, string) {
	t.Helper()
	s := sim.New(sim.Options{Token: "tkn_test"})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "?token=tkn_test"
}

func writeConfigs(t *testing.T, dir, aggr, tail string) {
	t.Helper()
	if aggr != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "aggr.toml"), []byte(aggr), 0o600))
	}
	if tail != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "tail-sampling.toml"), []byte(tail), 0o600))
	}
}

// newFixture builds an aggregator over dataway urls, with [aggregator] endpoints when
// given, reading configs from a temp dir.
func newFixture(t *testing.T, urls, endpoints []string, aggr, tail string) *fixture {
	t.Helper()
	dir := t.TempDir()
	writeConfigs(t, dir, aggr, tail)
	reg := prometheus.NewRegistry()
	c, err := dataway.NewClient(dataway.Options{URLs: urls, RetryDelay: 5 * time.Millisecond, MaxRetryCount: 1, Registerer: reg})
	require.NoError(t, err)
	agg, err := New(Options{
		Config:  config.Aggregator{Endpoints: endpoints, UseLocalConfig: true, LocalConfigDir: dir},
		Dataway: config.Dataway{MaxRawBodySize: 1 << 20, MaxRetryCount: 1, RetryDelay: config.Duration(5 * time.Millisecond)},
		Client:  c, Registry: reg,
	})
	require.NoError(t, err)
	require.NoError(t, agg.Start(context.Background(), nil))
	t.Cleanup(func() { _ = agg.Shutdown(context.Background()) })
	return &fixture{agg: agg, reg: reg, dir: dir}
}

const traceOnly = "version = 7\n[trace]\n[[trace.sampling_pipeline]]\nname = \"all\"\ntype = \"probabilistic\"\ncondition = '{ 1 = 1 }'\nrate = 1.0\n"

func packets(t *testing.T, s *sim.Server, url string) []sim.TailSamplingPacket {
	t.Helper()
	_ = s
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	var out []sim.TailSamplingPacket
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out
}

func simBase(u string) string { return u[:len(u)-len("?token=tkn_test")] }

func TestTailSamplingConsumesTraces(t *testing.T) {
	s, u := startSim(t)
	f := newFixture(t, []string{u}, nil, "", traceOnly)
	pts := []*pointpb.PBPoint{span("t1", "1", "0", "ok", 10, 5), span("t1", "2", "1", "error", 11, 2), span("t2", "3", "0", "ok", 12, 1)}
	rest, err := f.agg.Process(context.Background(), "tracing", pts)
	require.NoError(t, err)
	assert.Empty(t, rest, "tracing points go to tail sampling, not to /v1/write/tracing")

	got := packets(t, s, simBase(u)+"/v1/_sim/tail_sampling")
	require.Len(t, got, 2)
	var pkt map[string]any
	require.NoError(t, json.Unmarshal(got[0].Packet, &pkt))
	if pkt["raw_group_id"] != "t1" { // packets are sent concurrently
		got[0], got[1] = got[1], got[0]
		require.NoError(t, json.Unmarshal(got[0].Packet, &pkt))
	}
	assert.Equal(t, "t1", pkt["raw_group_id"])
	assert.Equal(t, "tkn_test", pkt["token"], "the token of the URL query")
	assert.Equal(t, "ddtrace", pkt["source"])
	assert.Equal(t, "7", pkt["config_version"])
	assert.Equal(t, true, pkt["has_error"])
	assert.EqualValues(t, 2, pkt["point_count"])
	assert.Len(t, got[0].Points, 2)
	h := got[0].Headers
	assert.Equal(t, "application/x-protobuf", h["Content-Type"])
	assert.Equal(t, "identity", h["Content-Encoding"])
	assert.Equal(t, strconv.FormatUint(fnv64a("t1"), 10), h["Guance-Pick-Key"])
	assert.NotEmpty(t, h["X-Payload-Size"])

	// Other categories pass through.
	logs := []*pointpb.PBPoint{logPoint("A", "", "info")}
	rest, err = f.agg.Process(context.Background(), "logging", logs)
	require.NoError(t, err)
	assert.Equal(t, logs, rest, "no [logging] section: logging is written normally")
	assert.Equal(t, 2.0, testutil.ToFloat64(f.agg.m.success.WithLabelValues(TypeTailSampling, "tracing")))
	assert.Equal(t, 3.0, testutil.ToFloat64(f.agg.m.points.WithLabelValues(TypeTailSampling, "tracing")))
}

func TestTailSampling412PushesConfigAndResends(t *testing.T) {
	s, u := startSim(t)
	f := newFixture(t, []string{u}, nil, "", traceOnly)
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/tail_sampling", Status: http.StatusPreconditionFailed, Count: 1}))
	s.Reset() // forget the push of the start: the sequence below is the 412's
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/tail_sampling", Status: http.StatusPreconditionFailed, Count: 1}))

	rest, err := f.agg.Process(context.Background(), "tracing", []*pointpb.PBPoint{span("t9", "1", "0", "ok", 10, 5)})
	require.NoError(t, err)
	assert.Empty(t, rest)

	var seq []string
	for _, r := range s.Requests() {
		seq = append(seq, fmt.Sprintf("%s %d", r.Path, r.Status))
	}
	assert.Equal(t, []string{"/v1/tail_sampling 412", "/v1/tail_sampling_config 200", "/v1/tail_sampling 200"}, seq)
	cfgs := s.Stats()
	assert.Equal(t, 1, cfgs.TailSamplingCf)
	assert.Equal(t, 1, cfgs.TailSampling, "the packet is resent once and stored")

	var pushed []sim.TailSamplingConfig
	res, err := http.Get(simBase(u) + "/v1/_sim/tail_sampling_config")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(res.Body).Decode(&pushed))
	res.Body.Close()
	require.Len(t, pushed, 1)
	assert.Equal(t, "1", pushed[0].Headers["Guance-Pick-Key"])
	assert.Equal(t, "application/json", pushed[0].Headers["Content-Type"])
	var body map[string]any
	require.NoError(t, json.Unmarshal(pushed[0].Config, &body))
	assert.EqualValues(t, 7, body["version"])
	assert.EqualValues(t, (5 * time.Minute).Nanoseconds(), body["trace"].(map[string]any)["data_ttl"])

	// A second 412 within the throttle interval resends without pushing again.
	s.Reset()
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/tail_sampling", Status: http.StatusPreconditionFailed, Count: 1}))
	_, err = f.agg.Process(context.Background(), "tracing", []*pointpb.PBPoint{span("t10", "1", "0", "ok", 10, 5)})
	require.NoError(t, err)
	assert.Equal(t, 0, s.Stats().TailSamplingCf, "config pushes after a 412 are throttled")
	assert.Equal(t, 1, s.Stats().TailSampling)
}

func TestTailSamplingFailureKeepsPoints(t *testing.T) {
	s, u := startSim(t)
	f := newFixture(t, []string{u}, nil, "", traceOnly)
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/tail_sampling", Status: http.StatusServiceUnavailable}))
	_, err := f.agg.Process(context.Background(), "tracing", []*pointpb.PBPoint{span("t1", "1", "0", "ok", 10, 5)})
	require.Error(t, err, "the sender naks: the points stay in the stream")
	assert.False(t, pipeline.IsPermanent(err))
	assert.Equal(t, 0.0, testutil.ToFloat64(f.agg.m.lost.WithLabelValues(TypeTailSampling, "tracing", ReasonServer)))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.agg.m.failed.WithLabelValues(TypeTailSampling, "tracing", ReasonServer)))

	// A 412 that persists after the resend is not lost either (the prefix also matches
	// the config push: packet, push and resend all get 412).
	s.ClearFaults()
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/tail_sampling", Status: http.StatusPreconditionFailed, Count: 3}))
	_, err = f.agg.Process(context.Background(), "tracing", []*pointpb.PBPoint{span("t1", "1", "0", "ok", 10, 5)})
	require.Error(t, err)

	// A refusal for good is dropped and counted.
	s.ClearFaults()
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/tail_sampling", Status: http.StatusBadRequest, Count: 1}))
	rest, err := f.agg.Process(context.Background(), "tracing", []*pointpb.PBPoint{span("t1", "1", "0", "ok", 10, 5)})
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.Equal(t, 1.0, testutil.ToFloat64(f.agg.m.lost.WithLabelValues(TypeTailSampling, "tracing", ReasonServer)))
}

func TestPickKeyRouting(t *testing.T) {
	s0, u0 := startSim(t)
	s1, u1 := startSim(t)
	f := newFixture(t, []string{u0}, []string{u0, u1}, "", traceOnly)
	var pts []*pointpb.PBPoint
	want := map[int][]string{}
	for i := range 20 {
		id := fmt.Sprintf("trace-%02d", i)
		pts = append(pts, span(id, "1", "0", "ok", 10, 5))
		ep := int(fnv64a(id) % 2)
		want[ep] = append(want[ep], id)
	}
	require.NotEmpty(t, want[0])
	require.NotEmpty(t, want[1])
	_, err := f.agg.Process(context.Background(), "tracing", pts)
	require.NoError(t, err)
	for i, s := range []*sim.Server{s0, s1} {
		var got []string
		for _, p := range packets(t, s, simBase([]string{u0, u1}[i])+"/v1/_sim/tail_sampling") {
			var m map[string]any
			require.NoError(t, json.Unmarshal(p.Packet, &m))
			got = append(got, m["raw_group_id"].(string))
			assert.Equal(t, strconv.FormatUint(fnv64a(m["raw_group_id"].(string)), 10), p.Headers["Guance-Pick-Key"])
		}
		assert.ElementsMatch(t, want[i], got, "endpoint %d gets endpoints[pick %% 2]", i)
		assert.Equal(t, 1, s.Stats().TailSamplingCf, "the config is pushed to every endpoint")
	}

	// Without [aggregator] endpoints every [dataway] url gets every packet.
	d0, v0 := startSim(t)
	d1, v1 := startSim(t)
	g := newFixture(t, []string{v0, v1}, nil, "", traceOnly)
	_, err = g.agg.Process(context.Background(), "tracing", pts[:5])
	require.NoError(t, err)
	assert.Equal(t, 5, d0.Stats().TailSampling)
	assert.Equal(t, 5, d1.Stats().TailSampling)
}

func TestAtMostEightWorkers(t *testing.T) {
	s := sim.New(sim.Options{})
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if r.URL.Path == PathTailSampling {
			time.Sleep(20 * time.Millisecond) // hold the worker so the pool fills up
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f := newFixture(t, []string{srv.URL}, nil, "", traceOnly)
	assert.LessOrEqual(t, f.agg.o.Workers, 8)
	var pts []*pointpb.PBPoint
	for i := range 40 {
		pts = append(pts, span(fmt.Sprint("w", i), "1", "0", "ok", 10, 5))
	}
	_, err := f.agg.Process(context.Background(), "tracing", pts)
	require.NoError(t, err)
	assert.LessOrEqual(t, peak.Load(), int32(8))
	assert.Equal(t, 40, s.Stats().TailSampling)
}

func TestMetricAggregationRootSpanCount(t *testing.T) {
	_, u := startSim(t)
	f := newFixture(t, []string{u}, nil, rootSpanRule, "")
	pts := []*pointpb.PBPoint{
		span("t1", "1", "0", "ok", 10, 5),
		span("t1", "2", "1", "ok", 11, 2),
		span("t2", "3", "0", "error", 12, 1),
	}
	rest, err := f.agg.Process(context.Background(), "tracing", pts)
	require.NoError(t, err)
	assert.Equal(t, pts, rest, "without [trace] the originals continue to /v1/write/tracing")

	res, err := http.Get(simBase(u) + "/v1/_sim/aggregate")
	require.NoError(t, err)
	var aggs []sim.Aggregate
	require.NoError(t, json.NewDecoder(res.Body).Decode(&aggs))
	res.Body.Close()
	require.Len(t, aggs, 1, "both root spans share service/resource: one pick key, one body")
	a := aggs[0]
	var b struct {
		Batchs []struct {
			RoutingKey      string                    `json:"routing_key"`
			ConfigHash      string                    `json:"config_hash"`
			PickKey         string                    `json:"pick_key"`
			AggregationOpts map[string]map[string]any `json:"aggregation_opts"`
		} `json:"batchs"`
		PickKey string `json:"pick_key"`
	}
	require.NoError(t, json.Unmarshal(a.Batchs, &b))
	require.Len(t, b.Batchs, 2, "one batch per root span")
	cfg := f.agg.cfg.Load().metric
	for _, ab := range b.Batchs {
		assert.Equal(t, strconv.FormatUint(cfg.Hash(), 10), ab.ConfigHash)
		assert.Equal(t, b.PickKey, ab.PickKey)
		algo := ab.AggregationOpts["root_span.count"]
		assert.Equal(t, "count", algo["method"])
		assert.Equal(t, "span_id", algo["source_field"])
		assert.Equal(t, strconv.FormatInt((15*time.Second).Nanoseconds(), 10), algo["window"])
		assert.Equal(t, map[string]any{"metric": "root_span_count"}, algo["add_tags"])
	}
	assert.Equal(t, b.Batchs[0].RoutingKey, b.Batchs[1].RoutingKey, "same measurement, group values and field")
	assert.Equal(t, a.Headers["Guance-Pick-Key"], b.PickKey)
	assert.Equal(t, a.Headers["Guance-Routing-Key"], b.PickKey)
	assert.Equal(t, "application/x-protobuf", a.Headers["Content-Type"])
	require.Len(t, a.Points, 2)
	for i, p := range a.Points {
		assert.Equal(t, "ddtrace", p.Measurement)
		assert.Equal(t, map[string]string{"service": "checkout"}, p.Tags, "group_by tags are copied as tags")
		assert.Equal(t, []string{"1", "3"}[i], p.Fields["span_id"], "the forked field, root spans only")
		assert.Equal(t, "GET /cart", p.Fields["resource"], "group_by fields are copied as fields")
		assert.Len(t, p.Fields, 2)
	}
}

func TestMetricAggregationFailureIsCountedNotRetried(t *testing.T) {
	s, u := startSim(t)
	f := newFixture(t, []string{u}, nil, rootSpanRule, "")
	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: "/v1/aggregate", Status: http.StatusServiceUnavailable}))
	pts := []*pointpb.PBPoint{span("t1", "1", "0", "ok", 10, 5)}
	rest, err := f.agg.Process(context.Background(), "tracing", pts)
	require.NoError(t, err, "the originals are written anyway; re-sending them would duplicate writes")
	assert.Equal(t, pts, rest)
	assert.Equal(t, 1.0, testutil.ToFloat64(f.agg.m.lost.WithLabelValues(TypeMetric, "tracing", ReasonServer)))
}

func TestSplitBatchs(t *testing.T) {
	c, err := ParseMetricTOML([]byte(rootSpanRule))
	require.NoError(t, err)
	var pts []*pointpb.PBPoint
	for i := range 30 {
		pts = append(pts, span("t", fmt.Sprint(i), "0", "ok", 10, 5))
	}
	bs := pickMetrics(c, "tracing", pts)
	require.Len(t, bs, 1)
	require.Len(t, bs[0].Batchs, 30)
	parts := splitBatchs(bs[0], 1000)
	require.Greater(t, len(parts), 1)
	n := 0
	for _, p := range parts {
		n += len(p.Batchs)
		assert.Equal(t, bs[0].PickKey, p.PickKey)
		if len(p.Batchs) > 1 {
			assert.LessOrEqual(t, protoSize(p), 1000)
		}
	}
	assert.Equal(t, 30, n)
	assert.Len(t, splitBatchs(bs[0], 1), 30, "an oversize batch goes alone")
	assert.Empty(t, pickMetrics(c, "logging", pts), "rules select by category")
}

func TestRemotePull(t *testing.T) {
	s, u := startSim(t)
	reg := prometheus.NewRegistry()
	c, err := dataway.NewClient(dataway.Options{URLs: []string{u}, RetryDelay: time.Millisecond})
	require.NoError(t, err)
	agg, err := New(Options{Config: config.Aggregator{UseLocalConfig: false}, Client: c, Registry: reg})
	require.NoError(t, err)
	require.NoError(t, agg.Start(context.Background(), nil))
	t.Cleanup(func() { _ = agg.Shutdown(context.Background()) })
	assert.False(t, agg.Enabled(), "Dataway has nothing yet")

	mc, err := ParseMetricTOML([]byte(rootSpanRule))
	require.NoError(t, err)
	mj, err := json.Marshal(mc)
	require.NoError(t, err)
	tc, err := ParseTailSamplingTOML([]byte(traceOnly))
	require.NoError(t, err)
	tj, err := tc.JSON()
	require.NoError(t, err)
	require.NoError(t, s.SetPullConfig(sim.PullConfig{Aggr: mj, TailSampling: tj}))
	require.NoError(t, agg.Reload(context.Background()))
	got := agg.cfg.Load()
	require.True(t, got.metric.Enabled())
	assert.Equal(t, mc.Hash(), got.metric.Hash())
	require.True(t, got.tail.Enabled())
	assert.EqualValues(t, 7, got.tail.Version)

	var pulls []string
	for _, r := range s.Requests() {
		if r.Path == PathPull {
			pulls = append(pulls, r.Query)
		}
	}
	assert.Contains(t, pulls, "token=tkn_test&aggr=true")
	assert.Contains(t, pulls, "token=tkn_test&tail-sampling=true")

	// Same version: the loaded object is kept (DataKit replaces it only on a new version).
	prev := got.tail
	require.NoError(t, agg.Reload(context.Background()))
	assert.Same(t, prev, agg.cfg.Load().tail)

	require.NoError(t, s.SetFault(sim.Fault{PathPrefix: PathPull, Status: http.StatusInternalServerError, Count: 1}))
	require.Error(t, agg.Reload(context.Background()))
	assert.True(t, agg.Enabled(), "a failed pull keeps the previous configs")
}

func TestReloadLocal(t *testing.T) {
	_, u := startSim(t)
	f := newFixture(t, []string{u}, nil, "", "")
	assert.False(t, f.agg.Enabled())
	writeConfigs(t, f.dir, rootSpanRule, traceOnly)
	require.NoError(t, f.agg.Reload(context.Background()))
	assert.True(t, f.agg.Enabled())
	writeConfigs(t, f.dir, "[[aggregate_rules]]\n", "")
	err := f.agg.Reload(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aggr.toml: aggregate_rules[0]: select: missing selector")
	assert.True(t, f.agg.cfg.Load().metric.Enabled(), "an invalid file keeps the previous configs")
}

func TestStartFailsOnInvalidLocalConfig(t *testing.T) {
	dir := t.TempDir()
	writeConfigs(t, dir, "", "[trace]\ngroup_key = \"x\"\n")
	c, err := dataway.NewClient(dataway.Options{URLs: []string{"http://127.0.0.1:1?token=x"}})
	require.NoError(t, err)
	agg, err := New(Options{Config: config.Aggregator{UseLocalConfig: true, LocalConfigDir: dir}, Client: c})
	require.NoError(t, err)
	err = agg.Start(context.Background(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tail-sampling.toml: trace.group_key")
}

func protoSize(m interface{ ProtoReflect() protoreflect.Message }) int { return proto.Size(m) }

func TestConsumes(t *testing.T) {
	_, u := startSim(t)
	logOnly := "version = 1\n[logging]\n[[logging.group_dimensions]]\ngroup_key = \"trace_id\"\n"
	for _, tc := range []struct {
		name, aggr, tail string
		want             map[string]bool
	}{
		{"nothing", "", "", map[string]bool{"tracing": false, "logging": false, "metric": false}},
		{"trace section", "", traceOnly, map[string]bool{"tracing": true, "logging": false, "rum": false}},
		{"logging section", "", logOnly, map[string]bool{"tracing": false, "logging": true}},
		{"metric rule on tracing", rootSpanRule, "", map[string]bool{"tracing": true, "logging": false, "metric": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, []string{u}, nil, tc.aggr, tc.tail)
			require.NoError(t, f.agg.Reload(context.Background()))
			for cat, want := range tc.want {
				assert.Equal(t, want, f.agg.Consumes(cat), cat)
				if want {
					continue
				}
				// What Consumes calls untouched, Process returns untouched.
				pts := []*pointpb.PBPoint{span("t1", "s1", "0", "ok", 1, 1), logPoint("t1", "sess", "ok")}
				rest, err := f.agg.Process(context.Background(), cat, pts)
				require.NoError(t, err)
				assert.Equal(t, pts, rest, cat)
			}
		})
	}
}
