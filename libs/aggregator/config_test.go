package aggregator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const rootSpanRule = `
default_window = "15s"

[[aggregate_rules]]
name = "trace_root_span_count"
group_by = ["service", "resource"]
  [aggregate_rules.select]
  category = "tracing"
  metric_name = ["span_id"]
  condition = '{ parent_id = "0" }'
  [aggregate_rules.algorithms."root_span.count"]
  method = "count"
  source_field = "span_id"
  [aggregate_rules.algorithms."root_span.count".add_tags]
  metric = "root_span_count"
`

const tailSampling = `
version = 2
[trace]
data_ttl = "1m"
  [[trace.sampling_pipeline]]
  name = "keep-error"
  type = "condition"
  condition = '{ status = "error" }'
  action = "keep"
  [[trace.sampling_pipeline]]
  name = "never"
  type = "probabilistic"
  condition = '{ 1 = 1 }'
  rate = 0
  [[trace.sampling_pipeline]]
  name = "sample-rest"
  type = "probabilistic"
  condition = '{ 1 = 1 }'
  rate = 0.1
  [[trace.builtin_metrics]]
  name = "trace_duration"
  enabled = false
[logging]
  [[logging.group_dimensions]]
  group_key = "trace_id"
    [[logging.group_dimensions.pipelines]]
    name = "all"
    type = "probabilistic"
    condition = '{ 1 = 1 }'
    rate = 1.0
`

func TestParseMetricConfig(t *testing.T) {
	c, err := ParseMetricTOML([]byte(rootSpanRule))
	require.NoError(t, err)
	require.Len(t, c.AggregateRules, 1)
	r := c.AggregateRules[0]
	assert.Equal(t, []string{"resource", "service"}, r.GroupBy, "group_by is sorted")
	assert.Equal(t, Duration(15*time.Second), r.Algorithms["root_span.count"].Window, "window <= 10 takes default_window")
	assert.NotZero(t, c.Hash())
	c2, err := ParseMetricTOML([]byte(rootSpanRule))
	require.NoError(t, err)
	assert.Equal(t, c.Hash(), c2.Hash(), "the hash is a function of the rules")

	// The JSON form (remote mode) reads the same rules; default_window is nanoseconds.
	j, err := json.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(j), `"default_window":15000000000`)
	c3, err := ParseMetricJSON(j)
	require.NoError(t, err)
	assert.Equal(t, c.Hash(), c3.Hash())
}

func TestParseTailSamplingConfig(t *testing.T) {
	c, err := ParseTailSamplingTOML([]byte(tailSampling))
	require.NoError(t, err)
	require.NotNil(t, c.Trace)
	assert.Equal(t, "trace_id", c.Trace.GroupKey, "group_key defaults to trace_id")
	assert.Equal(t, Duration(time.Minute), c.Trace.DataTTL)
	require.Len(t, c.Trace.Pipelines, 2, "rate <= 0 pipelines are removed")
	assert.Equal(t, "sample-rest", c.Trace.Pipelines[1].Name)
	assert.Equal(t, Duration(time.Minute), c.Logging.DataTTL, "logging data_ttl defaults to 1m")
	require.Len(t, c.Trace.BuiltinMetrics, len(traceBuiltins))

	j, err := c.JSON()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(j, &m))
	assert.EqualValues(t, 2, m["version"])
	tr := m["trace"].(map[string]any)
	assert.EqualValues(t, time.Minute.Nanoseconds(), tr["data_ttl"], "data_ttl is pushed in ns")
	ps := tr["pipelines"].([]any)
	require.Len(t, ps, 2, "pipelines under the JSON key pipelines")
	assert.Equal(t, map[string]any{"name": "keep-error", "type": "condition", "condition": `{ status = "error" }`, "action": "keep", "hash_keys": nil}, ps[0])
	assert.NotContains(t, m, "rum")
	for _, b := range tr["builtin_metrics"].([]any) {
		bm := b.(map[string]any)
		assert.Equal(t, bm["name"] != "trace_duration", bm["enabled"], bm["name"])
	}

	back, err := ParseTailSamplingJSON(j)
	require.NoError(t, err)
	assert.Equal(t, c.Trace.Pipelines, back.Trace.Pipelines)
}

