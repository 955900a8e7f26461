// Package service is the main() every tracekit binary shares: flags, config, logger,
// metrics, the bus connection, and the app lifecycle around the binary's components.
package service

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/buildinfo"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/telemetry"
)

// Env is what a binary's components are built from.
type Env struct {
	Config   *config.Loaded
	Bus      *bus.Bus
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// ConfigPath is the file the config came from ("" for the defaults), for reloads.
	ConfigPath string
	Environ    []string
}

// Build creates the components of one binary, in start order.
type Build func(ctx context.Context, env *Env) ([]app.Component, error)

// Spec describes a binary.
type Spec struct {
	Name string
	// DefaultConfig is used when -config is not given (the all-in-one embeds one that
	// enables the receivers); nil means the built-in defaults.
	DefaultConfig []byte
	Build         Build
}

// Main runs the binary and returns its exit code. Logs go to stderr; nothing is printed on
// stdout, so scripts can start binaries without parsing their output.
func Main(spec Spec, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(spec.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "TOML config file (DataKit-compatible); environment TRACEKIT_* overrides it")
	version := fs.Bool("version", false, "print the version and exit")
	healthcheck := fs.Bool("healthcheck", false, "probe this service's /readyz on its [http] listen address and exit 0 when ready (container health checks)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *version {
		fmt.Fprintf(stderr, "%s %s (%s)\n", spec.Name, buildinfo.Version, buildinfo.Commit)
		return 0
	}
	environ := os.Environ()
	var loaded *config.Loaded
	var err error
	if *path == "" && spec.DefaultConfig != nil {
		loaded, err = config.Parse(spec.DefaultConfig, environ)
	} else {
		loaded, err = config.Load(*path, environ)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", spec.Name, err)
		return 2
	}
	if *healthcheck {
		if err := Probe(loaded.HTTP.Listen); err != nil {
			fmt.Fprintf(stderr, "%s: not ready: %v\n", spec.Name, err)
			return 1
		}
		return 0
	}
	log := telemetry.NewLogger(loaded.Log, stderr).With("service", spec.Name)
	for _, w := range loaded.Warnings {
		log.Warn("config", "warning", w)
	}
	if err := run(spec, loaded, *path, environ, log); err != nil {
		log.Error("exiting", "err", err)
		return 1
	}
	return 0
}

func run(spec Spec, loaded *config.Loaded, path string, environ []string, log *slog.Logger) error {
	ctx := context.Background()
	reg := telemetry.NewRegistry()
	health := telemetry.NewHealth()
	b, err := bus.Open(ctx, loaded.Bus, bus.Options{Logger: log, Registerer: reg, Name: spec.Name})
	if err != nil {
		return err
	}
	defer b.Close()
	if loaded.Bus.URL == "" {
		log.Info("embedded nats-server started", "store_dir", loaded.Bus.StoreDir, "mode", loaded.Bus.Mode, "listen", loaded.Bus.Listen)
	}
	health.AddCheck("bus", b.Ready)
	env := &Env{Config: loaded, Bus: b, Logger: log, Registry: reg, ConfigPath: path, Environ: environ}
	comps, err := spec.Build(ctx, env)
	if err != nil {
		return err
	}
	return app.Run(ctx, app.Settings{
		Logger:          log,
		Registry:        reg,
		Health:          health,
		Listen:          loaded.HTTP.Listen,
		ShutdownTimeout: loaded.HTTP.ShutdownTimeout.D(),
	}, comps...)
}

// ReceiverFactory builds one component per input section of a protocol; the receivers hand
// their batches to next and never see the bus.
type ReceiverFactory func(cfg *config.Config, next pipeline.Consumer) ([]app.Component, error)

// Receiver is the Build of a standalone receiver service.
func Receiver(source string, f ReceiverFactory) Build {
	return func(_ context.Context, env *Env) ([]app.Component, error) {
		comps, err := f(env.Config.Config, env.Bus.SpansConsumer())
		if err != nil {
			return nil, err
		}
		if len(comps) == 0 {
			return nil, fmt.Errorf("no [[inputs.%s]] section in the config: nothing to receive", source)
		}
		return comps, nil
	}
}

// Probe GETs /readyz on the local listener of listen (a wildcard host is probed on loopback).
func Probe(listen string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}
