// Package datawaysender is the sender service: it consumes kept spans (tracekit.kept.>) and
// points (tracekit.points.>), batches them per category like DataKit's IO ([io]
// flush_interval, max_cache_count), encodes spans as tracing points, and posts bodies to
// every Dataway. A bus message is acknowledged only when every body holding its data got a
// final answer; otherwise it is naked with a growing delay and waits in JetStream.
//
// While Dataway is down the streams fill up to [bus] max_bytes. They discard new data, not
// old (DiscardNew): what the limit forces out is the data refused at intake, never data
// already acknowledged. That refusal is the counting point: the publisher gets
// pipeline.Exhausted (receivers and the gateway answer 429 / RESOURCE_EXHAUSTED) and the bus
// counts it in tracekit_bus_publish_errors_total{kind,reason="full"}.
//
// Build also starts the aggregator (libs/aggregator) as the Router: metric rules and tail
// sampling see each category's points before they are written. Spans become point
// messages only for it; otherwise they are written straight into the bodies.
package datawaysender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/aggregator"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/buildinfo"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/dataway"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/telemetry"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/proto"
)

// Durable consumer names every sender instance shares.
const (
	DurableKept   = "sender"
	DurablePoints = "sender-points"
)

// Router lets a later stage (aggregator, tail sampling) see a category's points before they
// are written. It returns the points that continue to /v1/write/<category> (a subset of
// pts, same pointers). A non-Permanent error naks every message of the flush: nothing is
// acknowledged until the router's own delivery succeeded.
type Router func(ctx context.Context, category string, pts []*pointpb.PBPoint) ([]*pointpb.PBPoint, error)

// Routes reports whether the Router reads or takes a category's points now. When it does
// not, the Router is skipped, and kept spans are encoded straight into bodies without
// being built as points.
type Routes func(category string) bool

// Settings wire a Sender.
type Settings struct {
	Bus    *bus.Bus
	Config *config.Config
	// Client posts to Dataway; nil builds one from Config.Dataway.
	Client   *dataway.Client
	Registry prometheus.Registerer
	Logger   *slog.Logger
	// Hostname is the dk_fingerprint tag (default buildinfo.Hostname()).
	Hostname string
	Router   Router
	// Routes tells which categories Router wants; nil with a Router means every one.
	Routes Routes
	// AckWait of the consumers (default max(10s, 3 × flush_interval)). Held messages are
	// kept alive with InProgress every AckWait/3, so it bounds only a crashed sender's hold.
	AckWait time.Duration
	// NakDelay is the first redelivery delay after a transient failure, doubled per
	// delivery up to MaxNakDelay (defaults: [dataway] retry_delay and max_retry_delay).
	NakDelay, MaxNakDelay time.Duration
	// Concurrency is how many bodies are posted at once per flush (default 4).
	Concurrency int
	// FetchBatch is the most messages fetched at once (default 64).
	FetchBatch int
}

// Sender is the delivery component.
type Sender struct {
	s      Settings
	client *dataway.Client
	log    *slog.Logger
	m      *metrics
	opts   dataway.PointOptions

	cancelFetch context.CancelFunc
	flushCtx    context.Context
	cancelFlush context.CancelFunc
	stop        chan struct{}
	wg          sync.WaitGroup // consumers and batchers
	aliveWG     sync.WaitGroup // keepAlive, which outlives them: a shutdown flush is held too

	heldMu sync.Mutex
	held   map[*bus.Msg]struct{}

	partial *partials
}

// maxPartials bounds the partly delivered messages remembered (see partials).
const maxPartials = 4096

// Build is the service.Build of the sender (and the sender part of the all-in-one).
// The aggregator is its own component (started first, stopped last, reloaded on SIGHUP)
// and sees every category's points through the Router.
func Build(_ context.Context, env *service.Env) ([]app.Component, error) {
	cfg := env.Config.Config
	client, err := newClient(cfg.Dataway, env.Registry, env.Logger)
	if err != nil {
		return nil, err
	}
	agg, err := aggregator.New(aggregator.Options{Config: cfg.Aggregator, Dataway: cfg.Dataway, Client: client, Registry: env.Registry, Logger: env.Logger})
	if err != nil {
		return nil, err
	}
	s, err := New(Settings{Bus: env.Bus, Config: cfg, Client: client, Registry: env.Registry, Logger: env.Logger, Router: agg.Process, Routes: agg.Consumes})
	if err != nil {
		return nil, err
	}
	return []app.Component{agg, s}, nil
}

