package ddtracereceiver

import (
	"encoding/json"
	"net/http"

	"github.com/tracekit/tracekit/libs/buildinfo"
)

// agentInfo is the subset of the agent's /info answer tracers read to configure
// themselves (dd-trace-go fetchAgentFeatures, the Java and Python equivalents).
type agentInfo struct {
	Version       string      `json:"version"`
	GitCommit     string      `json:"git_commit"`
	Endpoints     []string    `json:"endpoints"`
	FeatureFlags  []string    `json:"feature_flags"`
	ClientDropP0s bool        `json:"client_drop_p0s"`
	SpanMetaStr   bool        `json:"span_meta_structs"`
	LongRunning   bool        `json:"long_running_spans"`
	SpanEvents    bool        `json:"span_events"`
	PeerTags      []string    `json:"peer_tags"`
	Config        agentConfig `json:"config"`
	// Tracekit says who really answers, for humans reading the JSON.
	Tracekit string `json:"tracekit_version"`
}

type agentConfig struct {
	DefaultEnv             string         `json:"default_env"`
	StatsdPort             int            `json:"statsd_port"`
	ReceiverPort           int            `json:"receiver_port"`
	AnalyzedSpansByService map[string]any `json:"analyzed_spans_by_service"`
}

// info answers GET /info. client_drop_p0s is false: tracers must send every trace,
// rejected ones included, because tracekit's filter (not the tracer) applies the
// sampling decision, as DataKit does.
func (r *Receiver) info(w http.ResponseWriter, _ *http.Request) {
	r.aux.WithLabelValues(r.input, InfoPath).Inc()
	eps := append([]string{}, r.agentEndpoints...)
	eps = append(eps, StatsPath)
	if r.cfg.APMTelemetryRoute() {
		eps = append(eps, "/telemetry/proxy/")
	}
	body, err := json.Marshal(agentInfo{
		Version:      AgentVersion,
		GitCommit:    buildinfo.Commit,
		Endpoints:    eps,
		FeatureFlags: []string{},
		PeerTags:     []string{},
		Config:       agentConfig{DefaultEnv: "none", AnalyzedSpansByService: map[string]any{}},
		Tracekit:     buildinfo.Version,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}
