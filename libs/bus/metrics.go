package bus

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/telemetry"
)

type metrics struct {
	published     *prometheus.CounterVec
	publishErrors *prometheus.CounterVec
	delivered     *prometheus.CounterVec
	redelivered   *prometheus.CounterVec
	acks          *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_bus_published_messages_total", Help: "Messages stored by the bus (acknowledged by JetStream in durable mode).",
		}, []string{"kind"}),
		publishErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_bus_publish_errors_total", Help: "Publishes that failed, by reason (full = stream at its byte limit).",
		}, []string{"kind", "reason"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_bus_delivered_messages_total", Help: "Messages handed to this consumer.",
		}, []string{"stream"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_bus_redelivered_messages_total", Help: "Messages delivered more than once (after a nak, a crash or an ack timeout).",
		}, []string{"stream"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_bus_acks_total", Help: "Consumer answers by kind (ack, nak, term).",
		}, []string{"stream", "kind"}),
	}
	m.published = telemetry.Register(reg, m.published)
	m.publishErrors = telemetry.Register(reg, m.publishErrors)
	m.delivered = telemetry.Register(reg, m.delivered)
	m.redelivered = telemetry.Register(reg, m.redelivered)
	m.acks = telemetry.Register(reg, m.acks)
	return m
}
