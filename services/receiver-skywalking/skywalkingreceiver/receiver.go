// Package skywalkingreceiver serves the SkyWalking v3 agent protocol: the gRPC services a
// SkyWalking agent talks to on `address` (traces are converted, the rest acknowledged so
// agents stay connected), DataKit's /v3/trace and OAP's JSON /v3/segment(s) on the shared
// HTTP listener.
package skywalkingreceiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/telemetry"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-skywalking/skywalkingreceiver/internal/translator"
	"google.golang.org/grpc"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
)

// maxMessage is DataKit's gRPC receive limit, also applied to HTTP bodies.
const maxMessage = 10 << 20

// Components returns one receiver per [[inputs.skywalking]] section.
func Components(cfg *config.Config, next pipeline.Consumer) ([]app.Component, error) {
	var out []app.Component
	for i := range cfg.Inputs.SkyWalking {
		in := &cfg.Inputs.SkyWalking[i]
		ignore, err := spanmodel.CompileTagMatcher(in.IgnoreTags)
		if err != nil {
			return nil, fmt.Errorf("inputs.skywalking[%d].%w", i, err)
		}
		addr := in.Address
		if addr == "" {
			addr = "127.0.0.1:11800"
		}
		endpoints := in.Endpoints
		if len(endpoints) == 0 {
			endpoints = config.SkyWalkingTraceEndpoints
		}
		out = append(out, &Receiver{
			input:     config.InputName(config.SourceSkyWalking, i),
			address:   addr,
			endpoints: endpoints,
			next:      next,
			pool:      receiver.NewPool(in.Threads),
			opts: translator.Options{
				Plugins: in.Plugins, IgnoreTags: ignore, InputTags: in.Tags, DelMessage: in.DelMessage,
			},
			now:      time.Now,
			stopping: make(chan struct{}),
		})
	}
	return out, nil
}

// Receiver is one [[inputs.skywalking]] section: its gRPC listener and HTTP routes.
type Receiver struct {
	input     string
	address   string
	endpoints []string
	next      pipeline.Consumer
	pool      *receiver.Pool
	opts      translator.Options
	now       func() time.Time

	log     *slog.Logger
	obs     *receiver.Obs
	ignored *prometheus.CounterVec

	mu       sync.Mutex
	srv      *grpc.Server
	ln       net.Listener
	served   chan struct{}
	stopping chan struct{}
	stopOnce sync.Once
}

// Name implements app.Component.
func (r *Receiver) Name() string { return "receiver/" + r.input }

// GRPCAddr is the bound gRPC address (useful with port 0); nil before Start.
func (r *Receiver) GRPCAddr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return nil
	}
	return r.ln.Addr()
}

// Start mounts the HTTP routes and opens the gRPC listener.
func (r *Receiver) Start(_ context.Context, host *app.Host) error {
	r.log = host.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", r.Name())
	r.obs = receiver.NewObs(host.Registry)
	r.ignored = telemetry.Register(host.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tracekit_receiver_skywalking_ignored_total",
		Help: "SkyWalking agent messages acknowledged without conversion (metrics, logs, events, profiles, management), by gRPC method.",
	}, []string{"method"}))
	if err := r.mountHTTP(host); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", r.address)
	if err != nil {
		return fmt.Errorf("%s: listen on address %s: %w", r.input, r.address, err)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessage))
	r.register(srv)
	served := make(chan struct{})
	r.mu.Lock()
	r.srv, r.ln, r.served = srv, ln, served
	r.mu.Unlock()
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			r.log.Error("grpc server stopped", "err", err)
		}
	}()
	r.log.Info("skywalking grpc listening", "address", ln.Addr().String())
	return nil
}

// Shutdown ends agent streams after the segment they are on, refuses new calls, and waits
// for running ones until ctx ends; then it cuts the rest.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stopping) })
	r.mu.Lock()
	srv, served := r.srv, r.served
	r.mu.Unlock()
	if srv == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		srv.Stop()
		<-done
		err = fmt.Errorf("%s: grpc drain: %w", r.input, ctx.Err())
	}
	<-served
	return err
}

// publish converts segments and hands them to next; it runs inside the pool. It returns the
// span count for the metrics.
func (r *Receiver) publish(ctx context.Context, segs []*agentv3.SegmentObject) (int, error) {
	spans, err := translator.ConvertAll(segs, &r.opts)
	if err != nil {
		return 0, pipeline.Permanent(err)
	}
	if len(spans) == 0 {
		return 0, nil
	}
	batch := &spanv1.TraceBatch{
		Source:           config.SourceSkyWalking,
		Input:            r.input,
		ReceivedUnixNano: r.now().UnixNano(),
		Traces:           spanmodel.GroupByTrace(spans),
	}
	return len(spans), r.next.ConsumeTraces(ctx, batch)
}

// consume is publish through the pool, with accounting.
func (r *Receiver) consume(ctx context.Context, transport string, size int, segs []*agentv3.SegmentObject) error {
	var spans int
	err := r.pool.Do(ctx, func(ctx context.Context) error {
		var err error
		spans, err = r.publish(ctx, segs)
		return err
	})
	r.obs.Record(config.SourceSkyWalking, transport, size, spans, err)
	return err
}
