// Package ddtracereceiver serves the Datadog trace-agent HTTP API on the shared listener:
// trace intake (/v0.1 .. /v0.5, /v0.7), /info, /v0.6/stats and the telemetry proxy, so an
// unmodified Datadog tracer can use tracekit as its agent.
package ddtracereceiver

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/libs/telemetry"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/translator"
)

// Routes beside trace intake.
const (
	InfoPath      = "/info"
	StatsPath     = "/v0.6/stats"
	TelemetryPath = "/telemetry/proxy/api/v2/apmtelemetry"
)

// AgentVersion is the Datadog agent version /info reports: tracers gate features on it,
// and tracekit answers like an agent of this generation.
const AgentVersion = "7.65.0"

// version is one trace intake endpoint's wire format and answer.
type version struct {
	decode func(body []byte, enc ddwire.Encoding) (ddwire.Traces, error)
	// rates: the agent answers {"rate_by_service": ...} (v0.4+) instead of "OK".
	rates bool
}

// versions are the endpoints DataKit's endpoints key may list, plus /v0.7/traces.
var versions = map[string]version{
	"/v0.1/spans":  {decode: ddwire.DecodeSpans},
	"/v0.2/traces": {decode: ddwire.DecodeTraces},
	"/v0.3/traces": {decode: ddwire.DecodeTraces},
	"/v0.4/traces": {decode: ddwire.DecodeTraces, rates: true},
	"/v0.5/traces": {decode: func(b []byte, _ ddwire.Encoding) (ddwire.Traces, error) { return ddwire.DecodeV05(b) }, rates: true},
	"/v0.7/traces": {decode: func(b []byte, _ ddwire.Encoding) (ddwire.Traces, error) { return ddwire.DecodeV07(b) }, rates: true},
}

// Components returns one receiver per [[inputs.ddtrace]] section. Sections share the
// listener, so two of them cannot serve the same endpoint; /info, /v0.6/stats and the
// telemetry route belong to the first section.
func Components(cfg *config.Config, next pipeline.Consumer) ([]app.Component, error) {
	var comps []*Receiver
	var served []string
	owner := map[string]int{}
	for i := range cfg.Inputs.DDTrace {
		in := &cfg.Inputs.DDTrace[i]
		for j, ep := range in.Endpoints {
			if _, ok := versions[ep]; !ok {
				return nil, fmt.Errorf("inputs.ddtrace[%d].endpoints[%d]: %q is not a trace endpoint (want one of %s)", i, j, ep, strings.Join(slices.Sorted(maps.Keys(versions)), ", "))
			}
			if k, ok := owner[ep]; ok {
				return nil, fmt.Errorf("inputs.ddtrace[%d].endpoints[%d]: %s is already served by inputs.ddtrace[%d]", i, j, ep, k)
			}
			owner[ep] = i
			served = append(served, ep)
		}
		r, err := New(i, in, next)
		if err != nil {
			return nil, err
		}
		comps = append(comps, r)
	}
	out := make([]app.Component, len(comps))
	for i, r := range comps {
		out[i] = r
	}
	if len(comps) > 0 {
		comps[0].agentEndpoints = served
	}
	return out, nil
}

// Receiver is one [[inputs.ddtrace]] section.
type Receiver struct {
	input   string
	cfg     *config.DDTrace
	next    pipeline.Consumer
	tr      *translator.Translator
	pool    *receiver.Pool
	maxBody int64
	// agentEndpoints, on the first section only, are the trace endpoints of all sections:
	// that section serves /info, /v0.6/stats and the telemetry route.
	agentEndpoints []string

	log     *slog.Logger
	obs     *receiver.Obs
	aux     *prometheus.CounterVec
	stopped atomic.Bool
	now     func() time.Time
}

// New builds the receiver of the i-th section.
func New(i int, in *config.DDTrace, next pipeline.Consumer) (*Receiver, error) {
	tr, err := translator.New(translator.Options{
		CompatibleOTel:  in.CompatibleOTEL,
		TraceID64BitHex: in.TraceID64BitHex,
		Trace128BitID:   in.Use128BitTraceID(),
		CustomerTags:    in.CustomerTags,
		DelMessage:      in.DelMessage,
		Tags:            in.Tags,
	})
	if err != nil {
		return nil, fmt.Errorf("inputs.ddtrace[%d].%w", i, err)
	}
	return &Receiver{
		input:   config.InputName(config.SourceDDTrace, i),
		cfg:     in,
		next:    next,
		tr:      tr,
		pool:    receiver.NewPool(in.Threads),
		maxBody: int64(in.MaxTraceBodyMB) << 20,
		now:     time.Now,
	}, nil
}

// Name implements app.Component.
func (r *Receiver) Name() string { return "receiver-ddtrace[" + r.input + "]" }

