package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

const e2eAggrRules = `
default_window = "10s"
[[aggregate_rules]]
name = "trace_root_span_count"
group_by = ["service", "resource"]
  [aggregate_rules.select]
  category = "tracing"
  measurements = ["opentelemetry"]
  metric_name = ["span_id"]
  condition = '{ parent_id = "0" }'
  [aggregate_rules.algorithms."root_span.count"]
  method = "count"
  source_field = "span_id"
  [aggregate_rules.algorithms."root_span.count".add_tags]
  metric = "root_span_count"
`

const e2eTailSampling = `
version = 3
[trace]
data_ttl = "1m"
  [[trace.sampling_pipeline]]
  name = "keep-error"
  type = "condition"
  condition = '{ status = "error" }'
  action = "keep"
  [[trace.sampling_pipeline]]
  name = "rest"
  type = "probabilistic"
  condition = '{ 1 = 1 }'
  rate = 0.5
`

type simPacket struct {
	Headers map[string]string `json:"headers"`
	Packet  struct {
		GroupIDHash    string `json:"group_id_hash"`
		RawGroupID     string `json:"raw_group_id"`
		Token          string `json:"token"`
		Source         string `json:"source"`
		DataType       string `json:"data_type"`
		ConfigVersion  string `json:"config_version"`
		HasError       bool   `json:"has_error"`
		GroupKey       string `json:"group_key"`
		PointCount     int    `json:"point_count"`
		TraceStart     string `json:"trace_start_time_unix_nano"`
		TraceEnd       string `json:"trace_end_time_unix_nano"`
		MaxPointTime   string `json:"max_point_time_unix_nano"`
		PredError      bool   `json:"pred_error"`
		PredHTTPError  bool   `json:"pred_http_error"`
		MaxSpanDurUs   string `json:"max_span_duration_us"`
		RootDurUs      string `json:"root_duration_us"`
		MaxNonrootDur  string `json:"max_nonroot_duration_us"`
		PredSummaryVer int    `json:"predicate_summary_version"`
	} `json:"packet"`
	Points []harness.Point `json:"points"`
}

