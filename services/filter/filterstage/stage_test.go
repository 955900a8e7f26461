package filterstage

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/bus/bustest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/filter"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/telemetry"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// instance is one running filter stage with its own registry.
type instance struct {
	st  *Stage
	reg *prometheus.Registry
}

// configFile writes toml to a file the stage reloads from.
type configFile struct {
	t    testing.TB
	path string
}

func newConfigFile(t testing.TB, toml string) *configFile {
	f := &configFile{t: t, path: filepath.Join(t.TempDir(), "tracekit.toml")}
	f.write(toml)
	return f
}

func (f *configFile) write(toml string) {
	require.NoError(f.t, os.WriteFile(f.path, []byte(toml), 0o600))
}

func (f *configFile) load() (*config.Config, error) {
	l, err := config.Load(f.path, nil)
	if err != nil {
		return nil, err
	}
	return l.Config, nil
}

func startStage(t testing.TB, b *bus.Bus, cf *configFile) *instance {
	t.Helper()
	cfg, err := cf.load()
	require.NoError(t, err)
	reg := telemetry.NewRegistry()
	st, err := New(Settings{
		Bus:    b,
		Config: cfg,
		Build:  Chains(filter.NewBuilder(filter.Options{Registerer: reg, JetStream: b.JetStream()})),
		Reload: cf.load,
	})
	require.NoError(t, err)
	apptest.StartOn(t, &app.Host{Registry: reg}, st)
	return &instance{st: st, reg: reg}
}

// keptCollector counts, by trace id and span id, every span that reaches tracekit.kept.>.
type keptCollector struct {
	mu    sync.Mutex
	spans map[string]int
	trace map[string]int
	total int
}

