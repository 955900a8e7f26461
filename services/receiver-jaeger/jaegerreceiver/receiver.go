// Package jaegerreceiver serves Jaeger's collector HTTP endpoint (thrift binary Batch) on the
// shared listener and, when address / binary_address are set, the agent's UDP emitBatch
// ports (compact / binary protocol).
package jaegerreceiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/telemetry"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-jaeger/jaegerreceiver/internal/translator"
)

// maxBody caps a decoded HTTP body; DataKit has no cap, but an unbounded read lets one
// client exhaust memory.
const maxBody = 64 << 20

// Drop reasons of tracekit_receiver_udp_dropped_total.
const (
	dropOversize    = "oversize"    // datagram larger than udp_buffer
	dropTruncated   = "truncated"   // datagram ends mid-message
	dropUndecodable = "undecodable" // not an emitBatch call
	dropBusy        = "busy"        // worker pool full
	dropRefused     = "refused"     // the bus refused the batch
)

// Components returns one receiver per [[inputs.jaeger]] section.
func Components(cfg *config.Config, next pipeline.Consumer) ([]app.Component, error) {
	var out []app.Component
	for i := range cfg.Inputs.Jaeger {
		in := &cfg.Inputs.Jaeger[i]
		ignore, err := spanmodel.CompileTagMatcher(in.IgnoreTags)
		if err != nil {
			return nil, fmt.Errorf("inputs.jaeger[%d].%w", i, err)
		}
		r := &Receiver{
			input:         config.InputName(config.SourceJaeger, i),
			endpoint:      in.Endpoint,
			address:       in.Address,
			binaryAddress: in.BinaryAddress,
			udpBuffer:     in.UDPBuffer,
			next:          next,
			pool:          receiver.NewPool(in.Threads),
			opts:          translator.Options{Tags: in.Tags, IgnoreTags: ignore, DelMessage: in.DelMessage},
			now:           time.Now,
		}
		if r.endpoint == "" {
			r.endpoint = "/apis/traces"
		}
		if r.udpBuffer <= 0 {
			r.udpBuffer = 65000
		}
		out = append(out, r)
	}
	return out, nil
}

// Receiver is one [[inputs.jaeger]] section.
type Receiver struct {
	input                  string
	endpoint               string
	address, binaryAddress string
	udpBuffer              int
	next                   pipeline.Consumer
	pool                   *receiver.Pool
	opts                   translator.Options
	now                    func() time.Time

	log     *slog.Logger
	obs     *receiver.Obs
	dropped *prometheus.CounterVec

	conns   []*net.UDPConn
	readers sync.WaitGroup // one per UDP socket
	workers sync.WaitGroup // one per datagram being converted and published
	ctx     context.Context
	cancel  context.CancelFunc
}

// Name implements app.Component.
func (r *Receiver) Name() string { return "receiver/" + r.input }

// Start mounts the HTTP endpoint and opens the configured UDP sockets.
func (r *Receiver) Start(_ context.Context, host *app.Host) error {
	r.log = host.Logger.With("component", r.Name())
	r.obs = receiver.NewObs(host.Registry)
	r.dropped = telemetry.Register(host.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tracekit_receiver_udp_dropped_total",
		Help: "UDP datagrams dropped by receivers, by reason (oversize, truncated, undecodable, busy, refused).",
	}, []string{"source", "transport", "reason"}))
	if err := receiver.Mount(host.Mux, "POST "+r.endpoint, r.handleHTTP); err != nil {
		return fmt.Errorf("%s endpoint: %w", r.input, err)
	}
	// The sockets outlive Start's context: they stop in Shutdown.
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for _, l := range []struct {
		addr    string
		compact bool
		key     string
	}{{r.address, true, "address"}, {r.binaryAddress, false, "binary_address"}} {
		if l.addr == "" {
			continue
		}
		if err := r.listenUDP(l.addr, l.compact); err != nil {
			return fmt.Errorf("%s %s: %w", r.input, l.key, err)
		}
	}
	return nil
}

