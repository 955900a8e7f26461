package filter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/config"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

func parse(t testing.TB, toml string) *config.Config {
	t.Helper()
	l, err := config.Parse([]byte(toml), nil)
	require.NoError(t, err)
	return l.Config
}

func build(t testing.TB, b *Builder, toml string) *Chain {
	t.Helper()
	c, err := b.Build(parse(t, toml))
	require.NoError(t, err)
	return c
}

func newBuilder(reg prometheus.Registerer) *Builder {
	return NewBuilder(Options{Registerer: reg, Now: func() time.Time { return time.Unix(1_000_000, 0) }})
}

// decideOne runs the input's chain over one trace and names the filter that decided.
func decideOne(c *Chain, input string, tr *spanv1.DatakitTrace) (Verdict, string) {
	ic := c.inputs[input]
	if ic == nil {
		ic = c.fallback
	}
	v, idx := ic.decide(context.Background(), tr)
	return v, names[idx]
}

const fullConfig = `
[[inputs.ddtrace]]
  keep_rare_resource = true
  omit_err_status = ["404"]
  [inputs.ddtrace.close_resource]
    "*" = ["^GET /closed$"]
  [inputs.ddtrace.sampler]
    sampling_rate = 0.0
`

func TestFilterOrder(t *testing.T) {
	c := build(t, newBuilder(nil), fullConfig+`
[[inputs.jaeger]]
[[inputs.zipkin]]
  [inputs.zipkin.sampler]
    sampling_rate = 0.5
`)
	assert.Equal(t, []string{NamePriority, NameErrorPenetration, NameCloseResource, NameOmitErrStatus, NameKeepRareResource, NamePriority, NameSampler}, c.Filters("ddtrace"))
	assert.Equal(t, []string{NamePriority, NameErrorPenetration}, c.Filters("jaeger"))
	assert.Equal(t, []string{NamePriority, NameErrorPenetration, NamePriority, NameSampler}, c.Filters("zipkin"))
	assert.Equal(t, []string{NamePriority}, c.Filters("cat"), "an input without a section: only client rejects")
}

func TestChainOrder(t *testing.T) {
	closed := resource("GET /closed")
	errSt := status("error")
	tests := []struct {
		name string
		// seen marks the trace's entry resource as seen before the case runs.
		seen    bool
		tr      *spanv1.DatakitTrace
		verdict Verdict
		by      string
	}{
		{"error trace on a closed resource is kept", false, trace(span(entry(), closed), span(errSt)), Keep, NameErrorPenetration},
		{"error trace with a 404 is kept", false, trace(span(entry(), httpCode("404"), errSt)), Keep, NameErrorPenetration},
		{"closed resource is dropped", false, trace(span(entry(), closed)), Drop, NameCloseResource},
		{"closed resource beats rare and user keep", false, trace(span(entry(), closed, priority(2))), Drop, NameCloseResource},
		{"omitted status is dropped", false, trace(span(entry(), resource("GET /x")), span(httpCode("404"))), Drop, NameOmitErrStatus},
		{"omitted status beats rare", false, trace(span(entry(), resource("GET /new"), httpCode("404"))), Drop, NameOmitErrStatus},
		{"a rare trace bypasses a 0 sampler", false, trace(span(entry(), resource("GET /rare"))), Keep, NameKeepRareResource},
		{"a seen trace meets the 0 sampler", true, trace(span(entry(), resource("GET /rare"))), Drop, NameSampler},
		{"priority user keep survives rate 0", true, trace(span(entry(), resource("GET /rare"), priority(2))), Keep, NamePriority},
		{"ddtrace user_keep tag survives rate 0", true, trace(span(entry(), resource("GET /rare"), tag("sampling_rate", "user_keep"))), Keep, NamePriority},
		{"auto keep is still sampled", true, trace(span(entry(), resource("GET /rare"), priority(1))), Drop, NameSampler},
		{"user reject is dropped before error penetration", false, trace(span(entry(), errSt, priority(-1))), Drop, NamePriority},
		{"auto reject is dropped before keep-rare", false, trace(span(entry(), resource("GET /r2"), priority(0))), Drop, NamePriority},
		{"rule reject", false, trace(span(priority(-3))), Drop, NamePriority},
		{"ddtrace sampler_drop tag", false, trace(span(errSt, tag("sampling_rate", "sampler_drop"))), Drop, NamePriority},
		{"no entry span: no rare decision, sampled", false, trace(span(resource("GET /nothing"))), Drop, NameSampler},
		{"empty trace", false, &spanv1.DatakitTrace{}, Drop, NameEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := build(t, newBuilder(nil), fullConfig)
			if tt.seen {
				warm := trace(span(entry(), resource(tt.tr.Spans[0].Resource)))
				v, by := decideOne(c, "ddtrace", warm)
				require.Equal(t, Keep, v)
				require.Equal(t, NameKeepRareResource, by)
			}
			v, by := decideOne(c, "ddtrace", tt.tr)
			assert.Equal(t, tt.verdict, v)
			assert.Equal(t, tt.by, by)
		})
	}
}

