package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/reporter"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// scaleInputs enables OTLP (gRPC on grpcAddr, and HTTP) and Zipkin.
func scaleInputs(grpcAddr string) string {
	return fmt.Sprintf(`
[[inputs.opentelemetry]]
  [inputs.opentelemetry.grpc]
    addr = %q
  [inputs.opentelemetry.http]
    trace_api = "/otel/v1/traces"

[[inputs.zipkin]]
`, grpcAddr)
}

// maxSpansPerRequest bounds the spans of one SDK request, hence of one bus message: a
// redelivered message can duplicate at most this many spans.
const maxSpansPerRequest = 50

// ackLog records the spans the backend acknowledged to an SDK: exactly those must arrive.
type ackLog struct {
	mu       sync.Mutex
	acked    map[string]bool
	failures int // requests that failed for good (their spans were never acknowledged)
}

func (a *ackLog) add(keys []string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failures++
		return
	}
	for _, k := range keys {
		a.acked[k] = true
	}
}

func (a *ackLog) snapshot() (map[string]bool, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]bool, len(a.acked))
	for k := range a.acked {
		out[k] = true
	}
	return out, a.failures
}

// ackExporter is the OTLP exporter, recording what each export got acknowledged (after the
// exporter's own retries).
type ackExporter struct {
	sdktrace.SpanExporter
	log *ackLog
}

func (e ackExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	keys := make([]string, len(spans))
	for i, s := range spans {
		keys[i] = s.SpanContext().TraceID().String() + "/" + s.SpanContext().SpanID().String()
	}
	e.log.add(keys, err)
	return err
}

// zipkinAckDoer is the Zipkin reporter's HTTP client, recording the spans of each 2xx post.
type zipkinAckDoer struct{ log *ackLog }

func (d zipkinAckDoer) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, doErr := http.DefaultClient.Do(req)
	err = doErr
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("zipkin post: %s", resp.Status)
	}
	var spans []struct {
		TraceID string `json:"traceId"`
		ID      string `json:"id"`
	}
	if err == nil {
		err = json.Unmarshal(body, &spans)
	}
	keys := make([]string, len(spans))
	for i, s := range spans {
		keys[i] = s.TraceID + "/" + s.ID
	}
	d.log.add(keys, err)
	return resp, doErr
}

// loadTargets are where the SDKs send: an OTLP gRPC address, an OTLP/HTTP host:port
// (/otel/v1/traces) and a Zipkin host:port (/api/v2/spans).
type loadTargets struct{ GRPC, HTTP, Zipkin string }

// spanLoad runs three real SDKs (OpenTelemetry over gRPC and over HTTP, zipkin-go) in a
// background goroutine: every tick, one trace of three spans per SDK.
type spanLoad struct {
	acks      *ackLog
	providers []*sdktrace.TracerProvider
	zrep      reporter.Reporter
	traces    atomic.Int64
	stop      chan struct{}
	done      chan struct{}
	stopped   bool
}

