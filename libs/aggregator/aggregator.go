package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/dataway"
	"github.com/tracekit/tracekit/libs/telemetry"
	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/proto"
)

// Dataway APIs of the aggregator (datakit-spec §4.2).
const (
	PathAggregate          = "/v1/aggregate"
	PathTailSampling       = "/v1/tail_sampling"
	PathTailSamplingConfig = "/v1/tail_sampling_config"
	PathPull               = "/v1/datakit/pull"
)

// Headers of the aggregator APIs.
const (
	HeaderPickKey     = "Guance-Pick-Key"
	HeaderRoutingKey  = "Guance-Routing-Key"
	HeaderPayloadSize = "X-Payload-Size"
	// HeaderPayloadCompression tells Dataway the packet's points_payload is zstd.
	HeaderPayloadCompression = "Guance-Tail-Sampling-Payload-Compression"
)

// Metric types (the type label).
const (
	TypeMetric       = "metric"
	TypeTailSampling = "tail_sampling"
	TypeConfig       = "config"
)

// Failure reasons (the reason label).
const (
	ReasonMarshal   = "marshal"
	ReasonTransport = "transport"
	ReasonServer    = "server"
	ReasonOther     = "other"
)

// Options configure an Aggregator.
type Options struct {
	Config  config.Aggregator
	Dataway config.Dataway
	// Client is the [dataway] client: its endpoints are used when [aggregator] endpoints
	// is empty, and it supplies the token when those carry none.
	Client     *dataway.Client
	HTTPClient *http.Client
	Registry   prometheus.Registerer
	Logger     *slog.Logger
	// ReloadInterval re-reads the configs (default 1 minute, as DataKit).
	ReloadInterval time.Duration
	// PushInterval throttles config pushes after a 412 (default 10 s).
	PushInterval time.Duration
	// Workers bounds concurrent sends (default min(2 × CPUs, 8)).
	Workers int
}

// configs is one consistent view of aggr.toml and tail-sampling.toml.
type configs struct {
	metric *MetricConfig
	tail   *TailSamplingConfig
	// tailJSON is the pushed form of tail.
	tailJSON []byte
}

// Aggregator selects, packs and forwards points to Dataway's aggregation and tail
// sampling APIs. Process is the sender's Router. It is an app.Component and app.Reloader.
type Aggregator struct {
	o       Options
	log     *slog.Logger
	client  *dataway.Client
	routed  bool // endpoints[pick % n]; otherwise every endpoint gets every request
	token   string
	maxBody int
	m       *metrics

	cfg      atomic.Pointer[configs]
	reloadMu sync.Mutex
	puller   *puller

	pushMu   sync.Mutex
	lastPush map[int]time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

// New builds an Aggregator; it reads no config until Start or Reload.
func New(o Options) (*Aggregator, error) {
	if o.Client == nil {
		return nil, errors.New("aggregator: the dataway client is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReloadInterval <= 0 {
		o.ReloadInterval = time.Minute
	}
	if o.PushInterval <= 0 {
		o.PushInterval = 10 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = min(2*runtime.NumCPU(), 8)
	}
	o.Workers = min(o.Workers, 8)
	a := &Aggregator{o: o, log: o.Logger.With("component", "aggregator"), m: newMetrics(o.Registry), lastPush: map[int]time.Time{}}
	a.maxBody = o.Config.MaxRawBodySize
	if a.maxBody <= 0 {
		a.maxBody = o.Dataway.MaxRawBodySize
	}
	if a.maxBody <= 0 {
		a.maxBody = 1 << 20
	}
	a.client = o.Client
	if len(o.Config.Endpoints) > 0 {
		timeout := o.Config.Timeout.D()
		if timeout <= 0 {
			timeout = o.Dataway.Timeout.D()
		}
		c, err := dataway.NewClient(dataway.Options{
			URLs: o.Config.Endpoints, Timeout: timeout, MaxRetryCount: o.Dataway.MaxRetryCount,
			RetryDelay: o.Dataway.RetryDelay.D(), MaxRetryDelay: o.Dataway.MaxRetryDelay.D(),
			HTTPClient: o.HTTPClient, Registerer: o.Registry, Logger: a.log,
		})
		if err != nil {
			return nil, fmt.Errorf("aggregator endpoints: %w", err)
		}
		a.client, a.routed = c, true
	}
	// The first token found: aggregator endpoints first, then [dataway].
	for _, c := range []*dataway.Client{a.client, o.Client} {
		for _, ep := range c.Endpoints() {
			if a.token == "" {
				a.token = ep.Token
			}
		}
	}
	if !o.Config.UseLocalConfig {
		a.puller = newPuller(o.Client.Endpoints(), o.HTTPClient, o.Config.Timeout.D())
	}
	a.cfg.Store(&configs{})
	return a, nil
}

// Name implements app.Component.
func (*Aggregator) Name() string { return "aggregator" }

// Start reads the configs and re-reads them every ReloadInterval. A local config that
// does not validate fails the start; a remote one that cannot be pulled yet does not.
func (a *Aggregator) Start(ctx context.Context, host *app.Host) error {
	if host != nil && host.Logger != nil {
		a.log = host.Logger.With("component", "aggregator")
	}
	if err := a.Reload(ctx); err != nil {
		if a.puller == nil {
			return err
		}
		a.log.Warn("aggregator config not pulled yet; retrying every interval", "err", err)
	}
	a.stop = make(chan struct{})
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(a.o.ReloadInterval)
		defer t.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-t.C:
				rctx, cancel := context.WithTimeout(context.Background(), a.o.ReloadInterval)
				if err := a.Reload(rctx); err != nil {
					a.log.Error("aggregator config reload failed; keeping the previous one", "err", err)
				}
				cancel()
			}
		}
	}()
	return nil
}

