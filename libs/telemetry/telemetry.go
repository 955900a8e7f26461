// Package telemetry gives every service the same self-observability: slog logs on stderr,
// a Prometheus registry served on /metrics, and /healthz and /readyz.
package telemetry

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tracekit/tracekit/libs/config"
)

// NewLogger builds the process logger from [log].
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(cfg.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// NewRegistry is a registry with the Go runtime and process collectors, no global state.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Health collects readiness checks. Liveness is the process answering at all; readiness is
// every registered check passing (bus connected, listeners up, not draining).
type Health struct {
	mu       sync.RWMutex
	checks   map[string]func() error
	draining bool
}

// NewHealth returns an empty Health (ready until a check says otherwise).
func NewHealth() *Health { return &Health{checks: map[string]func() error{}} }

// AddCheck registers a readiness check under name.
func (h *Health) AddCheck(name string, fn func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = fn
}

// SetDraining makes /readyz fail so load balancers stop sending while we shut down.
func (h *Health) SetDraining() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.draining = true
}

// Failures returns the failing checks, sorted by name.
func (h *Health) Failures() map[string]string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := map[string]string{}
	if h.draining {
		out["shutdown"] = "draining"
	}
	for name, fn := range h.checks {
		if err := fn(); err != nil {
			out[name] = err.Error()
		}
	}
	return out
}

// RegisterRoutes mounts /metrics, /healthz and /readyz on mux.
func RegisterRoutes(mux *http.ServeMux, reg *prometheus.Registry, h *Health) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		fails := h.Failures()
		if len(fails) == 0 {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		names := make([]string, 0, len(fails))
		for n := range fails {
			names = append(names, n)
		}
		sort.Strings(names)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failing": names, "errors": fails})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Register adds c to reg and returns it, or returns the collector of the same description
// already there: the components of the all-in-one share one registry, and each registers
// the metrics it uses.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	// A nil *prometheus.Registry passed as a Registerer is a non-nil interface: treat it as
	// "no registry" too, so tests can hand components a zero Host.
	if reg == nil {
		return c
	}
	if r, ok := reg.(*prometheus.Registry); ok && r == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