func TestChainWithoutDecidingFilterKeeps(t *testing.T) {
	c := build(t, newBuilder(nil), "[[inputs.jaeger]]\n")
	v, by := decideOne(c, "jaeger", trace(span(), span()))
	assert.Equal(t, Keep, v)
	assert.Equal(t, NameEnd, by)
	v, by = decideOne(c, "jaeger", trace(span(status("critical"))))
	assert.Equal(t, Keep, v)
	assert.Equal(t, NameErrorPenetration, by)
}

func TestSamplerRateOneKeepsAll(t *testing.T) {
	c := build(t, newBuilder(nil), "[[inputs.jaeger]]\n[inputs.jaeger.sampler]\nsampling_rate = 1.0\n")
	for i := 0; i < 1000; i++ {
		v, by := decideOne(c, "jaeger", withID(fmt.Sprintf("%x", rand.Uint64()), trace(span())))
		require.Equal(t, Keep, v)
		require.Equal(t, NameSampler, by)
	}
}

func TestPerInputSettings(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := build(t, newBuilder(reg), `
[[inputs.ddtrace]]
  [inputs.ddtrace.sampler]
    sampling_rate = 0.0
[[inputs.ddtrace]]
[[inputs.jaeger]]
  [inputs.jaeger.close_resource]
    svc = ["^GET"]
`)
	mk := func(input, source string) *spanv1.TraceBatch {
		return &spanv1.TraceBatch{Source: source, Input: input, Traces: []*spanv1.DatakitTrace{trace(span(resource("GET /")))}}
	}
	kept, commit := c.Apply(context.Background(), mk("ddtrace", "ddtrace"))
	commit()
	assert.Nil(t, kept, "first ddtrace section samples at 0")
	b := mk("ddtrace#1", "ddtrace")
	kept, _ = c.Apply(context.Background(), b)
	assert.Same(t, b, kept, "the second section has no sampler")
	kept, _ = c.Apply(context.Background(), mk("jaeger", "jaeger"))
	assert.Nil(t, kept, "jaeger's own close_resource")
	kept, _ = c.Apply(context.Background(), mk("", "jaeger"))
	assert.Nil(t, kept, "an empty input name means the source's first section")

	b = mk("zipkin", "zipkin")
	kept, _ = c.Apply(context.Background(), b)
	assert.Same(t, b, kept, "an input the config does not have passes unfiltered")
	assert.InDelta(t, 1, testutil.ToFloat64(c.m.unknownInput.WithLabelValues("zipkin")), 0)
}

func TestTraceMaxSpans(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := build(t, newBuilder(reg), `
[[inputs.zipkin]]
  trace_max_spans = 3
  [inputs.zipkin.close_resource]
    "*" = ["^drop$"]
`)
	long := trace(span(resource("a")), span(resource("b")), span(resource("c")), span(resource("d")), span(resource("e")))
	short := trace(span(), span())
	dropped := trace(span(resource("drop")), span(), span(), span())
	b := &spanv1.TraceBatch{Source: "zipkin", Input: "zipkin", Traces: []*spanv1.DatakitTrace{long, dropped, short}}
	kept, commit := c.Apply(context.Background(), b)
	commit()
	require.Len(t, kept.Traces, 2)
	require.Len(t, kept.Traces[0].Spans, 3)
	assert.Equal(t, []string{"a", "b", "c"}, []string{kept.Traces[0].Spans[0].Resource, kept.Traces[0].Spans[1].Resource, kept.Traces[0].Spans[2].Resource}, "the first N spans are kept")
	assert.Len(t, kept.Traces[1].Spans, 2)

	spans := func(verdict, filter string) float64 {
		return testutil.ToFloat64(c.m.spans.WithLabelValues("zipkin", verdict, filter))
	}
	assert.InDelta(t, 11, spans(LabelReceived, ""), 0)
	assert.InDelta(t, 5, spans(LabelKept, NameEnd), 0)
	assert.InDelta(t, 2, spans(LabelDropped, NameTraceMaxSpans), 0)
	assert.InDelta(t, 4, spans(LabelDropped, NameCloseResource), 0, "a dropped trace counts all its spans under its filter")
	assert.InDelta(t, 2, summarySum(t, reg, "datakit_input_drop_number", map[string]string{"reason": "trace_max_spans"}), 0)
	assert.InDelta(t, 4, summarySum(t, reg, "datakit_input_drop_number", map[string]string{"reason": "resource"}), 0)
}

