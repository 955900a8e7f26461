package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerSpec describes one shared consumer: every instance of a service kind uses the
// same Durable name, so N instances split the stream's work between them.
type ConsumerSpec struct {
	Stream  string // JetStream stream (ignored in core mode)
	Subject string // filter subject, e.g. tracekit.spans.>
	Durable string // durable consumer name, also the core-mode queue group
	// Batch is the most messages handed to the handler at once.
	Batch int
	// MaxWait is how long a fetch waits to fill a batch before handing over what it has.
	MaxWait time.Duration
	// AckWait is how long a message may stay unacknowledged before it is redelivered.
	AckWait time.Duration
	// MaxAckPending bounds the unacknowledged messages across all instances.
	MaxAckPending int
}

func (s *ConsumerSpec) defaults() {
	if s.Batch <= 0 {
		s.Batch = 64
	}
	if s.MaxWait <= 0 {
		s.MaxWait = 200 * time.Millisecond
	}
	if s.AckWait <= 0 {
		s.AckWait = time.Minute
	}
	if s.MaxAckPending <= 0 {
		s.MaxAckPending = 10_000
	}
}

// Msg is one delivered message. In core mode the answers are no-ops: delivery is at most once.
type Msg struct {
	Subject string
	Header  nats.Header
	Data    []byte
	// StreamSeq is the message's sequence in its stream (0 in core mode): a stable id
	// across redeliveries.
	StreamSeq uint64
	// NumDelivered counts deliveries of this message, 1 the first time.
	NumDelivered uint64

	js      jetstream.Msg
	stream  string
	metrics *metrics
}

// Ack marks the message done; it will not be delivered again.
func (m *Msg) Ack() error {
	if m.js == nil {
		return nil
	}
	m.metrics.acks.WithLabelValues(m.stream, "ack").Inc()
	return m.js.Ack()
}

// Nak asks for redelivery after delay (to this or another instance).
func (m *Msg) Nak(delay time.Duration) error {
	if m.js == nil {
		return nil
	}
	m.metrics.acks.WithLabelValues(m.stream, "nak").Inc()
	return m.js.NakWithDelay(delay)
}

// Term drops a message that can never be processed (undecodable), without redelivery.
func (m *Msg) Term() error {
	if m.js == nil {
		return nil
	}
	m.metrics.acks.WithLabelValues(m.stream, "term").Inc()
	return m.js.Term()
}

// InProgress extends the ack deadline while work on the message continues.
func (m *Msg) InProgress() error {
	if m.js == nil {
		return nil
	}
	return m.js.InProgress()
}

// Handler processes a batch of messages and answers each (Ack, Nak or Term). Unanswered
// messages are redelivered after AckWait.
type Handler func(ctx context.Context, msgs []*Msg)

// Consume fetches batches for spec and calls h until ctx is done. The handler runs on the
// calling goroutine, so a slow handler slows fetching: back-pressure reaches the stream.
func (b *Bus) Consume(ctx context.Context, spec ConsumerSpec, h Handler) error {
	spec.defaults()
	if b.js == nil {
		return b.consumeCore(ctx, spec, h)
	}
	cons, err := b.consumer(ctx, spec)
	if err != nil {
		return err
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		batch, err := cons.Fetch(spec.Batch, jetstream.FetchMaxWait(spec.MaxWait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			b.log.Warn("fetch failed", "stream", spec.Stream, "err", err)
			if !sleep(ctx, 250*time.Millisecond) {
				return nil
			}
			// The consumer may have been lost with a server restart; recreate it.
			if c, cerr := b.consumer(ctx, spec); cerr == nil {
				cons = c
			}
			continue
		}
		var msgs []*Msg
		for m := range batch.Messages() {
			msgs = append(msgs, b.wrap(spec.Stream, m))
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			b.log.Debug("fetch ended early", "stream", spec.Stream, "err", err)
		}
		if len(msgs) > 0 {
			h(ctx, msgs)
		}
	}
}

func (b *Bus) consumer(ctx context.Context, spec ConsumerSpec) (jetstream.Consumer, error) {
	cc := jetstream.ConsumerConfig{
		Durable:       spec.Durable,
		FilterSubject: spec.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       spec.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: spec.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, spec.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", spec.Durable, spec.Stream, err)
	}
	return cons, nil
}

func (b *Bus) wrap(stream string, m jetstream.Msg) *Msg {
	out := &Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), js: m, stream: stream, metrics: b.metrics}
	if md, err := m.Metadata(); err == nil {
		out.StreamSeq = md.Sequence.Stream
		out.NumDelivered = md.NumDelivered
	}
	b.metrics.delivered.WithLabelValues(stream).Inc()
	if out.NumDelivered > 1 {
		b.metrics.redelivered.WithLabelValues(stream).Inc()
	}
	return out
}

// consumeCore is the at-most-once variant: a queue subscription buffered into batches.
func (b *Bus) consumeCore(ctx context.Context, spec ConsumerSpec, h Handler) error {
	ch := make(chan *nats.Msg, spec.Batch*16)
	sub, err := b.nc.ChanQueueSubscribe(spec.Subject, spec.Durable, ch)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", spec.Subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	label := "core:" + spec.Subject
	for {
		var msgs []*Msg
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			msgs = append(msgs, b.wrapCore(label, m))
		}
		timer := time.NewTimer(spec.MaxWait)
	fill:
		for len(msgs) < spec.Batch {
			select {
			case m := <-ch:
				msgs = append(msgs, b.wrapCore(label, m))
			case <-timer.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		timer.Stop()
		h(ctx, msgs)
	}
}

func (b *Bus) wrapCore(label string, m *nats.Msg) *Msg {
	b.metrics.delivered.WithLabelValues(label).Inc()
	return &Msg{Subject: m.Subject, Header: m.Header, Data: m.Data, NumDelivered: 1, metrics: b.metrics}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
