// Package apptest runs app.Components for tests as app.Run would (start in order, the host
// mux on an HTTP listener, shut down in reverse order), without a process or signals.
package apptest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/telemetry"
)

// ShutdownTimeout bounds each component's Shutdown at the end of a test, so a stuck drain
// fails the test instead of hanging it.
const ShutdownTimeout = 10 * time.Second

// NewHost is a quiet host: logs discarded, a fresh registry and health, an empty mux.
func NewHost() *app.Host {
	return &app.Host{
		Logger:   slog.New(slog.DiscardHandler),
		Registry: telemetry.NewRegistry(),
		Health:   telemetry.NewHealth(),
		Mux:      http.NewServeMux(),
	}
}

// StartComponents starts comps in order on a NewHost and serves its mux on a loopback
// httptest server. It returns the server's base URL ("http://127.0.0.1:NNNN") and the host
// (its Registry and Health are what the components reported to). When the test ends the
// server is closed first (in-flight requests finish), then the components are shut down
// in reverse order, as app.Run drains.
func StartComponents(t testing.TB, comps ...app.Component) (baseURL string, host *app.Host) {
	t.Helper()
	host = NewHost()
	return StartOn(t, host, comps...), host
}

// StartOn is StartComponents on the caller's host, for a test that pre-mounts routes on
// the mux or shares one registry between components; nil fields are filled as in NewHost.
func StartOn(t testing.TB, host *app.Host, comps ...app.Component) (baseURL string) {
	t.Helper()
	fill(host)
	for _, c := range comps {
		// Registered before Start: Shutdown must be safe after a failed Start, and a
		// component that failed half-way may hold listeners.
		t.Cleanup(func() { shutdown(t, c) })
		if err := c.Start(context.Background(), host); err != nil {
			t.Fatalf("start %s: %v", c.Name(), err)
		}
	}
	srv := httptest.NewServer(host.Mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func fill(host *app.Host) {
	def := NewHost()
	if host.Logger == nil {
		host.Logger = def.Logger
	}
	if host.Registry == nil {
		host.Registry = def.Registry
	}
	if host.Health == nil {
		host.Health = def.Health
	}
	if host.Mux == nil {
		host.Mux = def.Mux
	}
}

func shutdown(t testing.TB, c app.Component) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("shutdown %s: %v", c.Name(), err)
	}
}