// Start mounts the routes on the shared listener.
func (r *Receiver) Start(_ context.Context, host *app.Host) error {
	r.log = host.Logger.With("component", r.Name())
	r.obs = receiver.NewObs(host.Registry)
	r.aux = telemetry.Register(host.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tracekit_ddtrace_agent_requests_total",
		Help: "Datadog agent API requests other than trace intake (/info, /v0.6/stats, telemetry), by route.",
	}, []string{"input", "route"}))
	for _, ep := range r.cfg.Endpoints {
		h := r.traces(ep, versions[ep])
		host.Mux.HandleFunc("POST "+ep, h)
		host.Mux.HandleFunc("PUT "+ep, h)
	}
	if r.agentEndpoints != nil {
		host.Mux.HandleFunc("GET "+InfoPath, r.info)
		host.Mux.HandleFunc("POST "+StatsPath, r.discard(StatsPath))
		host.Mux.HandleFunc("PUT "+StatsPath, r.discard(StatsPath))
		if r.cfg.APMTelemetryRoute() {
			host.Mux.HandleFunc("POST "+TelemetryPath, r.discard(TelemetryPath))
		}
	}
	r.log.Info("serving", "endpoints", r.cfg.Endpoints, "agent_routes", r.agentEndpoints != nil)
	return nil
}

// Shutdown refuses new requests; in-flight ones were drained by the listener.
func (r *Receiver) Shutdown(context.Context) error {
	r.stopped.Store(true)
	return nil
}

func (r *Receiver) traces(path string, v version) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if r.stopped.Load() {
			receiver.WriteHTTPError(w, fmt.Errorf("%s: receiver is shutting down", path))
			return
		}
		if req.Header.Get("X-Datadog-Trace-Count") == "0" || req.ContentLength == 0 {
			_, _ = drainCapped(req, r.maxBody)
			r.obs.Record(config.SourceDDTrace, "http", 0, 0, nil)
			r.ok(w, req, v)
			return
		}
		if r.maxBody > 0 && req.ContentLength > r.maxBody {
			err := fmt.Errorf("%s: body of %d bytes exceeds max_trace_body_mb (%d MiB): %w", path, req.ContentLength, r.cfg.MaxTraceBodyMB, receiver.ErrTooLarge)
			r.obs.Record(config.SourceDDTrace, "http", 0, 0, err)
			receiver.WriteHTTPError(w, err)
			return
		}
		var size, spans int
		err := r.pool.Do(req.Context(), func(ctx context.Context) error {
			body, err := receiver.ReadBody(req, r.maxBody)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			size = len(body)
			traces, err := v.decode(body, encodingOf(req.Header.Get("Content-Type")))
			if err != nil {
				return pipeline.Permanent(fmt.Errorf("%s: %w", path, err))
			}
			batch := &spanv1.TraceBatch{
				Source:           config.SourceDDTrace,
				Input:            r.input,
				ReceivedUnixNano: r.now().UnixNano(),
				Traces:           r.tr.Convert(traces, remoteIP(req)),
			}
			if len(batch.Traces) == 0 {
				return nil
			}
			spans = countSpans(batch.Traces)
			return r.next.ConsumeTraces(ctx, batch)
		})
		r.obs.Record(config.SourceDDTrace, "http", size, spans, err)
		if err != nil {
			if !pipeline.IsPermanent(err) {
				r.log.Warn("trace intake refused", "path", path, "err", err)
			}
			receiver.WriteHTTPError(w, err)
			return
		}
		r.ok(w, req, v)
	}
}

func countSpans(ts []*spanv1.DatakitTrace) int {
	n := 0
	for _, t := range ts {
		n += len(t.Spans)
	}
	return n
}

// ok answers like the agent: "OK" for the old versions, sampling rates from v0.4 on. A
// rate of 1 for every service keeps tracers' priority samplers at sampler_keep; the
// head sampling rate that applies is the filter's.
func (r *Receiver) ok(w http.ResponseWriter, req *http.Request, v version) {
	if !v.rates {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("OK\n"))
		return
	}
	if pv := req.Header.Get("Datadog-Rates-Payload-Version"); pv != "" {
		w.Header().Set("Datadog-Rates-Payload-Version", pv)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"rate_by_service":{"service:,env:":1}}` + "\n"))
}

// encodingOf follows DataKit: msgpack when declared, JSON when declared, otherwise the
// body decides.
func encodingOf(contentType string) ddwire.Encoding {
	ct, _, _ := strings.Cut(contentType, ";")
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case "application/msgpack", "application/x-msgpack":
		return ddwire.MsgPack
	case "application/json", "text/json":
		return ddwire.JSON
	}
	return ddwire.Sniff
}

func remoteIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// discard accepts and counts a request whose content tracekit does not use (client
// stats, tracer telemetry), so tracers do not log errors or retry.
func (r *Receiver) discard(route string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		r.aux.WithLabelValues(r.input, route).Inc()
		if _, err := drainCapped(req, r.maxBody); err != nil {
			receiver.WriteHTTPError(w, fmt.Errorf("%s: %w", route, err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}\n"))
	}
}

func drainCapped(req *http.Request, max int64) (int, error) {
	b, err := receiver.Decode(req.Body, "", max)
	return len(b), err
}