// TestAccountingIdentity: per source, traces and spans received = kept + Σ dropped{filter},
// and DataKit's counters agree.
func TestAccountingIdentity(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := build(t, newBuilder(reg), `
[[inputs.ddtrace]]
  keep_rare_resource = true
  omit_err_status = ["404", "500"]
  trace_max_spans = 4
  [inputs.ddtrace.close_resource]
    "*" = ["^GET /closed"]
  [inputs.ddtrace.sampler]
    sampling_rate = 0.3
[[inputs.opentelemetry]]
  trace_max_spans = 2
  [inputs.opentelemetry.sampler]
    sampling_rate = 0.5
`)
	rng := rand.New(rand.NewPCG(7, 7))
	want := map[string][2]int{} // source → received traces, spans
	for round := 0; round < 50; round++ {
		for _, src := range []string{"ddtrace", "opentelemetry"} {
			b := &spanv1.TraceBatch{Source: src, Input: src}
			for i := 0; i < 20; i++ {
				n := rng.IntN(7) // 0 spans makes an empty trace
				var spans []*spanv1.DatakitSpan
				for j := 0; j < n; j++ {
					opts := []sp{resource(fmt.Sprintf("GET /r%d", rng.IntN(30))), service(fmt.Sprintf("s%d", rng.IntN(3)))}
					if j == 0 {
						opts = append(opts, entry())
					}
					switch rng.IntN(12) {
					case 0:
						opts = append(opts, status("error"))
					case 1:
						opts = append(opts, resource("GET /closed"))
					case 2:
						opts = append(opts, httpCode("404"))
					case 3:
						opts = append(opts, priority(int32(rng.IntN(7)-3)))
					}
					spans = append(spans, span(opts...))
				}
				tr := withID(fmt.Sprintf("%d", rng.Uint64()), trace(spans...))
				b.Traces = append(b.Traces, tr)
				w := want[src]
				w[0]++
				w[1] += n
				want[src] = w
			}
			_, commit := c.Apply(context.Background(), b)
			commit()
		}
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, src := range []string{"ddtrace", "opentelemetry"} {
		for i, metric := range []string{"tracekit_filter_traces_total", "tracekit_filter_spans_total"} {
			sums := map[string]float64{}
			filters := map[string]bool{}
			for _, m := range family(mfs, metric) {
				l := labels(m)
				if l["source"] != src {
					continue
				}
				sums[l["verdict"]] += m.GetCounter().GetValue()
				if l["verdict"] == LabelDropped {
					filters[l["filter"]] = true
				}
			}
			assert.InDelta(t, float64(want[src][i]), sums[LabelReceived], 0, "%s %s received", src, metric)
			assert.InDelta(t, sums[LabelReceived], sums[LabelKept]+sums[LabelDropped], 0, "%s %s: received = kept + dropped", src, metric)
			assert.Positive(t, sums[LabelKept], "%s %s kept", src, metric)
			if src == "ddtrace" {
				for _, f := range []string{NamePriority, NameCloseResource, NameOmitErrStatus, NameSampler} {
					assert.True(t, filters[f], "%s: %s dropped something (the data exercises it)", metric, f)
				}
			}
		}
		var dk float64
		for _, m := range family(mfs, "datakit_input_tracing_total") {
			if labels(m)["input"] == src {
				dk += m.GetCounter().GetValue()
			}
		}
		assert.InDelta(t, float64(want[src][0]), dk, 0, "datakit_input_tracing_total of %s", src)
	}
	// DataKit's drop summary holds the spans of every dropped trace plus the cut spans.
	var dropSum, dropSpans float64
	for _, m := range family(mfs, "datakit_input_drop_number") {
		if labels(m)["input"] == "ddtrace" {
			dropSum += m.GetSummary().GetSampleSum()
		}
	}
	for _, m := range family(mfs, "tracekit_filter_spans_total") {
		if l := labels(m); l["source"] == "ddtrace" && l["verdict"] == LabelDropped {
			dropSpans += m.GetCounter().GetValue()
		}
	}
	assert.InDelta(t, dropSpans, dropSum, 0)
}

func TestApplyReturnsTheBatchWhenAllKept(t *testing.T) {
	c := build(t, newBuilder(nil), "[[inputs.jaeger]]\n")
	b := &spanv1.TraceBatch{Source: "jaeger", Input: "jaeger", Traces: []*spanv1.DatakitTrace{trace(span()), trace(span())}}
	kept, commit := c.Apply(context.Background(), b)
	assert.Same(t, b, kept)
	require.NotNil(t, commit)

	b.Traces = append(b.Traces, &spanv1.DatakitTrace{})
	kept, _ = c.Apply(context.Background(), b)
	assert.NotSame(t, b, kept)
	assert.Len(t, kept.Traces, 2, "the empty trace is dropped, the others kept in order")
	assert.Equal(t, b.Input, kept.Input)
}

func TestBuildRejectsInvalidSettings(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*config.Tracing)
		key  string
	}{
		{"bad regex", func(tr *config.Tracing) { tr.CloseResource = map[string][]string{"svc": {"("}} }, "inputs.ddtrace[0].close_resource.svc[0]"},
		{"rate above 1", func(tr *config.Tracing) { tr.Sampler = &config.Sampler{SamplingRate: 1.5} }, "inputs.ddtrace[0].sampler.sampling_rate"},
		{"negative rate", func(tr *config.Tracing) { tr.Sampler = &config.Sampler{SamplingRate: -1} }, "inputs.ddtrace[0].sampler.sampling_rate"},
		{"shared without jetstream", func(tr *config.Tracing) { tr.KeepRareResource, tr.RareResourceShared = true, true }, "inputs.ddtrace[0].rare_resource_shared"},
		{"no keys", func(tr *config.Tracing) { tr.KeepRareResource, tr.RareResourceMaxKeys = true, 0 }, "inputs.ddtrace[0].rare_resource_max_keys"},
		{"negative max spans", func(tr *config.Tracing) { tr.TraceMaxSpans = -1 }, "inputs.ddtrace[0].trace_max_spans"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parse(t, "[[inputs.ddtrace]]\n")
			tt.mod(&cfg.Inputs.DDTrace[0].Tracing)
			_, err := newBuilder(nil).Build(cfg)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.key), "error %q names %s", err, tt.key)
		})
	}
}