// Shutdown closes the UDP sockets and waits for the datagrams already read to be published.
func (r *Receiver) Shutdown(ctx context.Context) error {
	for _, c := range r.conns {
		_ = c.Close()
	}
	r.readers.Wait()
	done := make(chan struct{})
	go func() { r.workers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("%s: in-flight datagrams not published: %w", r.input, ctx.Err())
	}
	if r.cancel != nil {
		r.cancel()
	}
	<-done
	return err
}

func (r *Receiver) handleHTTP(w http.ResponseWriter, req *http.Request) {
	var size, spans int
	err := r.pool.Do(req.Context(), func(ctx context.Context) error {
		body, err := receiver.ReadBody(req, maxBody)
		if err != nil {
			return err
		}
		size = len(body)
		b, err := translator.DecodeBatch(body)
		if err != nil {
			return pipeline.Permanent(err)
		}
		spans = translator.SpanCount(b)
		return r.publish(ctx, b)
	})
	r.obs.Record(config.SourceJaeger, "http", size, spans, err)
	if err != nil {
		receiver.WriteHTTPError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *Receiver) publish(ctx context.Context, b *jaeger.Batch) error {
	traces := translator.ToTraces(b, r.opts)
	if len(traces) == 0 {
		return nil
	}
	return r.next.ConsumeTraces(ctx, &spanv1.TraceBatch{
		Source: config.SourceJaeger, Input: r.input, ReceivedUnixNano: r.now().UnixNano(), Traces: traces,
	})
}

func (r *Receiver) listenUDP(addr string, compact bool) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	r.conns = append(r.conns, conn)
	transport := "udp_binary"
	if compact {
		transport = "udp_compact"
	}
	r.log.Info("jaeger agent UDP listening", "addr", conn.LocalAddr().String(), "protocol", transport)
	r.readers.Add(1)
	go r.readLoop(conn, compact, transport)
	return nil
}

// readLoop reads one byte more than udp_buffer so that a datagram that did not fit is
// recognised (the kernel truncates it silently) and dropped rather than misdecoded.
func (r *Receiver) readLoop(conn *net.UDPConn, compact bool, transport string) {
	defer r.readers.Done()
	buf := make([]byte, r.udpBuffer+1)
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Warn("jaeger UDP read failed", "error", err)
			continue
		}
		if n > r.udpBuffer {
			r.drop(transport, dropOversize, n, nil)
			continue
		}
		data := make([]byte, n)
		copy(data, buf[:n])
		r.workers.Add(1)
		go func() {
			defer r.workers.Done()
			r.handleDatagram(data, compact, transport)
		}()
	}
}

func (r *Receiver) handleDatagram(data []byte, compact bool, transport string) {
	var spans int
	err := r.pool.Do(r.ctx, func(ctx context.Context) error {
		b, err := translator.DecodeAgent(data, compact)
		if err != nil {
			return pipeline.Permanent(err)
		}
		spans = translator.SpanCount(b)
		return r.publish(ctx, b)
	})
	r.obs.Record(config.SourceJaeger, transport, len(data), spans, err)
	switch {
	case err == nil:
	case errors.Is(err, translator.ErrTruncated):
		r.drop(transport, dropTruncated, len(data), err)
	case pipeline.IsPermanent(err):
		r.drop(transport, dropUndecodable, len(data), err)
	case errors.Is(err, receiver.ErrBusy):
		r.drop(transport, dropBusy, len(data), err)
	default:
		r.drop(transport, dropRefused, len(data), err)
	}
}

func (r *Receiver) drop(transport, reason string, size int, err error) {
	r.dropped.WithLabelValues(config.SourceJaeger, transport, reason).Inc()
	r.log.Debug("jaeger datagram dropped", "protocol", transport, "reason", reason, "bytes", size, "error", err)
}
