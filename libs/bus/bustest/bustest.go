// Package bustest runs real in-process NATS servers for tests, on fresh store directories,
// the way nats-server tests itself (no mocks).
package bustest

import (
	"context"
	"testing"

	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/config"
)

// Config is a default bus section with its JetStream store under t.TempDir().
func Config(t testing.TB) config.Bus {
	t.Helper()
	c := config.NewDefaultConfig().Bus
	c.StoreDir = t.TempDir()
	return c
}

// Open opens an embedded bus for cfg and closes it when the test ends.
func Open(t testing.TB, cfg config.Bus) *bus.Bus {
	t.Helper()
	b, err := bus.Open(context.Background(), cfg, bus.Options{Name: t.Name()})
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// OpenShared opens an embedded bus that also listens on a free loopback port, plus a second
// bus connected to it as an external client: two "instances" sharing one server.
func OpenShared(t testing.TB, cfg config.Bus) (server, client *bus.Bus) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	server = Open(t, cfg)
	ext := config.NewDefaultConfig().Bus
	ext.Mode = cfg.Mode
	ext.URL = server.ListenURL()
	client = Open(t, ext)
	return server, client
}