// Shutdown stops the reload loop.
func (a *Aggregator) Shutdown(context.Context) error {
	if a.stop != nil {
		close(a.stop)
		a.wg.Wait()
		a.stop = nil
	}
	return nil
}

// Reload re-reads aggr.toml and tail-sampling.toml (or pulls them), and pushes the tail
// sampling config to every endpoint while tail sampling is on. On error the previous
// configs stay.
func (a *Aggregator) Reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	prev := a.cfg.Load()
	var next configs
	var err error
	if a.puller != nil {
		next, err = a.puller.pull(ctx, prev)
	} else {
		next, err = loadLocal(a.o.Config)
	}
	if err != nil {
		return err
	}
	if next.tail.Enabled() {
		if next.tailJSON, err = next.tail.JSON(); err != nil {
			return fmt.Errorf("tail sampling config: %w", err)
		}
	}
	a.cfg.Store(&next)
	if next.tail.Enabled() {
		for ep := range a.client.Endpoints() {
			a.pushConfig(ctx, ep, next.tailJSON, true)
		}
	}
	return nil
}

// Enabled reports whether any aggregation rule or tail-sampling section is loaded.
func (a *Aggregator) Enabled() bool {
	c := a.cfg.Load()
	return c.metric.Enabled() || c.tail.Enabled()
}

// Consumes reports whether Process, with the configs loaded now, reads or takes points of
// category: a metric rule selects it, or tail sampling has a section for it. Otherwise
// Process returns the points untouched and the sender may skip building them.
func (a *Aggregator) Consumes(category string) bool {
	c := a.cfg.Load()
	if c.metric.Enabled() {
		for _, r := range c.metric.AggregateRules {
			if r != nil && r.Selector != nil && r.Selector.Category == category {
				return true
			}
		}
	}
	if !c.tail.Enabled() {
		return false
	}
	switch category {
	case dataway.CategoryTracing:
		return c.tail.Trace != nil
	case "logging":
		return c.tail.Logging != nil
	case "rum":
		return c.tail.RUM != nil
	}
	return false
}

// Process is the sender's Router: metric rules fork points to /v1/aggregate (their
// failures are counted as lost aggregation input, the originals still go out); with a
// [trace] section every tracing point with a trace_id goes to /v1/tail_sampling and not
// to /v1/write/tracing; logging/RUM points carrying a group_dimensions key likewise. A
// tail-sampling packet that could not be delivered makes Process fail with a transient
// error, so the sender naks the messages and the points wait in JetStream.
func (a *Aggregator) Process(ctx context.Context, category string, pts []*pointpb.PBPoint) ([]*pointpb.PBPoint, error) {
	c := a.cfg.Load()
	if c.metric.Enabled() {
		a.sendMetrics(ctx, category, pickMetrics(c.metric, category, pts))
	}
	if !c.tail.Enabled() {
		return pts, nil
	}
	var (
		dataType string
		dims     []*GroupDimension
	)
	switch category {
	case dataway.CategoryTracing:
		if c.tail.Trace == nil {
			return pts, nil
		}
		dataType = DataTracing
	case "logging":
		if c.tail.Logging == nil {
			return pts, nil
		}
		dataType, dims = DataLogging, c.tail.Logging.GroupDimensions
	case "rum":
		if c.tail.RUM == nil {
			return pts, nil
		}
		dataType, dims = DataRUM, c.tail.RUM.GroupDimensions
	default:
		return pts, nil
	}
	var (
		packets []*packet
		rest    []*pointpb.PBPoint
	)
	// The packet's source is the input that produced the points: DataKit's input name
	// for a tracing point is its source, which is the point's measurement.
	for _, bySource := range splitBySource(pts) {
		var groups []*group
		var r []*pointpb.PBPoint
		if dataType == DataTracing {
			groups, r = groupTraces(bySource)
		} else {
			groups, r = groupByDimensions(bySource, dims)
		}
		rest = append(rest, r...)
		o := packOptions{Token: a.token, Source: bySource[0].GetName(), Version: c.tail.Version, MaxRawBodySize: a.maxBody}
		for _, g := range groups {
			ps, err := pack(g, dataType, o)
			if err != nil {
				a.m.failed.WithLabelValues(TypeTailSampling, category, ReasonMarshal).Inc()
				a.m.lost.WithLabelValues(TypeTailSampling, category, ReasonMarshal).Add(float64(len(g.points)))
				a.log.Error("tail sampling packet not built; its points are dropped", "group", g.id, "err", err)
				continue
			}
			packets = append(packets, ps...)
		}
	}
	if err := a.sendPackets(ctx, category, packets, c); err != nil {
		return nil, err
	}
	return rest, nil
}