func collectKept(t *testing.T, b *bus.Bus) *keptCollector {
	t.Helper()
	kc := &keptCollector{spans: map[string]int{}, trace: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		spec := bus.ConsumerSpec{Stream: bus.StreamKept, Subject: bus.KeptPrefix + ">", Durable: "test-kept", MaxWait: 50 * time.Millisecond}
		_ = b.Consume(ctx, spec, func(_ context.Context, msgs []*bus.Msg) {
			for _, m := range msgs {
				tb, err := spanmodel.Unmarshal(m.Data)
				if err != nil {
					t.Errorf("kept message: %v", err)
					continue
				}
				kc.mu.Lock()
				for _, tr := range tb.Traces {
					kc.trace[tr.Spans[0].TraceId]++
					for _, s := range tr.Spans {
						kc.spans[s.TraceId+"/"+s.SpanId]++
						kc.total++
					}
				}
				kc.mu.Unlock()
				_ = m.Ack()
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return kc
}

func (kc *keptCollector) count() int {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return kc.total
}

func (kc *keptCollector) snapshot() (map[string]int, map[string]int) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	s, tr := map[string]int{}, map[string]int{}
	for k, v := range kc.spans {
		s[k] = v
	}
	for k, v := range kc.trace {
		tr[k] = v
	}
	return s, tr
}

// drained reports whether the filter consumer acknowledged everything and the kept
// collector has nothing left to receive.
func drained(t *testing.T, b *bus.Bus) bool {
	ctx := context.Background()
	for stream, durable := range map[string]string{bus.StreamSpans: Durable, bus.StreamKept: "test-kept"} {
		c, err := b.JetStream().Consumer(ctx, stream, durable)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
			return false
		}
	}
	return true
}

func mkBatch(source string, traceIDs []string, spansPer int, opts ...func(*spanv1.DatakitSpan)) *spanv1.TraceBatch {
	b := &spanv1.TraceBatch{Source: source, Input: source, ReceivedUnixNano: 1}
	for _, id := range traceIDs {
		tr := &spanv1.DatakitTrace{}
		for j := 0; j < spansPer; j++ {
			s := &spanv1.DatakitSpan{TraceId: id, SpanId: fmt.Sprint(j + 1), Service: "svc", Resource: "GET /x", Status: "ok", SpanType: "local"}
			for _, o := range opts {
				o(s)
			}
			tr.Spans = append(tr.Spans, s)
		}
		b.Traces = append(b.Traces, tr)
	}
	return b
}

func publish(t *testing.T, b *bus.Bus, batch *spanv1.TraceBatch) {
	t.Helper()
	require.NoError(t, b.PublishBatch(context.Background(), bus.SpansPrefix, batch, ""))
}

func withStatus(s string) func(*spanv1.DatakitSpan) {
	return func(x *spanv1.DatakitSpan) { x.Status = s }
}

func withResource(r string) func(*spanv1.DatakitSpan) {
	return func(x *spanv1.DatakitSpan) { x.Resource = r }
}

func withHTTPCode(c string) func(*spanv1.DatakitSpan) {
	return func(x *spanv1.DatakitSpan) { x.Tags = map[string]string{"http_status_code": c} }
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

const filtersTOML = `
[[inputs.ddtrace]]
  omit_err_status = ["404"]
  [inputs.ddtrace.close_resource]
    "*" = ["^GET /closed$"]
  [inputs.ddtrace.sampler]
    sampling_rate = 0.0
`

// TestStageAppliesTheChain: with sampler 0 only error traces pass; close_resource and
// omit_err_status drop what they should; everything consumed is acknowledged.
func TestStageAppliesTheChain(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	kc := collectKept(t, b)
	inst := startStage(t, b, newConfigFile(t, filtersTOML))

	publish(t, b, mkBatch("ddtrace", []string{"1", "2", "3"}, 2))
	publish(t, b, mkBatch("ddtrace", []string{"10", "11"}, 3, withStatus("error")))
	publish(t, b, mkBatch("ddtrace", []string{"20"}, 2, withResource("GET /closed")))
	publish(t, b, mkBatch("ddtrace", []string{"21"}, 2, withResource("GET /closed"), withStatus("error")))
	publish(t, b, mkBatch("ddtrace", []string{"30"}, 2, withHTTPCode("404")))
	require.Eventually(t, func() bool { return kc.count() >= 8 && drained(t, b) }, 20*time.Second, 20*time.Millisecond)

	_, traces := kc.snapshot()
	assert.Equal(t, map[string]int{"10": 1, "11": 1, "21": 1}, traces, "only error traces survive a 0 sampler")
	assert.InDelta(t, 8, counter(t, inst.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "received"}), 0)
	assert.InDelta(t, 3, counter(t, inst.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "kept", "filter": filter.NameErrorPenetration}), 0)
	assert.InDelta(t, 3, counter(t, inst.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "dropped", "filter": filter.NameSampler}), 0)
	assert.InDelta(t, 1, counter(t, inst.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "dropped", "filter": filter.NameCloseResource}), 0)
	assert.InDelta(t, 1, counter(t, inst.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "dropped", "filter": filter.NameOmitErrStatus}), 0)
	assert.InDelta(t, 18, counter(t, inst.reg, "tracekit_filter_spans_total", map[string]string{"verdict": "received"}), 0)
	assert.InDelta(t, 8, counter(t, inst.reg, "tracekit_filter_spans_total", map[string]string{"verdict": "kept"}), 0)
	assert.InDelta(t, 10, counter(t, inst.reg, "tracekit_filter_spans_total", map[string]string{"verdict": "dropped"}), 0)
	assert.InDelta(t, 8, counter(t, inst.reg, "datakit_input_tracing_total", map[string]string{"input": "ddtrace"}), 0)
}