func startSpanLoad(t *testing.T, to loadTargets, tick time.Duration) *spanLoad {
	t.Helper()
	l := &spanLoad{acks: &ackLog{acked: map[string]bool{}}, stop: make(chan struct{}), done: make(chan struct{})}
	ctx := context.Background()
	// Retries bridge a receiver that restarts: gRPC retries Unavailable (connection refused),
	// HTTP retries 429/503. The short reconnect backoff keeps a restart from stalling gRPC.
	grpcExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(to.GRPC), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 500 * time.Millisecond, MaxElapsedTime: 30 * time.Second}),
		otlptracegrpc.WithDialOption(grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 500 * time.Millisecond}, MinConnectTimeout: time.Second})))
	require.NoError(t, err)
	httpExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(to.HTTP), otlptracehttp.WithURLPath("/otel/v1/traces"), otlptracehttp.WithInsecure(),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 500 * time.Millisecond, MaxElapsedTime: 30 * time.Second}))
	require.NoError(t, err)
	var tracers []trace.Tracer
	for name, exp := range map[string]sdktrace.SpanExporter{"load-grpc": grpcExp, "load-http": httpExp} {
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
			sdktrace.WithSampler(sdktrace.AlwaysSample()),
			// Blocking and a big queue: the SDK never drops a span on its side, so every span
			// is either acknowledged or reported failed by the exporter.
			sdktrace.WithBatcher(ackExporter{SpanExporter: exp, log: l.acks},
				sdktrace.WithBatchTimeout(50*time.Millisecond), sdktrace.WithMaxExportBatchSize(maxSpansPerRequest),
				sdktrace.WithMaxQueueSize(100_000), sdktrace.WithBlocking(), sdktrace.WithExportTimeout(45*time.Second)),
		)
		l.providers = append(l.providers, tp)
		tracers = append(tracers, tp.Tracer("e2e-load"))
	}
	l.zrep = zipkinhttp.NewReporter("http://"+to.Zipkin+"/api/v2/spans", zipkinhttp.Client(zipkinAckDoer{log: l.acks}),
		zipkinhttp.BatchSize(maxSpansPerRequest), zipkinhttp.BatchInterval(50*time.Millisecond), zipkinhttp.MaxBacklog(100_000))
	zt := zipkinTracer(t, l.zrep, "load-zipkin")

	go func() {
		defer close(l.done)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-tk.C:
			}
			for _, tr := range tracers {
				ctx, root := tr.Start(context.Background(), fmt.Sprintf("GET /load/%d", i%7), trace.WithSpanKind(trace.SpanKindServer))
				cctx, call := tr.Start(ctx, "SELECT load", trace.WithSpanKind(trace.SpanKindClient))
				_, inner := tr.Start(cctx, "decode")
				inner.End()
				call.End()
				root.End()
			}
			root := zt.StartSpan(fmt.Sprintf("get /load/%d", i%7), zipkin.Kind(model.Server))
			call := zt.StartSpan("select load", zipkin.Kind(model.Client), zipkin.Parent(root.Context()))
			inner := zt.StartSpan("decode", zipkin.Parent(call.Context()))
			inner.Finish()
			call.Finish()
			root.Finish()
			l.traces.Add(int64(len(tracers) + 1))
		}
	}()
	t.Cleanup(func() { l.Stop(t) })
	return l
}

// WaitTraces waits until the generator produced n more traces than when called.
func (l *spanLoad) WaitTraces(t *testing.T, n int64) {
	t.Helper()
	target := l.traces.Load() + n
	require.Eventually(t, func() bool { return l.traces.Load() >= target }, 30*time.Second, 10*time.Millisecond, "load generator stalled")
}

// Stop ends the load and flushes the SDKs; it returns every acknowledged span.
func (l *spanLoad) Stop(t *testing.T) map[string]bool {
	t.Helper()
	if !l.stopped {
		l.stopped = true
		close(l.stop)
		<-l.done
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for _, tp := range l.providers {
			assert.NoError(t, tp.Shutdown(ctx), "the SDK flushes on shutdown")
		}
		assert.NoError(t, l.zrep.Close())
	}
	acked, failures := l.acks.snapshot()
	t.Logf("load: %d traces generated, %d spans acknowledged, %d requests failed for good", l.traces.Load(), len(acked), failures)
	return acked
}

// simStored is the number of points dataway-sim holds (cheap to poll).
func simStored(t *testing.T, sim *harness.Sim) (stored, evicted int64) {
	t.Helper()
	var st struct {
		Stored  int64 `json:"points_stored"`
		Evicted int64 `json:"points_evicted"`
	}
	sim.GetJSON(t, "/v1/_sim/stats", &st)
	return st.Stored, st.Evicted
}