// TestAggregatorWithOpenTelemetrySDK runs the all-in-one with aggr.toml and
// tail-sampling.toml in local_config_dir and traces from the OpenTelemetry Go SDK: the
// trace reaches /v1/tail_sampling as one DataPacket with DataKit's fields (and not
// /v1/write/tracing), the first packet's 412 makes tracekit push the config and resend,
// and the root span feeds a trace_root_span_count aggregation batch.
func TestAggregatorWithOpenTelemetrySDK(t *testing.T) {
	sim := harness.StartSim(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "aggr.toml"), []byte(e2eAggrRules), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tail-sampling.toml"), []byte(e2eTailSampling), 0o600))
	stack := harness.StartAllInOne(t, sim, "[[inputs.opentelemetry]]\n  [inputs.opentelemetry.grpc]\n    addr = \""+harness.FreeAddr(t)+"\"\n"+
		"  [inputs.opentelemetry.http]\n    trace_api = \"/otel/v1/traces\"\n",
		harness.WithConfig(fmt.Sprintf("[aggregator]\nuse_local_config = true\nlocal_config_dir = %q\n", dir)))

	// Dataway "lost" its config: the first packet is refused with 412.
	sim.SetFault(t, harness.Fault{PathPrefix: "/v1/tail_sampling", Status: 412, Count: 1})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(stack.HTTPAddr), otlptracehttp.WithURLPath("/otel/v1/traces"), otlptracehttp.WithInsecure())
	require.NoError(t, err)
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("shop")))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	tr := tp.Tracer("e2e")
	t0 := time.Now().Truncate(time.Microsecond)
	at := func(us int) time.Time { return t0.Add(time.Duration(us) * time.Microsecond) }
	rctx, root := tr.Start(ctx, "GET /cart", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(0)))
	_, call := tr.Start(rctx, "SELECT stock", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(100)))
	call.SetStatus(codes.Error, "no stock")
	call.End(trace.WithTimestamp(at(1100)))
	_, cache := tr.Start(rctx, "cache get", trace.WithTimestamp(at(1200)))
	cache.End(trace.WithTimestamp(at(1300)))
	root.End(trace.WithTimestamp(at(2500)))
	traceID := root.SpanContext().TraceID().String()
	require.NoError(t, tp.Shutdown(ctx))

	var pkts []simPacket
	require.Eventually(t, func() bool {
		sim.GetJSON(t, "/v1/_sim/tail_sampling", &pkts)
		n := 0
		for _, p := range pkts {
			n += len(p.Points)
		}
		return n >= 3
	}, 30*time.Second, 50*time.Millisecond, "the trace reaches /v1/tail_sampling")
	require.Len(t, pkts, 1, "one trace, one packet (the refused one is not stored)")
	p := pkts[0].Packet
	assert.Equal(t, traceID, p.RawGroupID)
	assert.NotEmpty(t, p.GroupIDHash)
	assert.Equal(t, p.GroupIDHash, pkts[0].Headers["Guance-Pick-Key"], "a trace's pick key is its group id hash")
	assert.Equal(t, harness.SimToken, p.Token)
	assert.Equal(t, "opentelemetry", p.Source)
	assert.Equal(t, "tracing", p.DataType)
	assert.Equal(t, "3", p.ConfigVersion)
	assert.Empty(t, p.GroupKey)
	assert.Equal(t, 3, p.PointCount)
	assert.True(t, p.HasError, "the client span failed")
	assert.True(t, p.PredError)
	assert.False(t, p.PredHTTPError)
	assert.Equal(t, "2500", p.RootDurUs)
	assert.Equal(t, "2500", p.MaxSpanDurUs)
	assert.Equal(t, "1000", p.MaxNonrootDur)
	assert.Equal(t, strconv.FormatInt(t0.UnixNano(), 10), p.TraceStart)
	assert.Equal(t, strconv.FormatInt(at(2500).UnixNano(), 10), p.TraceEnd)
	assert.Equal(t, strconv.FormatInt(at(1200).UnixNano(), 10), p.MaxPointTime)
	assert.Equal(t, 1, p.PredSummaryVer)
	for _, pt := range pkts[0].Points {
		assert.Equal(t, "opentelemetry", pt.Measurement)
		assert.Equal(t, traceID, pt.Field("trace_id"))
	}

	// 412 → config push → the same packet once more.
	var reqs []struct {
		Path   string `json:"path"`
		Status int    `json:"status"`
	}
	sim.GetJSON(t, "/v1/_sim/requests", &reqs)
	var seq []string
	for _, r := range reqs {
		if r.Path == "/v1/tail_sampling" || r.Path == "/v1/tail_sampling_config" {
			seq = append(seq, fmt.Sprintf("%s %d", r.Path, r.Status))
		}
	}
	require.GreaterOrEqual(t, len(seq), 4)
	assert.Equal(t, "/v1/tail_sampling_config 200", seq[0], "the config is pushed at start")
	assert.Equal(t, []string{"/v1/tail_sampling 412", "/v1/tail_sampling_config 200", "/v1/tail_sampling 200"}, seq[len(seq)-3:])
	var cfgs []struct {
		Config json.RawMessage `json:"config"`
	}
	sim.GetJSON(t, "/v1/_sim/tail_sampling_config", &cfgs)
	require.NotEmpty(t, cfgs)
	var pushed struct {
		Version int64 `json:"version"`
		Trace   struct {
			DataTTL   int64 `json:"data_ttl"`
			Pipelines []struct {
				Name string `json:"name"`
			} `json:"pipelines"`
		} `json:"trace"`
	}
	require.NoError(t, json.Unmarshal(cfgs[len(cfgs)-1].Config, &pushed))
	assert.EqualValues(t, 3, pushed.Version)
	assert.Equal(t, time.Minute.Nanoseconds(), pushed.Trace.DataTTL)
	require.Len(t, pushed.Trace.Pipelines, 2)

	// The root span, and only it, feeds the aggregation rule.
	var aggs []struct {
		Headers map[string]string `json:"headers"`
		Batchs  json.RawMessage   `json:"batchs"`
		Points  []harness.Point   `json:"points"`
	}
	require.Eventually(t, func() bool {
		sim.GetJSON(t, "/v1/_sim/aggregate", &aggs)
		return len(aggs) > 0
	}, 30*time.Second, 50*time.Millisecond)
	require.Len(t, aggs, 1)
	require.Len(t, aggs[0].Points, 1)
	ap := aggs[0].Points[0]
	assert.Equal(t, "opentelemetry", ap.Measurement)
	assert.Equal(t, root.SpanContext().SpanID().String(), ap.Field("span_id"))
	assert.Equal(t, "shop", ap.Tags["service"])
	assert.Equal(t, "GET /cart", ap.Field("resource"))
	var b struct {
		PickKey string `json:"pick_key"`
		Batchs  []struct {
			AggregationOpts map[string]struct {
				Method  string            `json:"method"`
				Window  string            `json:"window"`
				AddTags map[string]string `json:"add_tags"`
			} `json:"aggregation_opts"`
		} `json:"batchs"`
	}
	require.NoError(t, json.Unmarshal(aggs[0].Batchs, &b))
	require.Len(t, b.Batchs, 1)
	algo := b.Batchs[0].AggregationOpts["root_span.count"]
	assert.Equal(t, "count", algo.Method)
	assert.Equal(t, strconv.FormatInt((10*time.Second).Nanoseconds(), 10), algo.Window)
	assert.Equal(t, map[string]string{"metric": "root_span_count"}, algo.AddTags)
	assert.Equal(t, b.PickKey, aggs[0].Headers["Guance-Pick-Key"])

	// Tail sampling consumed the tracing points: nothing was written to /v1/write/tracing.
	assert.Empty(t, sim.Points(t, "tracing"))
}