// TestReloadRejectsBadConfig: an invalid regex or rate is refused, counted, and the running
// chain stays; a good config then takes effect without a restart.
func TestReloadRejectsBadConfig(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	kc := collectKept(t, b)
	cf := newConfigFile(t, filtersTOML)
	inst := startStage(t, b, cf)
	failures := func() float64 { return testutil.ToFloat64(inst.st.m.reloadFailures) }

	for i, bad := range []string{
		strings.Replace(filtersTOML, `"^GET /closed$"`, `"^GET /(closed$"`, 1),
		strings.Replace(filtersTOML, "sampling_rate = 0.0", "sampling_rate = 1.5", 1),
		strings.Replace(filtersTOML, "omit_err_status", "rare_resource_max_keys = -1\n  omit_err_status", 1),
		"[[inputs.ddtrace]\n",
	} {
		cf.write(bad)
		err := inst.st.Reload(context.Background())
		require.Error(t, err, "config %d", i)
		assert.InDelta(t, float64(i+1), failures(), 0)
	}
	cf.write(strings.Replace(filtersTOML, `"^GET /closed$"`, `"^GET /(closed$"`, 1))
	err := inst.st.Reload(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "close_resource", "the error names the key")

	// The old chain still runs: sampler 0, error traces kept.
	publish(t, b, mkBatch("ddtrace", []string{"1"}, 1))
	publish(t, b, mkBatch("ddtrace", []string{"2"}, 1, withStatus("error")))
	require.Eventually(t, func() bool { return kc.count() >= 1 && drained(t, b) }, 20*time.Second, 20*time.Millisecond)
	_, traces := kc.snapshot()
	assert.Equal(t, map[string]int{"2": 1}, traces)

	// A good config is taken: keep everything but the closed resource.
	cf.write(`
[[inputs.ddtrace]]
  [inputs.ddtrace.close_resource]
    "*" = ["^GET /closed$"]
`)
	require.NoError(t, inst.st.Reload(context.Background()))
	publish(t, b, mkBatch("ddtrace", []string{"3"}, 1))
	publish(t, b, mkBatch("ddtrace", []string{"4"}, 1, withResource("GET /closed")))
	require.Eventually(t, func() bool { return kc.count() >= 2 && drained(t, b) }, 20*time.Second, 20*time.Millisecond)
	_, traces = kc.snapshot()
	assert.Equal(t, map[string]int{"2": 1, "3": 1}, traces)
	assert.InDelta(t, 5, failures(), 0, "a good reload does not count as a failure")
}

// TestReloadKeepsInFlightData reloads good and bad configs while batches stream through:
// every trace arrives exactly once.
func TestReloadKeepsInFlightData(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	kc := collectKept(t, b)
	keepAll := "[[inputs.ddtrace]]\n  [inputs.ddtrace.sampler]\n    sampling_rate = 1.0\n"
	keepAll2 := "[[inputs.ddtrace]]\n  omit_err_status = [\"404\"]\n  keep_rare_resource = true\n"
	cf := newConfigFile(t, keepAll)
	inst := startStage(t, b, cf)

	const batches, per = 200, 5
	done := make(chan struct{})
	var reloads, rejected int
	go func() {
		defer close(done)
		for i := 0; i < batches; i++ {
			ids := make([]string, per)
			for j := range ids {
				ids[j] = fmt.Sprintf("%d-%d", i, j)
			}
			publish(t, b, mkBatch("ddtrace", ids, 2))
		}
	}()
	configs := []string{keepAll2, strings.Replace(keepAll, "1.0", "7", 1), keepAll, "[[inputs.ddtrace]]\n  [inputs.ddtrace.close_resource]\n    x = [\"(\"]\n"}
	for i := 0; ; i++ {
		select {
		case <-done:
		default:
			cf.write(configs[i%len(configs)])
			if err := inst.st.Reload(context.Background()); err != nil {
				rejected++
			}
			reloads++
			continue
		}
		break
	}
	require.Eventually(t, func() bool { return kc.count() >= batches*per*2 && drained(t, b) }, 30*time.Second, 20*time.Millisecond)
	spans, traces := kc.snapshot()
	assert.Len(t, traces, batches*per)
	for id, n := range spans {
		require.Equal(t, 1, n, "span %s delivered once", id)
	}
	assert.Len(t, spans, batches*per*2)
	assert.Positive(t, rejected)
	assert.InDelta(t, float64(rejected), testutil.ToFloat64(inst.st.m.reloadFailures), 0)
	t.Logf("%d reloads (%d rejected) while %d batches streamed", reloads, rejected, batches)
}

