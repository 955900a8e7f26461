// Package app is the lifecycle every tracekit binary shares: start components in order on a
// shared HTTP listener, serve admin routes, and on a signal drain in reverse order.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/buildinfo"
	"github.com/tracekit/tracekit/libs/telemetry"
)

// Host is what a component gets from the process it runs in.
type Host struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Health   *telemetry.Health
	// Mux is the shared HTTP listener's router ([http] listen): receivers mount their
	// routes here before the listener starts accepting.
	Mux *http.ServeMux
}

// Component is one stage of a service. Start must not block; Shutdown must flush what the
// component holds and must be safe to call even when Start failed or never ran.
type Component interface {
	Name() string
	Start(ctx context.Context, host *Host) error
	Shutdown(ctx context.Context) error
}

// Reloader is implemented by components that re-read their settings on SIGHUP or
// POST /-/reload.
type Reloader interface {
	Reload(ctx context.Context) error
}

// Settings configure Run.
type Settings struct {
	Logger          *slog.Logger
	Registry        *prometheus.Registry
	Health          *telemetry.Health
	Listen          string
	ShutdownTimeout time.Duration
	// Ready, when set, receives the bound listener address once every component started.
	Ready func(addr net.Addr)
	// Signals overrides the signals that stop the process (tests send their own).
	Signals []os.Signal
}

// Run starts comps in order, serves the shared listener, and blocks until ctx is done or a
// stop signal arrives; then it stops accepting requests, lets in-flight ones finish, and shuts
// the components down in reverse order (receivers before the filter before the sender).
func Run(ctx context.Context, s Settings, comps ...Component) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Registry == nil {
		s.Registry = telemetry.NewRegistry()
	}
	if s.Health == nil {
		s.Health = telemetry.NewHealth()
	}
	if s.ShutdownTimeout <= 0 {
		s.ShutdownTimeout = 10 * time.Second
	}
	if len(s.Signals) == 0 {
		s.Signals = []os.Signal{os.Interrupt, syscall.SIGTERM}
	}
	log := s.Logger
	mux := http.NewServeMux()
	host := &Host{Logger: log, Registry: s.Registry, Health: s.Health, Mux: mux}
	telemetry.RegisterRoutes(mux, s.Registry, s.Health)
	start := time.Now()
	reload := reloadAll(log, comps)
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := reload(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})

	// Subscribe before anything starts so a signal sent as soon as we are ready is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, append([]os.Signal{syscall.SIGHUP}, s.Signals...)...)
	defer signal.Stop(sigs)

	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Listen, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var started []Component
	stopAll := func() error {
		sctx, scancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
		defer scancel()
		var errs []error
		for i := len(started) - 1; i >= 0; i-- {
			c := started[i]
			if err := c.Shutdown(sctx); err != nil {
				errs = append(errs, fmt.Errorf("shutdown %s: %w", c.Name(), err))
			}
			log.Info("stopped", "component", c.Name())
		}
		return errors.Join(errs...)
	}
	for _, c := range comps {
		if err := c.Start(runCtx, host); err != nil {
			_ = ln.Close()
			return errors.Join(fmt.Errorf("start %s: %w", c.Name(), err), stopAll())
		}
		started = append(started, c)
		log.Info("started", "component", c.Name())
	}

	// A component (the gateway) may serve /v1/ping itself; otherwise answer it here so
	// scripts can tell any tracekit process is up.
	if _, pattern := mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/v1/ping"}}); pattern == "" {
		mux.HandleFunc("GET /v1/ping", PingHandler(start))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "version", buildinfo.Version)
	if s.Ready != nil {
		s.Ready(ln.Addr())
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-serveErr:
			runErr = fmt.Errorf("http server: %w", err)
			break loop
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = reload(ctx)
				continue
			}
			log.Info("stopping", "signal", sig.String())
			break loop
		}
	}
	s.Health.SetDraining()
	sctx, scancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http drain incomplete", "err", err)
	}
	scancel()
	cancel()
	return errors.Join(runErr, stopAll())
}

func reloadAll(log *slog.Logger, comps []Component) func(context.Context) error {
	var mu sync.Mutex
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		var errs []error
		for _, c := range comps {
			if r, ok := c.(Reloader); ok {
				if err := r.Reload(ctx); err != nil {
					log.Error("reload rejected; keeping the previous settings", "component", c.Name(), "err", err)
					errs = append(errs, fmt.Errorf("%s: %w", c.Name(), err))
					continue
				}
				log.Info("reloaded", "component", c.Name())
			}
		}
		return errors.Join(errs...)
	}
}

// PingHandler answers GET /v1/ping like DataKit so scripts can tell the process is up.
func PingHandler(start time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-DataKit", buildinfo.Version)
		_ = json.NewEncoder(w).Encode(map[string]any{"content": map[string]string{
			"version": buildinfo.Version,
			"uptime":  time.Since(start).Round(time.Second).String(),
			"host":    buildinfo.Hostname(),
			"commit":  buildinfo.Commit,
		}})
	}
}
