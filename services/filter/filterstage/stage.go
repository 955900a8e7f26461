// Package filterstage is the filter service: it consumes tracekit.spans.>, applies the
// input's filter chain to each batch and publishes what survives on tracekit.kept.<source>,
// acknowledging the source message only once the result is stored.
package filterstage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/telemetry"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Chain decides, for one batch of one input, which traces are kept. It returns the kept
// batch (nil or empty when nothing is kept) and commit, which records the decision in the
// chain's metrics (nil when there is nothing to record); the stage calls commit only once
// the kept batch is stored, so a batch redelivered after a failed publish is counted once.
// Implementations must be safe for concurrent use.
type Chain interface {
	Apply(ctx context.Context, batch *spanv1.TraceBatch) (kept *spanv1.TraceBatch, commit func())
}

// ChainBuilder builds the chain from a configuration; it is called at start and on reload,
// and a returned error rejects the new configuration.
type ChainBuilder func(cfg *config.Config) (Chain, error)

// PassThrough keeps everything: the stage without filters.
func PassThrough(*config.Config) (Chain, error) { return passThrough{}, nil }

type passThrough struct{}

func (passThrough) Apply(_ context.Context, b *spanv1.TraceBatch) (*spanv1.TraceBatch, func()) {
	return b, nil
}

// ackWait is the filter consumer's ack deadline; publishes retry inside it.
const ackWait = 10 * time.Second

// Durable is the consumer every filter instance shares.
const Durable = "filter"

// Settings wire a Stage.
type Settings struct {
	Bus    *bus.Bus
	Config *config.Config
	Build  ChainBuilder
	// Reload re-reads the configuration for SIGHUP and POST /-/reload; nil disables reload.
	Reload func() (*config.Config, error)
}

// Stage is the filter component.
type Stage struct {
	s      Settings
	chain  atomic.Pointer[chainHolder]
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	m      *stageMetrics

	// cancel ends fetching (fetchCtx); the batch in hand is published under a context that
	// outlives it, ended by cancelWork only when Shutdown runs out of time, so stopping lets
	// that batch finish instead of naking it.
	fetchCtx   context.Context
	cancelWork context.CancelFunc
}

type chainHolder struct{ c Chain }

// New builds the stage and its initial chain.
func New(s Settings) (*Stage, error) {
	if s.Build == nil {
		s.Build = PassThrough
	}
	c, err := s.Build(s.Config)
	if err != nil {
		return nil, fmt.Errorf("build filter chain: %w", err)
	}
	st := &Stage{s: s, log: slog.New(slog.DiscardHandler)}
	st.chain.Store(&chainHolder{c: c})
	return st, nil
}

// Name implements app.Component.
func (*Stage) Name() string { return "filter" }

// Start begins consuming.
func (st *Stage) Start(_ context.Context, host *app.Host) error {
	st.log = host.Logger.With("component", "filter")
	st.m = newStageMetrics(host.Registry)
	fetchCtx, cancel := context.WithCancel(context.Background())
	workCtx, cancelWork := context.WithCancel(context.Background())
	st.fetchCtx, st.cancel, st.cancelWork = fetchCtx, cancel, cancelWork
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		// A batch takes milliseconds (filter + one publish per message), so the ack wait only
		// decides how soon a crashed instance's batch in hand goes to another instance.
		spec := bus.ConsumerSpec{Stream: bus.StreamSpans, Subject: bus.SpansPrefix + ">", Durable: Durable, Batch: 64, AckWait: ackWait}
		handle := func(_ context.Context, msgs []*bus.Msg) { st.handle(workCtx, msgs) }
		if err := st.s.Bus.Consume(fetchCtx, spec, handle); err != nil {
			st.log.Error("consume stopped", "err", err)
		}
	}()
	return nil
}

// Shutdown stops fetching and waits for the batch in hand to be published and acked; when
// ctx ends first, the publishes are aborted and their messages naked for redelivery.
func (st *Stage) Shutdown(ctx context.Context) error {
	if st.cancel == nil {
		return nil
	}
	st.cancel()
	done := make(chan struct{})
	go func() {
		st.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		st.cancelWork()
		<-done
	}
	st.cancelWork()
	return nil
}

// Reload swaps in a chain built from a freshly read configuration; on error the running
// chain stays.
func (st *Stage) Reload(context.Context) error {
	if st.s.Reload == nil {
		return nil
	}
	cfg, err := st.s.Reload()
	if err == nil {
		var c Chain
		if c, err = st.s.Build(cfg); err == nil {
			st.chain.Store(&chainHolder{c: c})
			return nil
		}
	}
	if st.m != nil {
		st.m.reloadFailures.Inc()
	}
	return err
}

// parallel is how many messages of one fetch are in flight at once: each waits for its
// publish ack, so serial handling would cost a JetStream round trip per message.
const parallel = 16

func (st *Stage) handle(ctx context.Context, msgs []*bus.Msg) {
	// One chain for the whole fetch: a reload takes effect at the next one.
	chain := st.chain.Load().c
	if len(msgs) == 1 {
		st.handleOne(ctx, chain, msgs[0])
		return
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			st.handleOne(ctx, chain, m)
		}()
	}
	wg.Wait()
}

func (st *Stage) handleOne(ctx context.Context, chain Chain, m *bus.Msg) {
	batch, err := spanmodel.Unmarshal(m.Data)
	if err != nil {
		// Not decodable now means never decodable: drop it loudly instead of looping.
		st.log.Error("dropping undecodable message", "subject", m.Subject, "seq", m.StreamSeq, "err", err)
		st.m.undecodable.Inc()
		_ = m.Term()
		return
	}
	if batch.Input == "" {
		batch.Input = m.Header.Get(bus.HeaderInput)
	}
	in := spanmodel.SpanCount(batch)
	kept, commit := chain.Apply(ctx, batch)
	out := 0
	if kept != nil {
		out = spanmodel.SpanCount(kept)
	}
	if out > 0 {
		// The id makes a republish after a crash between publish and ack a duplicate that
		// JetStream drops inside its window.
		id := ""
		if m.StreamSeq != 0 {
			id = "spans-" + strconv.FormatUint(m.StreamSeq, 10)
		}
		if err := st.s.Bus.PublishBatch(ctx, bus.KeptPrefix, kept, id); err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				st.log.Warn("publish kept batch failed; will retry", "source", batch.Source, "err", err)
			}
			_ = m.Nak(time.Second)
			return
		}
	}
	if commit != nil {
		commit()
	}
	st.m.spans.WithLabelValues(batch.Source, "in").Add(float64(in))
	st.m.spans.WithLabelValues(batch.Source, "kept").Add(float64(out))
	if err := m.Ack(); err != nil {
		st.log.Warn("ack failed; the batch may be processed again", "err", err)
	}
}

type stageMetrics struct {
	spans          *prometheus.CounterVec
	undecodable    prometheus.Counter
	reloadFailures prometheus.Counter
}

func newStageMetrics(reg prometheus.Registerer) *stageMetrics {
	return &stageMetrics{
		spans: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_filter_stage_spans_total", Help: "Spans that entered the filter stage (in) and that it published (kept).",
		}, []string{"source", "direction"})),
		undecodable: telemetry.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tracekit_filter_undecodable_messages_total", Help: "Bus messages that were not a TraceBatch and were terminated.",
		})),
		reloadFailures: telemetry.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tracekit_config_reload_failures_total", Help: "Reloads rejected because the new configuration was invalid; the previous one stays.",
		})),
	}
}