// waitDelivered waits until every acknowledged span reached dataway-sim and returns the
// number of copies of each span received (unacknowledged ones included).
func waitDelivered(t *testing.T, sim *harness.Sim, acked map[string]bool, timeout time.Duration) map[string]int {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var missing []string
	for {
		if stored, _ := simStored(t, sim); stored >= int64(len(acked)) {
			got := spanKeys(sim.Points(t, "tracing"))
			missing = missing[:0]
			for k := range acked {
				if got[k] == 0 {
					missing = append(missing, k)
				}
			}
			if len(missing) == 0 {
				t.Logf("all %d acknowledged spans delivered %s after the load stopped", len(acked), time.Since(start).Round(100*time.Millisecond))
				return got
			}
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			if len(missing) > 10 {
				missing = missing[:10]
			}
			stored, _ := simStored(t, sim)
			t.Fatalf("acknowledged spans lost: %d acknowledged, dataway-sim holds %d points; first missing: %v", len(acked), stored, missing)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// duplicates counts the extra copies of spans delivered more than once.
func duplicates(got map[string]int) (spans, copies int) {
	for _, n := range got {
		if n > 1 {
			spans++
			copies += n - 1
		}
	}
	return spans, copies
}

// TestScaleOut runs the split topology scaled out on one external nats-server: 2 filters,
// 2 senders, receiver-otlp, receiver-zipkin, dataway-sim. Three real SDKs send continuously;
// mid-stream one filter and one sender are killed with SIGKILL and replaced. Every span the
// SDKs got acknowledged must reach Dataway; duplicates are allowed only as far as the
// senders' at-least-once redeliveries explain them; every instance took a share of the work.
func TestScaleOut(t *testing.T) {
	sim := harness.StartSim(t)
	_, natsURL := harness.StartNATS(t)
	grpcAddr := harness.FreeAddr(t)
	cfg := harness.WriteConfig(t, sim, natsURL, scaleInputs(grpcAddr))
	senders := harness.StartInstances(t, "sender", cfg, 2)
	filters := harness.StartInstances(t, "filter", cfg, 2)
	otlp := harness.StartInstance(t, "receiver-otlp", cfg)
	zk := harness.StartInstance(t, "receiver-zipkin", cfg)

	filterIn := func(in *harness.Instance) float64 {
		return metricSum(t, in.Admin, "tracekit_filter_stage_spans_total", `direction="in"`)
	}
	senderSent := func(in *harness.Instance) float64 {
		return metricSum(t, in.Admin, "tracekit_dataway_points_total", `result="sent"`)
	}
	allWorked := func(fs, ss []*harness.Instance) func() bool {
		return func() bool {
			for _, f := range fs {
				if filterIn(f) == 0 {
					return false
				}
			}
			for _, s := range ss {
				if senderSent(s) == 0 {
					return false
				}
			}
			return true
		}
	}

	load := startSpanLoad(t, loadTargets{GRPC: grpcAddr, HTTP: otlp.Admin, Zipkin: zk.Admin}, 10*time.Millisecond)
	require.Eventually(t, allWorked(filters, senders), 30*time.Second, 100*time.Millisecond, "both filters and both senders work")
	load.WaitTraces(t, 1500)

	// What the victims did is gone with them: read it now.
	victimF, victimS := filterIn(filters[0]), senderSent(senders[0])
	filters[0].Kill(t)
	senders[0].Kill(t)
	t.Logf("killed filter 0 after %v spans in, sender 0 after %v points sent", victimF, victimS)
	filters = append(filters, harness.StartInstance(t, "filter", cfg))
	senders = append(senders, harness.StartInstance(t, "sender", cfg))
	require.Eventually(t, allWorked(filters[1:], senders[1:]), 30*time.Second, 100*time.Millisecond, "the survivors and the replacements work")
	load.WaitTraces(t, 1500)
	acked := load.Stop(t)
	require.Greater(t, len(acked), 6000, "enough load to mean something")
	_, failures := load.acks.snapshot()

	// The killed filter's unacknowledged fetch comes back after its ack wait (30s).
	got := waitDelivered(t, sim, acked, 60*time.Second)
	_, evicted := simStored(t, sim)
	require.Zero(t, evicted, "dataway-sim kept every point")

	if failures == 0 {
		// Every request was acknowledged, so anything else in Dataway came from nowhere.
		for k := range got {
			require.True(t, acked[k], "span %s delivered but never sent", k)
		}
	}
	dupSpans, dupCopies := duplicates(got)
	var redelivered float64
	for _, s := range senders[1:] {
		redelivered += metricSum(t, s.Admin, "tracekit_bus_redelivered_messages_total", `stream="TRACEKIT_KEPT"`)
	}
	t.Logf("%d spans acknowledged, %d distinct delivered; %d spans delivered twice or more (%d extra copies); %v kept messages redelivered to the senders",
		len(acked), len(got), dupSpans, dupCopies, redelivered)
	assert.LessOrEqual(t, float64(dupCopies), redelivered*maxSpansPerRequest,
		"every duplicate comes from a redelivered message (at most %d spans each)", maxSpansPerRequest)

	var fTotal, sTotal float64
	for i, f := range filters[1:] {
		n := filterIn(f)
		fTotal += n
		assert.Positive(t, n, "filter %d took a share", i+1)
		t.Logf("filter %d: %v spans in", i+1, n)
	}
	for i, s := range senders[1:] {
		n := senderSent(s)
		sTotal += n
		assert.Positive(t, n, "sender %d took a share", i+1)
		t.Logf("sender %d: %v points sent", i+1, n)
	}
	assert.Positive(t, victimF, "the killed filter had taken a share")
	assert.Positive(t, victimS, "the killed sender had taken a share")
	// Each instance's share is real, not a token message: no instance did (nearly) all.
	for i, f := range filters[1:] {
		assert.Less(t, filterIn(f), 0.95*(fTotal+victimF), "filter %d did not do nearly everything", i+1)
	}
	for i, s := range senders[1:] {
		assert.Less(t, senderSent(s), 0.95*(sTotal+victimS), "sender %d did not do nearly everything", i+1)
	}
}
