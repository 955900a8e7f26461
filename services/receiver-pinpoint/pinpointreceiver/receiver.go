// Package pinpointreceiver is the Pinpoint gRPC collector ([[inputs.pinpoint]], datakit-spec
// §1.7): Agent, Metadata, Span, Stat and ProfilerCommandService on one address, as a Pinpoint
// agent expects when its agent, span and stat ports all name the same listener.
package pinpointreceiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	v1 "github.com/pinpoint-apm/pinpoint-go-agent/protobuf"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/libs/telemetry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

const (
	// maxRecvMsgSize is DataKit's limit for Pinpoint messages.
	maxRecvMsgSize = 10 << 20
	// metadataWait bounds how long a span waits for metadata still in flight.
	metadataWait = time.Second
	// maxMetadataEntries caps the API/SQL/string metadata held over all agents.
	maxMetadataEntries = 200_000
	// maxAgents caps the AgentInfo entries held.
	maxAgents = 10_000
)

// Components builds one collector per [[inputs.pinpoint]] section.
func Components(cfg *config.Config, next pipeline.Consumer) ([]app.Component, error) {
	var comps []app.Component
	for i := range cfg.Inputs.Pinpoint {
		in := &cfg.Inputs.Pinpoint[i]
		if _, _, err := net.SplitHostPort(in.Address); err != nil {
			return nil, fmt.Errorf("inputs.pinpoint[%d].address: %w", i, err)
		}
		comps = append(comps, &Receiver{
			name:  config.InputName(config.SourcePinpoint, i),
			cfg:   in,
			next:  next,
			pool:  receiver.NewPool(in.Threads),
			wait:  metadataWait,
			quit:  make(chan struct{}),
			infos: map[string]map[string]string{},
		})
	}
	return comps, nil
}

// Receiver is one Pinpoint collector.
type Receiver struct {
	name string
	cfg  *config.Pinpoint
	next pipeline.Consumer
	pool *receiver.Pool
	wait time.Duration

	log     *slog.Logger
	obs     *receiver.Obs
	meta    *metaCache
	metrics *metrics
	srv     *grpc.Server
	ln      net.Listener
	served  chan struct{}

	quit     chan struct{} // closed by Shutdown: long-lived streams end
	quitOnce sync.Once

	infoMu sync.Mutex
	infos  map[string]map[string]string // agentid -> AgentInfo tags
}

// Name implements app.Component.
func (r *Receiver) Name() string { return "receiver-pinpoint/" + r.name }

// Addr is the bound listener address (after Start).
func (r *Receiver) Addr() net.Addr { return r.ln.Addr() }

// Start opens the gRPC listener.
func (r *Receiver) Start(_ context.Context, host *app.Host) error {
	r.log = host.Logger.With("component", r.Name())
	r.obs = receiver.NewObs(host.Registry)
	r.metrics = newMetrics(host.Registry)
	r.meta = newMetaCache(maxMetadataEntries, newMetaMetrics(host.Registry))
	ln, err := net.Listen("tcp", r.cfg.Address)
	if err != nil {
		return fmt.Errorf("pinpoint: listen on %s: %w", r.cfg.Address, err)
	}
	r.ln = ln
	r.srv = grpc.NewServer(
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		// Pinpoint agents ping every 30 s even without streams; grpc-go's default policy
		// (5 min) would answer that with GOAWAY too_many_pings and drop the agent.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	v1.RegisterAgentServer(r.srv, &agentService{r: r})
	v1.RegisterMetadataServer(r.srv, &metadataService{r: r})
	v1.RegisterSpanServer(r.srv, &spanService{r: r})
	v1.RegisterStatServer(r.srv, &statService{r: r})
	v1.RegisterProfilerCommandServiceServer(r.srv, &commandService{r: r})
	r.served = make(chan struct{})
	go func() {
		defer close(r.served)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			r.log.Error("pinpoint grpc server stopped", "err", err)
		}
	}()
	r.log.Info("pinpoint collector listening", "address", ln.Addr().String())
	return nil
}

// Shutdown ends the agents' long-lived streams (each message already received has been
// handed on), then stops the server gracefully, forcing it when ctx ends first.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.quitOnce.Do(func() { close(r.quit) })
	if r.srv == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { r.srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.srv.Stop()
		<-done
	}
	<-r.served
	return nil
}

func (r *Receiver) setAgentInfo(agentID string, tags map[string]string) {
	r.infoMu.Lock()
	defer r.infoMu.Unlock()
	if _, ok := r.infos[agentID]; !ok && len(r.infos) >= maxAgents {
		for k := range r.infos { // any one: agents re-send AgentInfo on reconnect
			delete(r.infos, k)
			break
		}
	}
	r.infos[agentID] = tags
}

func (r *Receiver) agentInfo(agentID string) map[string]string {
	r.infoMu.Lock()
	defer r.infoMu.Unlock()
	return r.infos[agentID]
}

type metrics struct {
	messages *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{messages: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tracekit_pinpoint_messages_total", Help: "Pinpoint agent messages received, by service and kind (span, span_chunk, stat, api, sql, ...).",
	}, []string{"service", "kind"})}
	if reg != nil {
		m.messages = telemetry.Register(reg, m.messages)
	}
	return m
}