func TestConfigValidation(t *testing.T) {
	rule := func(body string) string {
		return "[[aggregate_rules]]\nname = \"r\"\n" + body
	}
	okSelect := "[aggregate_rules.select]\ncategory = \"tracing\"\nmetric_name = [\"duration\"]\n"
	algo := func(body string) string { return "[aggregate_rules.algorithms.out]\n" + body }
	metric := []struct{ name, src, want string }{
		{"unknown method", rule(okSelect + algo(`method = "median"`)), `aggregate_rules[0] "r": algorithms."out".method: unknown method "median"`},
		{"expo histogram", rule(okSelect + algo(`method = "expo_histogram"`)), `algorithms."out".method: expo_histogram is not supported`},
		{"quantiles without percentiles", rule(okSelect + algo(`method = "quantiles"`)), `algorithms."out".quantile_opts.percentiles: required`},
		{"percentile out of range", rule(okSelect + algo("method = \"quantiles\"\nquantile_opts = { percentiles = [0.5, 1.5] }")), `quantile_opts.percentiles: 1.5 is outside [0,1]`},
		{"missing selector", rule(algo(`method = "count"`)), `aggregate_rules[0] "r": select: missing selector`},
		{"bad category", rule("[aggregate_rules.select]\ncategory = \"spans\"\nmetric_name = [\"x\"]\n" + algo(`method = "count"`)), `select.category: invalid category "spans"`},
		{"no metric_name", rule("[aggregate_rules.select]\ncategory = \"tracing\"\n" + algo(`method = "count"`)), `select.metric_name: required`},
		{"bad condition", rule("[aggregate_rules.select]\ncategory = \"tracing\"\nmetric_name = [\"x\"]\ncondition = '{ a == 1 }'\n" + algo(`method = "count"`)), `select.condition: condition "{ a == 1 }"`},
		{"no algorithms", rule(okSelect), `aggregate_rules[0] "r": algorithms: at least one algorithm`},
		{"bad action", "action = \"keep\"\n", `action: "keep" is not`},
		{"unknown key", "default_windows = \"1s\"\n", `unknown keys: default_windows`},
		{"bad window", "default_window = \"fast\"\n", `default_window`},
	}
	for _, tt := range metric {
		t.Run("aggr/"+tt.name, func(t *testing.T) {
			_, err := ParseMetricTOML([]byte(tt.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	tail := []struct{ name, src, want string }{
		{"group key", "[trace]\ngroup_key = \"span_id\"\n", `trace.group_key: only "trace_id" is allowed`},
		{"pipeline type", "[trace]\n[[trace.sampling_pipeline]]\nname = \"p\"\ntype = \"random\"\n", `trace.sampling_pipeline[0] "p": type: "random"`},
		{"pipeline action", "[trace]\n[[trace.sampling_pipeline]]\nname = \"p\"\ntype = \"condition\"\ncondition = '{ 1 = 1 }'\naction = \"maybe\"\n", `trace.sampling_pipeline[0] "p": action: "maybe"`},
		{"pipeline condition", "[trace]\n[[trace.sampling_pipeline]]\nname = \"p\"\ntype = \"condition\"\ncondition = 'status = 1'\naction = \"keep\"\n", `trace.sampling_pipeline[0] "p": condition:`},
		{"rate", "[trace]\n[[trace.sampling_pipeline]]\nname = \"p\"\ntype = \"probabilistic\"\nrate = 2.0\n", `trace.sampling_pipeline[0] "p": rate: 2 is not in [0,1]`},
		{"derived", "[trace]\n[[trace.derived_metrics]]\nname = \"x\"\n", `trace.derived_metrics: not supported yet`},
		{"builtin", "[trace]\n[[trace.builtin_metrics]]\nname = \"span_count\"\nenabled = true\n", `trace.builtin_metrics[0]: name: unknown metric "span_count"`},
		{"dimension key", "[rum]\n[[rum.group_dimensions]]\n", `rum.group_dimensions[0]: group_key: required`},
		{"dimension pipeline", "[logging]\n[[logging.group_dimensions]]\ngroup_key = \"trace_id\"\n[[logging.group_dimensions.pipelines]]\nname = \"q\"\ntype = \"x\"\n", `logging.group_dimensions[0].pipelines[0] "q": type`},
		{"unknown key", "[trace]\nttl = \"1m\"\n", `unknown keys: trace.ttl`},
	}
	for _, tt := range tail {
		t.Run("tail/"+tt.name, func(t *testing.T) {
			_, err := ParseTailSamplingTOML([]byte(tt.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLoadLocal(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Aggregator{UseLocalConfig: true, LocalConfigDir: dir, LocalMetricConfigFile: "aggr.toml", LocalTailSamplingConfigFile: "tail-sampling.toml"}
	got, err := loadLocal(cfg)
	require.NoError(t, err, "missing files mean off")
	assert.False(t, got.metric.Enabled())
	assert.False(t, got.tail.Enabled())

	require.NoError(t, os.WriteFile(filepath.Join(dir, "aggr.toml"), []byte(rootSpanRule), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tail-sampling.toml"), []byte(tailSampling), 0o600))
	got, err = loadLocal(cfg)
	require.NoError(t, err)
	assert.True(t, got.metric.Enabled())
	assert.True(t, got.tail.Enabled())

	require.NoError(t, os.WriteFile(filepath.Join(dir, "aggr.toml"), []byte("[[aggregate_rules]]\nname = \"bad\"\n"), 0o600))
	_, err = loadLocal(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "aggr.toml")+`: aggregate_rules[0] "bad": select: missing selector`)
}