// splitBySource partitions points by measurement, in first-seen order.
func splitBySource(pts []*pointpb.PBPoint) [][]*pointpb.PBPoint {
	if len(pts) == 0 {
		return nil
	}
	first := pts[0].GetName()
	same := true
	for _, p := range pts {
		if p.GetName() != first {
			same = false
			break
		}
	}
	if same {
		return [][]*pointpb.PBPoint{pts}
	}
	idx := map[string]int{}
	var out [][]*pointpb.PBPoint
	for _, p := range pts {
		i, ok := idx[p.GetName()]
		if !ok {
			i = len(out)
			idx[p.GetName()] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], p)
	}
	return out
}

// task is one request for the worker pool.
type task struct {
	ep     int
	req    *dataway.Request
	points int
	// tail marks a tail-sampling packet (412 handling, loss on failure).
	tail bool
}

// targets are the endpoints a request with this pick key goes to.
func (a *Aggregator) targets(pick uint64) []int {
	n := len(a.client.Endpoints())
	if a.routed {
		return []int{int(pick % uint64(n))}
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (a *Aggregator) sendMetrics(ctx context.Context, category string, bs []*aggregatev1.Batchs) {
	var tasks []task
	for _, b := range bs {
		for _, part := range splitBatchs(b, a.maxBody) {
			body, err := proto.Marshal(part)
			if err != nil {
				a.m.failed.WithLabelValues(TypeMetric, category, ReasonMarshal).Inc()
				a.m.lost.WithLabelValues(TypeMetric, category, ReasonMarshal).Add(float64(len(part.GetBatchs())))
				continue
			}
			key := strconv.FormatUint(part.GetPickKey(), 10)
			for _, ep := range a.targets(part.GetPickKey()) {
				h := http.Header{}
				h.Set("Content-Type", "application/x-protobuf")
				h.Set("Content-Encoding", "identity")
				h.Set(HeaderPickKey, key)
				h.Set(HeaderRoutingKey, key)
				h.Set(HeaderPayloadSize, strconv.Itoa(len(body)))
				tasks = append(tasks, task{ep: ep, points: len(part.GetBatchs()),
					req: &dataway.Request{Path: PathAggregate, Header: h, Body: body, Category: category, Points: len(part.GetBatchs())}})
			}
		}
	}
	if err := a.run(ctx, TypeMetric, category, tasks, nil); err != nil {
		a.log.Warn("aggregation batches not delivered; counted as lost", "category", category, "err", err)
	}
}

func (a *Aggregator) sendPackets(ctx context.Context, category string, packets []*packet, c *configs) error {
	var tasks []task
	for _, p := range packets {
		body, err := proto.Marshal(p.pkt)
		if err != nil {
			a.m.failed.WithLabelValues(TypeTailSampling, category, ReasonMarshal).Inc()
			a.m.lost.WithLabelValues(TypeTailSampling, category, ReasonMarshal).Add(float64(len(p.points)))
			continue
		}
		for _, ep := range a.targets(p.pick) {
			h := http.Header{}
			h.Set("Content-Type", "application/x-protobuf")
			h.Set("Content-Encoding", "identity")
			h.Set(HeaderPickKey, strconv.FormatUint(p.pick, 10))
			h.Set(HeaderPayloadSize, strconv.Itoa(len(body)))
			if p.pkt.GetPayloadCompression() == 1 {
				h.Set(HeaderPayloadCompression, "zstd")
			}
			tasks = append(tasks, task{ep: ep, points: len(p.points), tail: true,
				req: &dataway.Request{Path: PathTailSampling, Header: h, Body: body, Category: category, Points: len(p.points)}})
		}
	}
	return a.run(ctx, TypeTailSampling, category, tasks, c)
}

// run posts tasks with at most Workers at once. It returns the first transient failure
// (the data may succeed later); refusals for good are counted as lost and not returned.
func (a *Aggregator) run(ctx context.Context, typ, category string, tasks []task, c *configs) error {
	if len(tasks) == 0 {
		return nil
	}
	workers := min(a.o.Workers, len(tasks))
	ch := make(chan task)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range ch {
				if err := a.send(ctx, typ, category, t, c); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
		}()
	}
	for _, t := range tasks {
		ch <- t
	}
	close(ch)
	wg.Wait()
	return firstErr
}

// send posts one request. A tail-sampling 412 means Dataway lacks the config: push it
// (throttled) and send the packet once more.
func (a *Aggregator) send(ctx context.Context, typ, category string, t task, c *configs) error {
	start := time.Now()
	resp := a.client.Do(ctx, t.ep, t.req)
	if t.tail && resp.Status == http.StatusPreconditionFailed && c != nil && c.tailJSON != nil {
		a.log.Info("dataway has no tail sampling config; pushing it and resending", "endpoint", t.ep)
		a.pushConfig(ctx, t.ep, c.tailJSON, false)
		resp = a.client.Do(ctx, t.ep, t.req)
	}
	a.m.latency.WithLabelValues(typ, category).Observe(time.Since(start).Seconds())
	ok := resp.OK()
	if t.tail {
		// Only 200 counts for tail sampling.
		ok = ok && resp.Status == http.StatusOK
	}
	if ok {
		a.m.success.WithLabelValues(typ, category).Inc()
		a.m.points.WithLabelValues(typ, category).Add(float64(t.points))
		return nil
	}
	reason := ReasonServer
	if resp.Status == 0 {
		reason = ReasonTransport
	}
	a.m.failed.WithLabelValues(typ, category, reason).Inc()
	err := resp.Err
	if err == nil {
		err = fmt.Errorf("post %s: dataway answered %d", t.req.Path, resp.Status)
	}
	if t.tail {
		transient := resp.Status == 0 || dataway.Retryable(resp.Status) || resp.Status == http.StatusPreconditionFailed || ctx.Err() != nil
		if transient {
			// Not lost: the caller naks and the points come back from the stream.
			return err
		}
		a.m.lost.WithLabelValues(typ, category, reason).Add(float64(t.points))
		a.log.Warn("dataway refused a tail sampling packet; dropping it", "status", resp.Status, "body", string(resp.Body))
		return nil
	}
	a.m.lost.WithLabelValues(typ, category, reason).Add(float64(t.points))
	return err
}

// pushConfig posts the tail-sampling config to one endpoint. Pushes answering a 412 are
// throttled to one per PushInterval per endpoint; the push of each reload (forced) is not.
func (a *Aggregator) pushConfig(ctx context.Context, ep int, body []byte, force bool) {
	if !force {
		a.pushMu.Lock()
		if last, ok := a.lastPush[ep]; ok && time.Since(last) < a.o.PushInterval {
			a.pushMu.Unlock()
			return
		}
		a.lastPush[ep] = time.Now()
		a.pushMu.Unlock()
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Encoding", "identity")
	h.Set(HeaderPickKey, "1")
	start := time.Now()
	resp := a.client.Do(ctx, ep, &dataway.Request{Path: PathTailSamplingConfig, Header: h, Body: body, Category: TypeConfig})
	a.m.latency.WithLabelValues(TypeConfig, TypeTailSampling).Observe(time.Since(start).Seconds())
	if resp.OK() {
		a.m.success.WithLabelValues(TypeConfig, TypeTailSampling).Inc()
		return
	}
	reason := ReasonServer
	if resp.Status == 0 {
		reason = ReasonTransport
	}
	a.m.failed.WithLabelValues(TypeConfig, TypeTailSampling, reason).Inc()
	a.log.Warn("tail sampling config push failed", "endpoint", ep, "status", resp.Status, "err", resp.Err)
}

type metrics struct {
	success *prometheus.CounterVec
	failed  *prometheus.CounterVec
	points  *prometheus.CounterVec
	lost    *prometheus.CounterVec
	latency *prometheus.SummaryVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		success: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "datakit_io_aggr_send_success_total", Help: "Aggregator requests Dataway accepted, by type (metric, tail_sampling, config).",
		}, []string{"type", "category"})),
		failed: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "datakit_io_aggr_send_failed_total", Help: "Aggregator requests that failed, by reason (marshal, transport, server, other).",
		}, []string{"type", "category", "reason"})),
		points: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "datakit_io_aggr_send_points_total", Help: "Points (tail sampling) or batches (metric) Dataway accepted.",
		}, []string{"type", "category"})),
		lost: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "datakit_io_aggr_lost_points_total", Help: "Points or batches dropped for good: refused by Dataway, unmarshalable, or metric batches whose send failed.",
		}, []string{"type", "category", "reason"})),
		latency: telemetry.Register(reg, prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name: "datakit_io_aggr_send_latency_seconds", Help: "Latency of one aggregator request, retries included.",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		}, []string{"type", "category"})),
	}
}