func newClient(dw config.Dataway, reg prometheus.Registerer, log *slog.Logger) (*dataway.Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o, err := dataway.NewOptions(dw)
	if err != nil {
		return nil, fmt.Errorf("dataway: %w", err)
	}
	o.Registerer, o.Logger = reg, log.With("component", "dataway")
	c, err := dataway.NewClient(o)
	if err != nil {
		return nil, fmt.Errorf("dataway: %w", err)
	}
	return c, nil
}

// New validates the settings and builds the Dataway client.
func New(s Settings) (*Sender, error) {
	if s.Bus == nil || s.Config == nil {
		return nil, errors.New("sender: bus and config are required")
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Hostname == "" {
		s.Hostname = buildinfo.Hostname()
	}
	dw := s.Config.Dataway
	if s.NakDelay <= 0 {
		s.NakDelay = max(dw.RetryDelay.D(), 100*time.Millisecond)
	}
	if s.MaxNakDelay < s.NakDelay {
		s.MaxNakDelay = max(dw.MaxRetryDelay.D(), s.NakDelay)
	}
	if s.AckWait <= 0 {
		s.AckWait = max(10*time.Second, 3*s.Config.IO.FlushInterval.D())
	}
	if s.Concurrency <= 0 {
		s.Concurrency = 4
	}
	if s.FetchBatch <= 0 {
		s.FetchBatch = 64
	}
	if s.Client == nil {
		c, err := newClient(dw, s.Registry, s.Logger)
		if err != nil {
			return nil, err
		}
		s.Client = c
	}
	return &Sender{
		s: s, client: s.Client, log: s.Logger.With("component", "sender"), m: newMetrics(s.Registry),
		opts: dataway.PointOptions{Hostname: s.Hostname, GlobalTags: s.Config.GlobalTags},
		held: map[*bus.Msg]struct{}{}, partial: newPartials(maxPartials),
	}, nil
}

// Name implements app.Component.
func (*Sender) Name() string { return "sender" }

// Client is the Dataway client, for stages that post to other APIs (aggregator).
func (sd *Sender) Client() *dataway.Client { return sd.client }

// Start begins consuming both streams.
func (sd *Sender) Start(_ context.Context, host *app.Host) error {
	if host != nil {
		if host.Logger != nil {
			sd.log = host.Logger.With("component", "sender")
		}
		if host.Health != nil {
			host.Health.AddCheck("bus", sd.s.Bus.Ready)
		}
	}
	fetchCtx, cancel := context.WithCancel(context.Background())
	sd.cancelFetch = cancel
	sd.flushCtx, sd.cancelFlush = context.WithCancel(context.Background())
	sd.stop = make(chan struct{})
	pipes := []*pipe{
		{name: "kept", spec: bus.ConsumerSpec{Stream: bus.StreamKept, Subject: bus.KeptPrefix + ">", Durable: DurableKept}, decode: sd.decodeKept},
		{name: "points", spec: bus.ConsumerSpec{Stream: bus.StreamPoints, Subject: bus.PointsPrefix + ">", Durable: DurablePoints}, decode: decodePoints},
	}
	for _, p := range pipes {
		p.spec.Batch, p.spec.AckWait = sd.s.FetchBatch, sd.s.AckWait
		p.in = make(chan []item)
		sd.wg.Add(2)
		go func() {
			defer sd.wg.Done()
			defer close(p.in)
			if err := sd.s.Bus.Consume(fetchCtx, p.spec, func(ctx context.Context, msgs []*bus.Msg) { sd.intake(ctx, p, msgs) }); err != nil {
				sd.log.Error("consume stopped", "stream", p.spec.Stream, "err", err)
			}
		}()
		go func() {
			defer sd.wg.Done()
			sd.batch(p)
		}()
	}
	sd.aliveWG.Add(1)
	go func() {
		defer sd.aliveWG.Done()
		sd.keepAlive()
	}()
	return nil
}

// Shutdown stops fetching, flushes what is held (bounded by ctx) and naks what could not be
// delivered in time.
func (sd *Sender) Shutdown(ctx context.Context) error {
	if sd.cancelFetch == nil {
		return nil
	}
	sd.cancelFetch()
	done := make(chan struct{})
	go func() {
		sd.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// Abort in-flight posts: their messages are naked and wait in JetStream.
		sd.cancelFlush()
		<-done
	}
	sd.cancelFlush()
	close(sd.stop)
	sd.aliveWG.Wait()
	return nil
}

// item is one decoded bus message: a kept batch's spans, or points.
type item struct {
	msg      *bus.Msg
	category string
	spans    []*spanv1.DatakitSpan
	points   []*pointpb.PBPoint
}

// count is the number of points the item becomes.
func (it *item) count() int { return len(it.spans) + len(it.points) }

type pipe struct {
	name   string
	spec   bus.ConsumerSpec
	decode func(*bus.Msg) (item, error)
	in     chan []item
}

// intake decodes a fetched batch and hands it to the batcher; it blocks while the batcher
// is busy, which stops fetching (back-pressure into the stream).
func (sd *Sender) intake(ctx context.Context, p *pipe, msgs []*bus.Msg) {
	items := make([]item, 0, len(msgs))
	for _, m := range msgs {
		it, err := p.decode(m)
		if err != nil {
			sd.log.Error("dropping undecodable message", "subject", m.Subject, "seq", m.StreamSeq, "err", err)
			sd.m.messages.WithLabelValues(p.name, "term").Inc()
			_ = m.Term()
			continue
		}
		it.msg = m
		items = append(items, it)
	}
	if len(items) == 0 {
		return
	}
	sd.hold(items)
	select {
	case p.in <- items:
	case <-ctx.Done():
		// Shutting down before the batcher took them: let another instance have them now.
		for _, it := range items {
			sd.answer(p, it.msg, false, 0)
		}
	}
}

// decodeKept keeps the spans: whether they become points (for the Router) or go straight
// into bodies is decided at flush time, with the Router's config of that moment.
func (sd *Sender) decodeKept(m *bus.Msg) (item, error) {
	batch, err := spanmodel.Unmarshal(m.Data)
	if err != nil {
		return item{}, err
	}
	spans := make([]*spanv1.DatakitSpan, 0, spanmodel.SpanCount(batch))
	for _, t := range batch.GetTraces() {
		spans = append(spans, t.GetSpans()...)
	}
	return item{category: dataway.CategoryTracing, spans: spans}, nil
}

var categoryRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

func decodePoints(m *bus.Msg) (item, error) {
	cat := m.Header.Get(bus.HeaderCategory)
	if cat == "" {
		cat = strings.TrimPrefix(m.Subject, bus.PointsPrefix)
	}
	if !categoryRE.MatchString(cat) {
		return item{}, fmt.Errorf("invalid category %q", cat)
	}
	var pts pointpb.PBPoints
	if err := proto.Unmarshal(m.Data, &pts); err != nil {
		return item{}, fmt.Errorf("decode points: %w", err)
	}
	return item{category: cat, points: pts.GetArr()}, nil
}

type pending struct {
	items  []item
	points int
}

// batch accumulates items per category and flushes a category when it holds
// max_cache_count points, and every category on each flush_interval tick.
func (sd *Sender) batch(p *pipe) {
	maxCount := max(sd.s.Config.IO.MaxCacheCount, 1)
	interval := sd.s.Config.IO.FlushInterval.D()
	if interval <= 0 {
		interval = 10 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	byCat := map[string]*pending{}
	flushAll := func() {
		for cat, pd := range byCat {
			if len(pd.items) > 0 {
				sd.flush(p, cat, pd.items)
			}
			delete(byCat, cat)
		}
	}
	for {
		select {
		case items, ok := <-p.in:
			if !ok {
				// Fetching stopped (shutdown): deliver what is held, bounded by the
				// shutdown context through flushCtx.
				flushAll()
				return
			}
			for _, it := range items {
				pd := byCat[it.category]
				if pd == nil {
					pd = &pending{}
					byCat[it.category] = pd
				}
				pd.items = append(pd.items, it)
				pd.points += it.count()
				if pd.points >= maxCount {
					sd.flush(p, it.category, pd.items)
					delete(byCat, it.category)
				}
			}
		case <-tick.C:
			flushAll()
		}
	}
}

// flush encodes and posts the data of items, then answers every message. Points of a
// redelivered message that Dataway accepted before (see partials) are not sent again.
func (sd *Sender) flush(p *pipe, category string, items []item) {
	ctx := sd.flushCtx
	start := time.Now()
	failed := make([]bool, len(items))
	failAll := func() {
		for i := range failed {
			failed[i] = true
		}
	}
	done := make([][]bool, len(items))
	for i, it := range items {
		if prev := sd.partial.get(partialOf(p, it), it.count()); prev != nil {
			done[i] = slices.Clone(prev)
		}
	}
	settle := func(r ref) {
		if done[r.item] == nil {
			done[r.item] = make([]bool, items[r.item].count())
		}
		done[r.item][r.pos] = true
	}
	bodies, drops, refs, settled, err := sd.encode(ctx, category, items, done, failAll)
	if err != nil {
		sd.log.Error("encode failed; will retry", "category", category, "err", err)
		failAll()
		bodies, drops, settled = nil, nil, nil
	}
	for _, r := range settled {
		settle(r)
	}
	for _, d := range drops {
		sd.log.Warn("point dropped before sending", "category", category, "reason", d.Reason, "size", d.Size)
		sd.client.CountDropped(category, d.Reason, 1)
		settle(refs[d.Index])
	}
	if len(bodies) > 0 {
		results := sd.post(ctx, category, bodies)
		for _, r := range results {
			ok := r.Err == nil || pipeline.IsPermanent(r.Err)
			for _, k := range r.Body.Index {
				if ok {
					settle(refs[k])
				} else {
					failed[refs[k].item] = true
				}
			}
		}
		var nFailed int
		for _, f := range failed {
			if f {
				nFailed++
			}
		}
		if nFailed > 0 {
			sd.log.Warn("dataway delivery failed; messages wait in the stream", "category", category, "messages", nFailed, "err", firstErr(results))
		}
	}
	for i, it := range items {
		key := partialOf(p, it)
		switch {
		case !failed[i]:
			sd.partial.drop(key)
		case key.seq != 0 && slices.Contains(done[i], true):
			sd.partial.put(key, done[i])
		}
		sd.answer(p, it.msg, !failed[i], it.msg.NumDelivered)
	}
	sd.m.flushes.WithLabelValues(category).Inc()
	sd.m.flushLatency.WithLabelValues(category).Observe(time.Since(start).Seconds())
}

// ref is a point's place in a flush: the item (bus message) and its position in it.
type ref struct{ item, pos int }

func partialOf(p *pipe, it item) partialKey {
	var seq uint64
	if it.msg != nil {
		seq = it.msg.StreamSeq
	}
	return partialKey{pipe: p.name, seq: seq}
}

// encode turns items into bodies, leaving out the points done marks as delivered.
// refs[k] is the place of the k-th point given to the encoder (the bodies' Index);
// settled are points the Router took for good. Spans go straight into bodies unless the
// Router wants this category's points: then they are converted and routed first, as
// every point is.
func (sd *Sender) encode(ctx context.Context, category string, items []item, done [][]bool, failAll func()) (bodies []*dataway.Body, drops []dataway.Drop, refs, settled []ref, err error) {
	route := sd.s.Router != nil && (sd.s.Routes == nil || sd.s.Routes(category))
	n := 0
	onlySpans := true
	for _, it := range items {
		n += it.count()
		onlySpans = onlySpans && len(it.points) == 0
	}
	refs = make([]ref, 0, n)
	var skipped int
	keep := func(i, pos int) bool {
		if done[i] != nil && done[i][pos] {
			skipped++
			return false
		}
		refs = append(refs, ref{i, pos})
		return true
	}
	defer func() {
		if skipped > 0 {
			sd.m.skipped.WithLabelValues(category).Add(float64(skipped))
		}
	}()
	if !route && onlySpans {
		spans := make([]*spanv1.DatakitSpan, 0, n)
		for i, it := range items {
			for j, s := range it.spans {
				if keep(i, j) {
					spans = append(spans, s)
				}
			}
		}
		if len(spans) == 0 {
			return nil, nil, refs, nil, nil
		}
		bodies, drops, err = sd.client.Encoder().EncodeSpans(spans, sd.opts)
		return bodies, drops, refs, nil, err
	}
	pts := make([]*pointpb.PBPoint, 0, n)
	for i, it := range items {
		for j, s := range it.spans {
			if keep(i, j) {
				pts = append(pts, dataway.SpanToPoint(s, sd.opts))
			}
		}
		for j, pt := range it.points {
			if keep(i, len(it.spans)+j) {
				pts = append(pts, pt)
			}
		}
	}
	if route && len(pts) > 0 {
		idx := make(map[*pointpb.PBPoint]ref, len(pts))
		for k, pt := range pts {
			idx[pt] = refs[k]
		}
		rest, rerr := sd.s.Router(ctx, category, pts)
		if rerr != nil && !pipeline.IsPermanent(rerr) {
			sd.log.Warn("router failed; will retry", "category", category, "err", rerr)
			failAll()
			return nil, nil, nil, nil, nil
		}
		pts, refs = rest, make([]ref, 0, len(rest))
		for _, pt := range rest {
			refs = append(refs, idx[pt])
			delete(idx, pt)
		}
		// What the Router took and did not give back is delivered (or dropped) by it.
		for _, r := range idx {
			settled = append(settled, r)
		}
	}
	if len(pts) == 0 {
		return nil, nil, refs, settled, nil
	}
	bodies, drops, err = sd.client.Encoder().Encode(pts)
	return bodies, drops, refs, settled, err
}

func firstErr(rs []dataway.Result) error {
	for _, r := range rs {
		if r.Err != nil && !pipeline.IsPermanent(r.Err) {
			return r.Err
		}
	}
	return nil
}

// post sends bodies with bounded concurrency; results are in body order.
func (sd *Sender) post(ctx context.Context, category string, bodies []*dataway.Body) []dataway.Result {
	results := make([]dataway.Result, len(bodies))
	sem := make(chan struct{}, sd.s.Concurrency)
	var wg sync.WaitGroup
	for i, b := range bodies {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = sd.client.Write(ctx, category, b)
		}()
	}
	wg.Wait()
	return results
}

// answer acks a delivered message or naks it with a delay growing with its deliveries.
func (sd *Sender) answer(p *pipe, m *bus.Msg, ok bool, deliveries uint64) {
	sd.release(m)
	if ok {
		sd.m.messages.WithLabelValues(p.name, "ack").Inc()
		if err := m.Ack(); err != nil {
			sd.log.Warn("ack failed; the message may be delivered again", "stream", p.spec.Stream, "err", err)
		}
		return
	}
	sd.m.messages.WithLabelValues(p.name, "nak").Inc()
	if err := m.Nak(sd.nakDelay(deliveries)); err != nil {
		sd.log.Debug("nak failed; the message is redelivered after ack wait", "err", err)
	}
}

func (sd *Sender) nakDelay(deliveries uint64) time.Duration {
	d := sd.s.NakDelay
	for i := uint64(1); i < deliveries && d < sd.s.MaxNakDelay; i++ {
		d *= 2
	}
	return min(d, sd.s.MaxNakDelay)
}

func (sd *Sender) hold(items []item) {
	sd.heldMu.Lock()
	for _, it := range items {
		sd.held[it.msg] = struct{}{}
	}
	n := len(sd.held)
	sd.heldMu.Unlock()
	sd.m.held.Set(float64(n))
}

func (sd *Sender) release(m *bus.Msg) {
	sd.heldMu.Lock()
	delete(sd.held, m)
	n := len(sd.held)
	sd.heldMu.Unlock()
	sd.m.held.Set(float64(n))
}

// keepAlive extends the ack deadline of every held message, so a message waiting for a
// flush or a slow Dataway is never redelivered to another instance meanwhile.
func (sd *Sender) keepAlive() {
	t := time.NewTicker(max(sd.s.AckWait/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-sd.stop:
			return
		case <-t.C:
			sd.heldMu.Lock()
			msgs := make([]*bus.Msg, 0, len(sd.held))
			for m := range sd.held {
				msgs = append(msgs, m)
			}
			sd.heldMu.Unlock()
			for _, m := range msgs {
				_ = m.InProgress()
			}
		}
	}
}

type metrics struct {
	messages     *prometheus.CounterVec
	flushes      *prometheus.CounterVec
	flushLatency *prometheus.HistogramVec
	held         prometheus.Gauge
	skipped      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		messages: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_sender_messages_total", Help: "Bus messages answered by the sender: ack (delivered or dropped for good), nak (retry later), term (undecodable).",
		}, []string{"stream", "result"})),
		flushes: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_sender_flushes_total", Help: "Batches flushed to Dataway.",
		}, []string{"category"})),
		flushLatency: telemetry.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tracekit_sender_flush_duration_seconds", Help: "Time to convert, encode and post one batch, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"category"})),
		held: telemetry.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tracekit_sender_held_messages", Help: "Bus messages received and not yet answered.",
		})),
		skipped: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_sender_redelivered_points_skipped_total", Help: "Points of a redelivered message not sent again because Dataway had accepted them before the message was naked.",
		}, []string{"category"})),
	}
}

// heldCount is the number of unanswered messages (tests).
func (sd *Sender) heldCount() int {
	sd.heldMu.Lock()
	defer sd.heldMu.Unlock()
	return len(sd.held)
}
