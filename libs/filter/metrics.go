package filter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/telemetry"
)

// Verdict label values of tracekit_filter_{traces,spans}_total. Per source,
// received = kept + dropped summed over filter.
const (
	LabelReceived = "received"
	LabelKept     = "kept"
	LabelDropped  = "dropped"
)

// Metrics are the chain's counters; one set per registry, shared by every chain built on it
// (telemetry.Register makes re-registration on reload return the existing collectors).
type Metrics struct {
	traces *prometheus.CounterVec
	spans  *prometheus.CounterVec
	// DataKit's names (datakit-spec §2.4).
	dkTracing *prometheus.CounterVec
	dkDrop    *prometheus.SummaryVec

	rare          *prometheus.CounterVec
	rareEvictions *prometheus.CounterVec
	rareKeys      *prometheus.GaugeVec
	rareShared    *prometheus.CounterVec
	unknownInput  *prometheus.CounterVec
}

// NewMetrics registers the chain metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		traces: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_filter_traces_total",
			Help: "Traces the filter chain received, kept and dropped, by the filter that decided (received has filter=\"\").",
		}, []string{"source", "verdict", "filter"})),
		spans: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_filter_spans_total",
			Help: "Spans the filter chain received, kept and dropped, by the filter that decided (received has filter=\"\").",
		}, []string{"source", "verdict", "filter"})),
		dkTracing: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "datakit_input_tracing_total",
			Help: "Traces received per input and service of the first span (DataKit's name).",
		}, []string{"input", "service"})),
		dkDrop: telemetry.Register(reg, prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name: "datakit_input_drop_number",
			Help: "Spans of dropped traces per input, service and reason (DataKit's name; reasons resource, statusCode, sample, empty, trace_max_spans).",
		}, []string{"input", "service", "reason"})),
		rare: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_filter_rare_resource_total",
			Help: "Keep-rare lookups by result: rare (kept) or seen (passed to the sampler).",
		}, []string{"input", "result"})),
		rareEvictions: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_filter_rare_resource_evictions_total",
			Help: "Keys evicted from the keep-rare LRU because rare_resource_max_keys was reached.",
		}, []string{"input"})),
		rareKeys: telemetry.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tracekit_filter_rare_resource_keys",
			Help: "Keys held in the keep-rare LRU.",
		}, []string{"input"})),
		rareShared: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_filter_rare_resource_shared_errors_total",
			Help: "Failed round trips to the shared keep-rare KV bucket (the local answer was used).",
		}, []string{"input"})),
		unknownInput: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_filter_unknown_input_batches_total",
			Help: "Batches whose input has no section in the current config; they pass unfiltered.",
		}, []string{"input"})),
	}
}

func (m *Metrics) rareFor(input string) rareMetrics {
	return rareMetrics{
		rare:         m.rare.WithLabelValues(input, "rare"),
		seen:         m.rare.WithLabelValues(input, "seen"),
		evictions:    m.rareEvictions.WithLabelValues(input),
		sharedErrors: m.rareShared.WithLabelValues(input),
		keys:         m.rareKeys.WithLabelValues(input),
	}
}

func nopRareMetrics() rareMetrics {
	c := func() prometheus.Counter { return prometheus.NewCounter(prometheus.CounterOpts{Name: "unused"}) }
	return rareMetrics{rare: c(), seen: c(), evictions: c(), sharedErrors: c(), keys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "unused"})}
}
