// Package catreceiver is the CAT collector ([[inputs.cat]], datakit-spec §1.6): a TCP
// listener for length-framed NT1 message trees on tcp_port, and the client routing answer
// on GET /cat/s/router. Trees become spans; heartbeats become "cat" metric points.
package catreceiver

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/telemetry"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver/internal/nt1"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver/internal/translator"
)

// MaxFrame is DataKit's limit on one framed message tree.
const MaxFrame = 200 << 10

// MetricCategory is the Dataway category heartbeat points are published for.
const MetricCategory = "metric"

// PointsPublisher takes heartbeat metric points; *bus.Bus implements it (PublishPoints on
// tracekit.points.<category>).
type PointsPublisher interface {
	PublishPoints(ctx context.Context, category, input string, pts *pointpb.PBPoints) error
}

// Components builds the CAT collectors without a points sink: heartbeats are counted and
// dropped. It fits service.ReceiverFactory; binaries that have a bus should call
// ComponentsWithPoints.
func Components(cfg *config.Config, next pipeline.Consumer) ([]app.Component, error) {
	return ComponentsWithPoints(cfg, next, nil)
}

// ComponentsWithPoints builds one collector per [[inputs.cat]] section; heartbeats go to
// points (nil: dropped and counted).
func ComponentsWithPoints(cfg *config.Config, next pipeline.Consumer, points PointsPublisher) ([]app.Component, error) {
	var comps []app.Component
	for i := range cfg.Inputs.CAT {
		in := &cfg.Inputs.CAT[i]
		kvs, err := json.Marshal(map[string]map[string]string{"kvs": {
			"startTransactionTypes": in.StartTransactionTypes,
			"block":                 in.Block,
			"routers":               in.Routers,
			"sample":                in.Sample,
			"matchTransactionTypes": in.MatchTransactionTypes,
		}})
		if err != nil {
			return nil, fmt.Errorf("inputs.cat[%d]: router kvs: %w", i, err)
		}
		comps = append(comps, &Receiver{
			name:        config.InputName(config.SourceCAT, i),
			cfg:         in,
			next:        next,
			points:      points,
			pool:        receiver.NewPool(in.Threads),
			mountRouter: i == 0, // one route per listener: the first section answers
			routerKVs:   kvs,
			conns:       map[net.Conn]struct{}{},
		})
	}
	return comps, nil
}

// Receiver is one CAT collector.
type Receiver struct {
	name        string
	cfg         *config.CAT
	next        pipeline.Consumer
	points      PointsPublisher
	pool        *receiver.Pool
	mountRouter bool
	routerKVs   []byte

	log     *slog.Logger
	obs     *receiver.Obs
	metrics *metrics
	ln      net.Listener
	wg      sync.WaitGroup
	ctx     context.Context // ends when Shutdown gives up waiting
	cancel  context.CancelFunc

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

type metrics struct {
	frames     *prometheus.CounterVec
	heartbeats *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_cat_frames_total",
			Help: "CAT message-tree frames, by result (accepted, ignored, too_large and invalid close the connection, refused: the bus did not take it).",
		}, []string{"input", "result"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_cat_heartbeat_points_total", Help: "Metric points from CAT heartbeats, by result (published, dropped, invalid).",
		}, []string{"input", "result"}),
	}
	if reg != nil {
		m.frames = telemetry.Register(reg, m.frames)
		m.heartbeats = telemetry.Register(reg, m.heartbeats)
	}
	return m
}

// Name implements app.Component.
func (r *Receiver) Name() string { return "receiver-cat/" + r.name }

// Addr is the bound TCP address (after Start).
func (r *Receiver) Addr() net.Addr { return r.ln.Addr() }

// Start mounts the router route and opens the TCP listener.
func (r *Receiver) Start(_ context.Context, host *app.Host) error {
	r.log = host.Logger.With("component", r.Name())
	r.obs = receiver.NewObs(host.Registry)
	r.metrics = newMetrics(host.Registry)
	addr := net.JoinHostPort(r.cfg.TCPHost, r.cfg.TCPPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cat: listen on %s: %w", addr, err)
	}
	if r.mountRouter && host.Mux != nil {
		if err := receiver.Mount(host.Mux, "GET /cat/s/router", r.router); err != nil {
			_ = ln.Close()
			return fmt.Errorf("cat: %w", err)
		}
	}
	r.ln = ln
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.accept()
	r.log.Info("cat collector listening", "address", ln.Addr().String())
	return nil
}

func (r *Receiver) router(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(r.routerKVs)
}