func TestRareStateSurvivesRebuild(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := newBuilder(reg)
	c1 := build(t, b, strings.Replace(fullConfig, "keep_rare_resource = true", "keep_rare_resource = true\n  rare_resource_max_keys = 10", 1))
	for i := 0; i < 5; i++ {
		v, _ := decideOne(c1, "ddtrace", trace(span(entry(), resource(fmt.Sprintf("GET /%d", i)))))
		require.Equal(t, Keep, v)
	}
	// A rejected build leaves the seen-sets alone.
	bad := parse(t, fullConfig)
	bad.Inputs.DDTrace[0].Sampler.SamplingRate = 2
	bad.Inputs.DDTrace[0].RareResourceMaxKeys = 1
	_, err := b.Build(bad)
	require.Error(t, err)
	assert.Equal(t, 5, b.rare["ddtrace"].Len())

	c2 := build(t, b, fullConfig)
	v, by := decideOne(c2, "ddtrace", trace(span(entry(), resource("GET /0"))))
	assert.Equal(t, Drop, v, "a reload does not make every resource rare again")
	assert.Equal(t, NameSampler, by)

	// A smaller cap on reload evicts the least recently seen keys: GET /0 was just seen.
	c3 := build(t, b, strings.Replace(fullConfig, "keep_rare_resource = true", "keep_rare_resource = true\n  rare_resource_max_keys = 2", 1))
	assert.Equal(t, 2, b.rare["ddtrace"].Len())
	assert.InDelta(t, 3, testutil.ToFloat64(b.m.rareEvictions.WithLabelValues("ddtrace")), 0)
	v, _ = decideOne(c3, "ddtrace", trace(span(entry(), resource("GET /0"))))
	assert.Equal(t, Drop, v, "the most recent key was kept")
	v, _ = decideOne(c3, "ddtrace", trace(span(entry(), resource("GET /1"))))
	assert.Equal(t, Keep, v, "an evicted key is rare again")

	// Turning keep-rare off forgets the set.
	build(t, b, "[[inputs.ddtrace]]\n")
	assert.Empty(t, b.rare)
}

func family(mfs []*dto.MetricFamily, name string) []*dto.Metric {
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func summarySum(t *testing.T, reg *prometheus.Registry, name string, match map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
next:
	for _, m := range family(mfs, name) {
		l := labels(m)
		for k, v := range match {
			if l[k] != v {
				continue next
			}
		}
		sum += m.GetSummary().GetSampleSum()
	}
	return sum
}
