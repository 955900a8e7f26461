package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Bus is one connection to NATS (and, when embedded, the server itself).
type Bus struct {
	cfg     config.Bus
	nc      *nats.Conn
	js      jetstream.JetStream // nil in core mode
	srv     *server.Server      // nil when connected to an external server
	log     *slog.Logger
	metrics *metrics
	name    string
}

// Options are the dependencies of Open.
type Options struct {
	Logger *slog.Logger
	// Registerer receives the bus metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Name identifies the connection in the server's monitoring (service name).
	Name string
}

// Open starts the embedded server when cfg.URL is empty, connects, and in JetStream mode
// makes sure the three streams exist with the configured limits.
func Open(ctx context.Context, cfg config.Bus, o Options) (*Bus, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "tracekit"
	}
	b := &Bus{cfg: cfg, log: o.Logger, metrics: newMetrics(o.Registerer), name: o.Name}
	url := cfg.URL
	natsOpts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { b.log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	}
	if url == "" {
		srv, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		url = srv.ClientURL()
		natsOpts = append(natsOpts, nats.InProcessServer(srv))
	}
	nc, err := nats.Connect(url, natsOpts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	b.nc = nc
	if cfg.Mode == config.BusModeJetStream {
		js, err := jetstream.New(nc)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("jetstream: %w", err)
		}
		b.js = js
		if err := b.ensureStreams(ctx); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func (b *Bus) ensureStreams(ctx context.Context) error {
	storage := jetstream.FileStorage
	for _, s := range streams {
		sc := jetstream.StreamConfig{
			Name:      s.name,
			Subjects:  []string{s.subjects},
			Retention: jetstream.WorkQueuePolicy,
			Storage:   storage,
			MaxBytes:  b.cfg.MaxBytes,
			MaxAge:    b.cfg.MaxAge.D(),
			// A full stream refuses new data (the client gets 429 and retries) instead of
			// discarding data that was already acknowledged to a client.
			Discard:    jetstream.DiscardNew,
			Replicas:   b.cfg.Replicas,
			Duplicates: 2 * time.Minute,
		}
		var err error
		for attempt := 0; attempt < 20; attempt++ {
			// A cluster that is still electing its meta leader answers with an error for
			// a few seconds after start; services started with it must wait, not fail.
			if _, err = b.js.CreateOrUpdateStream(ctx, sc); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("create stream %s: %w", s.name, ctx.Err())
			case <-time.After(250 * time.Millisecond):
			}
		}
		if err != nil {
			return fmt.Errorf("create stream %s: %w", s.name, err)
		}
	}
	return nil
}

// ListenURL is the client URL of the embedded server when it listens on a port (bus.listen),
// e.g. for split services or the nats CLI; "" otherwise.
func (b *Bus) ListenURL() string {
	if b.srv == nil || b.cfg.Listen == "" {
		return ""
	}
	return b.srv.ClientURL()
}

// Durable reports whether publishes are acknowledged by JetStream.
func (b *Bus) Durable() bool { return b.js != nil }

// MaxPayload is the largest message the server accepts.
func (b *Bus) MaxPayload() int { return int(b.nc.MaxPayload()) }

// Conn exposes the connection for features built on it (KV buckets, monitoring).
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream context, nil in core mode.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Ready reports whether the connection is usable, for /readyz.
func (b *Bus) Ready() error {
	if b.nc == nil || !b.nc.IsConnected() {
		return errors.New("nats not connected")
	}
	return nil
}

// Publish sends one message. In JetStream mode it returns only once the stream has stored
// it, so the caller may acknowledge its own client. A full stream is reported as
// pipeline.Exhausted.
func (b *Bus) Publish(ctx context.Context, subject string, hdr nats.Header, data []byte) error {
	msg := &nats.Msg{Subject: subject, Header: hdr, Data: data}
	if len(data) > b.MaxPayload() {
		b.metrics.publishErrors.WithLabelValues(kindOf(subject), "too_large").Inc()
		return pipeline.Permanent(fmt.Errorf("publish %s: message of %d bytes exceeds the bus max payload %d", subject, len(data), b.MaxPayload()))
	}
	if b.js == nil {
		if err := b.nc.PublishMsg(msg); err != nil {
			b.metrics.publishErrors.WithLabelValues(kindOf(subject), "core").Inc()
			return fmt.Errorf("publish %s: %w", subject, err)
		}
		b.metrics.published.WithLabelValues(kindOf(subject)).Inc()
		return nil
	}
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && isStoreFull(apiErr) {
			b.metrics.publishErrors.WithLabelValues(kindOf(subject), "full").Inc()
			return pipeline.Exhausted(fmt.Errorf("publish %s: stream full: %w", subject, err))
		}
		b.metrics.publishErrors.WithLabelValues(kindOf(subject), "error").Inc()
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	b.metrics.published.WithLabelValues(kindOf(subject)).Inc()
	return nil
}

// isStoreFull recognises the server's answers for a stream at its limits, which mean
// back-pressure rather than failure.
func isStoreFull(e *jetstream.APIError) bool {
	d := strings.ToLower(e.Description)
	return strings.Contains(d, "maximum bytes") || strings.Contains(d, "maximum messages") ||
		strings.Contains(d, "insufficient resources") || strings.Contains(d, "resource limits")
}

// PublishBatch publishes a trace batch on prefix+source, split so that each message fits
// the server's max payload. msgID, when non-empty, makes redelivered republishes dedup
// inside JetStream's duplicate window (the filter passes the source message's sequence).
func (b *Bus) PublishBatch(ctx context.Context, prefix string, batch *spanv1.TraceBatch, msgID string) error {
	subject := prefix + batch.Source
	// Leave room for headers inside the max payload.
	parts := spanmodel.Split(batch, b.MaxPayload()-1024)
	for i, part := range parts {
		data, err := spanmodel.Marshal(part)
		if err != nil {
			return pipeline.Permanent(err)
		}
		hdr := nats.Header{}
		hdr.Set(HeaderInput, part.Input)
		hdr.Set(HeaderSource, part.Source)
		hdr.Set(HeaderEncoding, spanmodel.Encoding)
		hdr.Set(HeaderPoints, strconv.Itoa(spanmodel.SpanCount(part)))
		if msgID != "" {
			hdr.Set(nats.MsgIdHdr, msgID+"/"+strconv.Itoa(i))
		}
		if err := b.Publish(ctx, subject, hdr, data); err != nil {
			return err
		}
	}
	return nil
}

// Close drains the connection (delivering what was buffered) and stops the embedded server.
func (b *Bus) Close() {
	if b.nc != nil {
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
		}
		// Drain is asynchronous; wait for it to finish before stopping the server under it.
		deadline := time.Now().Add(5 * time.Second)
		for !b.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		b.nc.Close()
	}
	b.shutdownServer()
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
		b.srv = nil
	}
}

func kindOf(subject string) string {
	switch {
	case strings.HasPrefix(subject, SpansPrefix):
		return "spans"
	case strings.HasPrefix(subject, KeptPrefix):
		return "kept"
	case strings.HasPrefix(subject, PointsPrefix):
		return "points"
	}
	return "other"
}