// TestReloadThroughTheProcess drives the reload the way operators do: POST /-/reload and
// SIGHUP through app.Run.
func TestReloadThroughTheProcess(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	cf := newConfigFile(t, filtersTOML)
	cfg, err := cf.load()
	require.NoError(t, err)
	reg := telemetry.NewRegistry()
	st, err := New(Settings{Bus: b, Config: cfg, Build: Chains(filter.NewBuilder(filter.Options{Registerer: reg})), Reload: cf.load})
	require.NoError(t, err)
	addrCh := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Settings{Registry: reg, Listen: "127.0.0.1:0", Ready: func(a net.Addr) { addrCh <- a }}, st)
	}()
	addr := (<-addrCh).String()
	failures := func() float64 {
		resp, err := http.Get("http://" + addr + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, "tracekit_config_reload_failures_total "); ok {
				var f float64
				_, _ = fmt.Sscan(v, &f)
				return f
			}
		}
		return -1
	}
	reload := func() int {
		resp, err := http.Post("http://"+addr+"/-/reload", "text/plain", nil)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	cf.write(strings.Replace(filtersTOML, "sampling_rate = 0.0", "sampling_rate = 2.0", 1))
	assert.Equal(t, http.StatusBadRequest, reload())
	assert.InDelta(t, 1, failures(), 0)

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool { return failures() == 2 }, 10*time.Second, 10*time.Millisecond, "SIGHUP reloads (and is rejected)")

	cf.write(filtersTOML)
	assert.Equal(t, http.StatusNoContent, reload())
	assert.InDelta(t, 2, failures(), 0)

	cancel()
	require.NoError(t, <-done)
}

// TestScaleOutTwoInstances: two filter instances, each with its own connection to one
// server, share the durable consumer; every trace is processed exactly once and the
// sampler's decisions do not depend on the instance.
func TestScaleOutTwoInstances(t *testing.T) {
	cfg := bustest.Config(t)
	cfg.Listen = freeAddr(t)
	busA := bustest.Open(t, cfg)
	ext := config.NewDefaultConfig().Bus
	ext.URL = "nats://" + cfg.Listen
	busB := bustest.Open(t, ext)
	kc := collectKept(t, busA)

	const rate = 0.5
	toml := fmt.Sprintf("[[inputs.jaeger]]\n  [inputs.jaeger.sampler]\n    sampling_rate = %v\n", rate)
	cf := newConfigFile(t, toml)
	a := startStage(t, busA, cf)
	bb := startStage(t, busB, cf)

	const batches, per = 300, 10
	want := map[string]bool{}
	for i := 0; i < batches; i++ {
		ids := make([]string, per)
		for j := range ids {
			ids[j] = fmt.Sprintf("%016x", uint64(i*per+j)*0x9e3779b97f4a7c15)
			if filter.SampleID(ids[j], uint64(rate*10000)) {
				want[ids[j]] = true
			}
		}
		publish(t, busB, mkBatch("jaeger", ids, 3))
	}
	require.Eventually(t, func() bool { return kc.count() >= len(want)*3 && drained(t, busA) }, 60*time.Second, 20*time.Millisecond)

	spans, traces := kc.snapshot()
	for id, n := range spans {
		require.Equal(t, 1, n, "span %s kept once", id)
	}
	require.Len(t, traces, len(want), "kept = the ids the sampler formula keeps")
	for id := range traces {
		require.True(t, want[id], "trace %s kept although the sampler drops it", id)
	}
	ra := counter(t, a.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "received"})
	rb := counter(t, bb.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "received"})
	assert.InDelta(t, batches*per, ra+rb, 0, "every trace processed exactly once across the instances")
	assert.Positive(t, ra, "instance a took a share")
	assert.Positive(t, rb, "instance b took a share")
	ka := counter(t, a.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "kept"})
	kb := counter(t, bb.reg, "tracekit_filter_traces_total", map[string]string{"verdict": "kept"})
	assert.InDelta(t, len(want), ka+kb, 0)
	t.Logf("instance a: %v traces, b: %v; kept %d of %d", ra, rb, len(want), batches*per)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
