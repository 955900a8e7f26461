// Command dataway-sim is a Dataway stand-in: it accepts what DataKit (and tracekit) posts,
// keeps the decoded points in memory and answers a JSON query API under /v1/_sim/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tracekit/tracekit/tools/dataway-sim/sim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("dataway-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9528", "address to listen on")
	token := fs.String("token", "tkn_local", "workspace token required in ?token= (empty accepts any)")
	maxPoints := fs.Int("max-points", 100_000, "points kept in memory; the oldest are evicted")
	maxTraces := fs.Int("max-traces", sim.DefaultMaxTraces, "traces the viewer at / keeps; the least recently updated is evicted")
	maxBody := fs.Int("max-raw-body", 0, "answer 413 to bodies whose decompressed size passes this (0: no limit)")
	verbose := fs.Bool("v", false, "debug logs")
	healthcheck := fs.String("healthcheck", "", "GET this URL and exit 0 when it answers 200, 1 otherwise (container health checks: the image has no shell or wget)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *healthcheck != "" {
		return probe(*healthcheck, stderr)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("service", "dataway-sim")
	srv := sim.New(sim.Options{Token: *token, MaxPoints: *maxPoints, MaxTraces: *maxTraces, MaxRawBodySize: *maxBody, Logger: log})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "dataway-sim: %v\n", err)
		return 1
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "token_required", *token != "")
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "err", err)
			return 1
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	log.Info("stopped")
	return 0
}

func probe(url string, stderr io.Writer) int {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "dataway-sim: not ready: %v\n", err)
		return 1
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "dataway-sim: not ready: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}
