package aggregator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/cespare/xxhash/v2"
	"github.com/tracekit/tracekit/libs/condition"
)

// Duration is a time.Duration that reads "15s" or a number of nanoseconds (TOML and
// JSON) and is written as nanoseconds in JSON, as Go's encoding/json writes DataKit's
// time.Duration fields.
type Duration time.Duration

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		return d.parse(x)
	case int64:
		*d = Duration(x)
		return nil
	case float64:
		*d = Duration(int64(x))
		return nil
	}
	return fmt.Errorf("want a duration string or nanoseconds, got %T", v)
}

// UnmarshalJSON accepts nanoseconds or a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return d.parse(s)
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a duration string or nanoseconds: %w", err)
	}
	if i, err := n.Int64(); err == nil {
		*d = Duration(i)
		return nil
	}
	f, err := n.Float64()
	if err != nil {
		return err
	}
	*d = Duration(int64(f))
	return nil
}

// MarshalJSON writes nanoseconds.
func (d Duration) MarshalJSON() ([]byte, error) { return strconv.AppendInt(nil, int64(d), 10), nil }

func (d *Duration) parse(s string) error {
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Categories a rule may select (cliutils' RuleSelector.Setup).
var ruleCategories = []string{"metric", "network", "keyevent", "object", "object_change", "custom_object",
	"logging", "tracing", "rum", "security", "profiling", "dialtesting", "agent_llm"}

// Aggregation methods Dataway computes; merge_histogram is normalised to histogram.
var methods = []string{"sum", "avg", "count", "min", "max", "histogram", "stdev", "quantiles",
	"count_distinct", "last", "first"}

// MetricConfig is aggr.toml (cliutils' AggregatorConfigure).
type MetricConfig struct {
	DefaultWindow    Duration         `toml:"default_window" json:"default_window"`
	AggregateRules   []*AggregateRule `toml:"aggregate_rules" json:"aggregate_rules"`
	Action           string           `toml:"action" json:"action"`
	DeleteRulesPoint bool             `toml:"delete_rules_point" json:"delete_rules_point"`

	hash uint64
}

// AggregateRule is one [[aggregate_rules]].
type AggregateRule struct {
	Name       string                `toml:"name" json:"name"`
	Selector   *RuleSelector         `toml:"select" json:"select"`
	GroupBy    []string              `toml:"group_by" json:"group_by"`
	Algorithms map[string]*Algorithm `toml:"algorithms" json:"algorithms"`
}

// RuleSelector picks the points and fields a rule aggregates.
type RuleSelector struct {
	Category     string   `toml:"category" json:"category"`
	Measurements []string `toml:"measurements" json:"measurements"`
	MetricName   []string `toml:"metric_name" json:"metric_name"`
	Condition    string   `toml:"condition" json:"condition"`

	cond *condition.Expr
}

// Algorithm is one output field's aggregation (aggregate.v1.AggregationAlgo).
type Algorithm struct {
	Method        string            `toml:"method" json:"method"`
	SourceField   string            `toml:"source_field" json:"source_field"`
	Window        Duration          `toml:"window" json:"window"`
	HistogramOpts *HistogramOptions `toml:"histogram_opts" json:"histogram_opts,omitempty"`
	QuantileOpts  *QuantileOptions  `toml:"quantile_opts" json:"quantile_opts,omitempty"`
	ExpoOpts      *ExpoOptions      `toml:"expo_opts" json:"expo_opts,omitempty"`
	AddTags       map[string]string `toml:"add_tags" json:"add_tags,omitempty"`
}

// HistogramOptions are the bucket bounds of a histogram.
type HistogramOptions struct {
	Buckets []float64 `toml:"buckets" json:"buckets"`
}

// QuantileOptions are the percentiles (0..1) of a quantiles aggregation.
type QuantileOptions struct {
	Percentiles []float64 `toml:"percentiles" json:"percentiles"`
}

// ExpoOptions configure an exponential histogram (refused by Setup, as in cliutils).
type ExpoOptions struct {
	MaxScale     int32 `toml:"max_scale" json:"max_scale"`
	MaxBuckets   int32 `toml:"max_buckets" json:"max_buckets"`
	RecordMinMax bool  `toml:"record_min_max" json:"record_min_max"`
}

// Hash is the xxhash64 of the rule set's JSON view (AggregationBatch.config_hash).
func (c *MetricConfig) Hash() uint64 { return c.hash }

// Enabled reports whether there is at least one rule.
func (c *MetricConfig) Enabled() bool { return c != nil && len(c.AggregateRules) > 0 }

// setup validates the config, applies defaults and compiles conditions; every error
// names the rule and the key.
func (c *MetricConfig) setup() error {
	var errs []error
	switch c.Action {
	case "", "passthrough", "drop":
	default:
		errs = append(errs, fmt.Errorf("action: %q is not \"\", \"passthrough\" or \"drop\"", c.Action))
	}
	if c.DefaultWindow < 0 {
		errs = append(errs, errors.New("default_window: must not be negative"))
	}
	for i, r := range c.AggregateRules {
		if r == nil {
			continue
		}
		where := fmt.Sprintf("aggregate_rules[%d]", i)
		if r.Name != "" {
			where += fmt.Sprintf(" %q", r.Name)
		}
		add := func(key string, err error) { errs = append(errs, fmt.Errorf("%s: %s: %w", where, key, err)) }
		sel := r.Selector
		switch {
		case sel == nil:
			add("select", errors.New("missing selector"))
		case sel.Category == "":
			add("select.category", errors.New("required"))
		case !slices.Contains(ruleCategories, sel.Category):
			add("select.category", fmt.Errorf("invalid category %q", sel.Category))
		}
		if sel != nil {
			if len(sel.MetricName) == 0 {
				add("select.metric_name", errors.New("required: the fields to aggregate"))
			}
			e, err := condition.Compile(sel.Condition)
			if err != nil {
				add("select.condition", err)
			}
			sel.cond = e
		}
		if len(r.Algorithms) == 0 {
			add("algorithms", errors.New("at least one algorithm is required"))
		}
		for _, name := range sortedKeys(r.Algorithms) {
			a := r.Algorithms[name]
			key := fmt.Sprintf("algorithms.%q", name)
			if a == nil {
				add(key, errors.New("empty"))
				continue
			}
			if a.Method == "merge_histogram" {
				a.Method = "histogram"
			}
			switch {
			case a.Method == "expo_histogram":
				add(key+".method", errors.New("expo_histogram is not supported"))
			case !slices.Contains(methods, a.Method):
				add(key+".method", fmt.Errorf("unknown method %q", a.Method))
			case a.Method == "quantiles":
				if a.QuantileOpts == nil || len(a.QuantileOpts.Percentiles) == 0 {
					add(key+".quantile_opts.percentiles", errors.New("required for quantiles"))
					break
				}
				for _, p := range a.QuantileOpts.Percentiles {
					if p < 0 || p > 1 {
						add(key+".quantile_opts.percentiles", fmt.Errorf("%v is outside [0,1]", p))
					}
				}
			}
			if a.Window <= 10 {
				a.Window = c.DefaultWindow
			}
		}
		slices.Sort(r.GroupBy)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	j, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("hash rules: %w", err)
	}
	c.hash = xxhash.Sum64(j)
	return nil
}

// TailSamplingConfig is tail-sampling.toml (cliutils' TailSamplingConfigs). Its JSON form
// is what /v1/tail_sampling_config receives.
type TailSamplingConfig struct {
	Version int64          `toml:"version" json:"version"`
	Trace   *TraceSampling `toml:"trace" json:"trace,omitempty"`
	Logging *GroupSampling `toml:"logging" json:"logging,omitempty"`
	RUM     *GroupSampling `toml:"rum" json:"rum,omitempty"`
}

// TraceSampling is the [trace] section.
type TraceSampling struct {
	DataTTL        Duration            `toml:"data_ttl" json:"data_ttl"`
	Version        int64               `toml:"version" json:"version"`
	GroupKey       string              `toml:"group_key" json:"group_key"`
	Pipelines      []*SamplingPipeline `toml:"sampling_pipeline" json:"pipelines"`
	BuiltinMetrics []*BuiltinMetric    `toml:"builtin_metrics" json:"builtin_metrics,omitempty"`
	DerivedMetrics []map[string]any    `toml:"derived_metrics" json:"derived_metrics,omitempty"`
}

// GroupSampling is the [logging] or [rum] section.
type GroupSampling struct {
	DataTTL         Duration          `toml:"data_ttl" json:"data_ttl"`
	Version         int64             `toml:"version" json:"version"`
	GroupDimensions []*GroupDimension `toml:"group_dimensions" json:"group_dimensions"`
	BuiltinMetrics  []*BuiltinMetric  `toml:"builtin_metrics" json:"builtin_metrics,omitempty"`
}

// GroupDimension groups logging/RUM points by one key.
type GroupDimension struct {
	GroupKey  string              `toml:"group_key" json:"group_key"`
	Pipelines []*SamplingPipeline `toml:"pipelines" json:"pipelines"`
}

// SamplingPipeline is one decision step, evaluated on Dataway.
type SamplingPipeline struct {
	Name      string   `toml:"name" json:"name"`
	Type      string   `toml:"type" json:"type"`
	Condition string   `toml:"condition" json:"condition"`
	Action    string   `toml:"action" json:"action"`
	Rate      float64  `toml:"rate" json:"rate,omitempty"`
	HashKeys  []string `toml:"hash_keys" json:"hash_keys"`
}

// BuiltinMetric switches one of Dataway's built-in tail-sampling metrics.
type BuiltinMetric struct {
	Name    string `toml:"name" json:"name"`
	Enabled bool   `toml:"enabled" json:"enabled"`
}

// Built-in metric names per section (all on unless listed as disabled).
var (
	traceBuiltins   = []string{"trace_total_count", "trace_kept_count", "trace_dropped_count", "trace_error_count", "span_total_count", "trace_duration"}
	loggingBuiltins = []string{"logging_total_count", "logging_error_count", "logging_kept_count", "logging_dropped_count"}
	rumBuiltins     = []string{"rum_total_count", "rum_kept_count", "rum_dropped_count"}
)

// Enabled reports whether any section is configured.
func (c *TailSamplingConfig) Enabled() bool {
	return c != nil && (c.Trace != nil || c.Logging != nil || c.RUM != nil)
}

// JSON is the body pushed to /v1/tail_sampling_config.
func (c *TailSamplingConfig) JSON() ([]byte, error) { return json.Marshal(c) }

func (c *TailSamplingConfig) setup() error {
	var errs []error
	if t := c.Trace; t != nil {
		if t.DataTTL <= 0 {
			t.DataTTL = Duration(5 * time.Minute)
		}
		switch t.GroupKey {
		case "":
			t.GroupKey = "trace_id"
		case "trace_id":
		default:
			errs = append(errs, fmt.Errorf("trace.group_key: only \"trace_id\" is allowed, got %q", t.GroupKey))
		}
		if len(t.DerivedMetrics) > 0 {
			errs = append(errs, errors.New("trace.derived_metrics: not supported yet"))
		}
		var err error
		t.Pipelines, err = setupPipelines("trace.sampling_pipeline", t.Pipelines)
		errs = append(errs, err)
		t.BuiltinMetrics, err = setupBuiltins("trace.builtin_metrics", t.BuiltinMetrics, traceBuiltins)
		errs = append(errs, err)
	}
	for _, s := range []struct {
		name     string
		g        *GroupSampling
		builtins []string
	}{{"logging", c.Logging, loggingBuiltins}, {"rum", c.RUM, rumBuiltins}} {
		if s.g == nil {
			continue
		}
		if s.g.DataTTL <= 0 {
			s.g.DataTTL = Duration(time.Minute)
		}
		for i, d := range s.g.GroupDimensions {
			where := fmt.Sprintf("%s.group_dimensions[%d]", s.name, i)
			if d == nil || d.GroupKey == "" {
				errs = append(errs, fmt.Errorf("%s: group_key: required", where))
				continue
			}
			var err error
			d.Pipelines, err = setupPipelines(where+".pipelines", d.Pipelines)
			errs = append(errs, err)
		}
		var err error
		s.g.BuiltinMetrics, err = setupBuiltins(s.name+".builtin_metrics", s.g.BuiltinMetrics, s.builtins)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func setupPipelines(where string, ps []*SamplingPipeline) ([]*SamplingPipeline, error) {
	var errs []error
	out := ps[:0]
	for i, p := range ps {
		if p == nil {
			continue
		}
		w := fmt.Sprintf("%s[%d]", where, i)
		if p.Name != "" {
			w += fmt.Sprintf(" %q", p.Name)
		}
		if _, err := condition.Compile(p.Condition); err != nil {
			errs = append(errs, fmt.Errorf("%s: condition: %w", w, err))
		}
		switch p.Type {
		case "condition":
			if p.Action != "keep" && p.Action != "drop" {
				errs = append(errs, fmt.Errorf("%s: action: %q is not \"keep\" or \"drop\"", w, p.Action))
			}
		case "probabilistic":
			if p.Rate > 1 {
				errs = append(errs, fmt.Errorf("%s: rate: %v is not in [0,1]", w, p.Rate))
			}
			if p.Rate <= 0 {
				continue // cliutils removes pipelines that can never keep anything
			}
		default:
			errs = append(errs, fmt.Errorf("%s: type: %q is not \"condition\" or \"probabilistic\"", w, p.Type))
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

func setupBuiltins(where string, got []*BuiltinMetric, names []string) ([]*BuiltinMetric, error) {
	enabled := map[string]bool{}
	for _, n := range names {
		enabled[n] = true
	}
	var errs []error
	for i, b := range got {
		if b == nil {
			continue
		}
		if _, ok := enabled[b.Name]; !ok {
			errs = append(errs, fmt.Errorf("%s[%d]: name: unknown metric %q (known: %s)", where, i, b.Name, strings.Join(names, ", ")))
			continue
		}
		enabled[b.Name] = b.Enabled
	}
	out := make([]*BuiltinMetric, 0, len(names))
	for _, n := range names {
		out = append(out, &BuiltinMetric{Name: n, Enabled: enabled[n]})
	}
	return out, errors.Join(errs...)
}

// ParseMetricTOML reads and validates aggr.toml. Unknown keys are errors.
func ParseMetricTOML(data []byte) (*MetricConfig, error) { return parseTOML[MetricConfig](data) }

// ParseMetricJSON reads and validates the JSON form (remote mode).
func ParseMetricJSON(data []byte) (*MetricConfig, error) { return parseJSON[MetricConfig](data) }

// ParseTailSamplingTOML reads and validates tail-sampling.toml. Unknown keys are errors.
func ParseTailSamplingTOML(data []byte) (*TailSamplingConfig, error) {
	return parseTOML[TailSamplingConfig](data)
}

// ParseTailSamplingJSON reads and validates the JSON form (remote mode).
func ParseTailSamplingJSON(data []byte) (*TailSamplingConfig, error) {
	return parseJSON[TailSamplingConfig](data)
}

// setupper is a config that validates itself and applies its defaults.
type setupper[T any] interface {
	*T
	setup() error
}

func parseTOML[T any, P setupper[T]](data []byte) (*T, error) {
	var c T
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return nil, err
	}
	if err := undecoded(md); err != nil {
		return nil, err
	}
	if err := P(&c).setup(); err != nil {
		return nil, err
	}
	return &c, nil
}

func parseJSON[T any, P setupper[T]](data []byte) (*T, error) {
	var c T
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	if err := P(&c).setup(); err != nil {
		return nil, err
	}
	return &c, nil
}

func undecoded(md toml.MetaData) error {
	keys := md.Undecoded()
	if len(keys) == 0 {
		return nil
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.String()
	}
	return fmt.Errorf("unknown keys: %s", strings.Join(names, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