// Shutdown stops accepting, wakes every connection so it finishes the frame in hand, and
// waits for them (cancelling their bus calls when ctx ends first).
func (r *Receiver) Shutdown(ctx context.Context) error {
	if r.ln == nil {
		return nil
	}
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	r.mu.Unlock()
	_ = r.ln.Close()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.cancel()
		<-done
	}
	r.cancel()
	return nil
}

func (r *Receiver) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.log.Error("cat accept", "err", err)
			}
			return
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			_ = c.Close()
			return
		}
		r.conns[c] = struct{}{}
		r.wg.Add(1)
		r.mu.Unlock()
		go r.serve(c)
	}
}

// serve reads frames until the client closes, a frame is bad (the connection is closed:
// there is no way to answer a CAT client), or the receiver shuts down.
func (r *Receiver) serve(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		_ = c.Close()
	}()
	var hdr [4]byte
	buf := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
				r.log.Debug("cat connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > MaxFrame {
			r.metrics.frames.WithLabelValues(r.name, "too_large").Inc()
			r.obs.Record(config.SourceCAT, "tcp", 0, 0, pipeline.Permanent(fmt.Errorf("frame of %d bytes passes %d: %w", n, MaxFrame, receiver.ErrTooLarge)))
			r.log.Warn("cat frame too large: closing the connection", "remote", c.RemoteAddr().String(), "bytes", n, "max", MaxFrame)
			return
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		body := buf[:n]
		if _, err := io.ReadFull(c, body); err != nil {
			r.metrics.frames.WithLabelValues(r.name, "invalid").Inc()
			r.log.Warn("cat frame truncated: closing the connection", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
		if err := r.handle(body); err != nil {
			r.log.Warn("cat frame refused: closing the connection", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// handle decodes one tree and hands its span and heartbeats on. The body is only valid
// during the call (the connection reuses its buffer); decoded strings are copies.
func (r *Receiver) handle(body []byte) error {
	received := time.Now()
	tree, err := nt1.Decode(body)
	if err != nil {
		r.metrics.frames.WithLabelValues(r.name, "invalid").Inc()
		err = pipeline.Permanent(fmt.Errorf("cat frame: %w", err))
		r.obs.Record(config.SourceCAT, "tcp", len(body), 0, err)
		return err
	}
	opts := translator.Options{Tags: r.cfg.Tags, NowUnixNano: received.UnixNano(), Location: time.Local}
	if len(tree.Heartbeats) > 0 {
		r.publishHeartbeats(tree, opts)
	}
	span, err := translator.Span(tree, opts)
	if err != nil {
		r.metrics.frames.WithLabelValues(r.name, "invalid").Inc()
		err = pipeline.Permanent(fmt.Errorf("cat frame: %w", err))
		r.obs.Record(config.SourceCAT, "tcp", len(body), 0, err)
		return err
	}
	if span == nil {
		r.metrics.frames.WithLabelValues(r.name, "ignored").Inc()
		return nil
	}
	err = r.pool.Do(r.ctx, func(ctx context.Context) error {
		return r.next.ConsumeTraces(ctx, &spanv1.TraceBatch{
			Source:           config.SourceCAT,
			Input:            r.name,
			ReceivedUnixNano: received.UnixNano(),
			Traces:           spanmodel.GroupByTrace([]*spanv1.DatakitSpan{span}),
		})
	})
	r.obs.Record(config.SourceCAT, "tcp", len(body), 1, err)
	if err != nil {
		// CAT has no answer frame: closing tells the client to reconnect (and back off).
		r.metrics.frames.WithLabelValues(r.name, "refused").Inc()
		return err
	}
	r.metrics.frames.WithLabelValues(r.name, "accepted").Inc()
	return nil
}

func (r *Receiver) publishHeartbeats(tree *nt1.Tree, opts translator.Options) {
	pts, bad := translator.Heartbeats(tree, opts)
	if bad > 0 {
		r.metrics.heartbeats.WithLabelValues(r.name, "invalid").Add(float64(bad))
	}
	if len(pts) == 0 {
		return
	}
	if r.points == nil {
		r.metrics.heartbeats.WithLabelValues(r.name, "dropped").Add(float64(len(pts)))
		return
	}
	if err := r.points.PublishPoints(r.ctx, MetricCategory, r.name, &pointpb.PBPoints{Arr: pts}); err != nil {
		r.metrics.heartbeats.WithLabelValues(r.name, "dropped").Add(float64(len(pts)))
		r.log.Warn("cat heartbeat points not published", "err", err)
		return
	}
	r.metrics.heartbeats.WithLabelValues(r.name, "published").Add(float64(len(pts)))
}
