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
