package receiver

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/telemetry"
)

// Obs counts what a receiver accepted and refused, per source and transport.
type Obs struct {
	requests *prometheus.CounterVec
	spans    *prometheus.CounterVec
	bytes    *prometheus.CounterVec
}

// NewObs registers the receiver metrics on reg (shared by all receivers of a process).
func NewObs(reg prometheus.Registerer) *Obs {
	o := &Obs{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_receiver_requests_total", Help: "Requests answered by receivers, by HTTP status or gRPC code.",
		}, []string{"source", "transport", "code"}),
		spans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_receiver_spans_total", Help: "Spans received, by result (accepted: on the bus; refused: the client was told to retry or that the payload is bad).",
		}, []string{"source", "transport", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_receiver_payload_bytes_total", Help: "Decoded request payload bytes.",
		}, []string{"source", "transport"}),
	}
	o.requests = telemetry.Register(reg, o.requests)
	o.spans = telemetry.Register(reg, o.spans)
	o.bytes = telemetry.Register(reg, o.bytes)
	return o
}

// Record accounts one request: its payload size, its spans and its outcome.
func (o *Obs) Record(source, transport string, payloadBytes, spans int, err error) {
	code := strconv.Itoa(HTTPStatus(err))
	if transport == "grpc" {
		code = grpcCode(err)
	}
	o.requests.WithLabelValues(source, transport, code).Inc()
	o.bytes.WithLabelValues(source, transport).Add(float64(payloadBytes))
	result := "accepted"
	if err != nil {
		result = "refused"
	}
	o.spans.WithLabelValues(source, transport, result).Add(float64(spans))
}

func grpcCode(err error) string {
	if err == nil {
		return "OK"
	}
	return statusCode(GRPCError(err))
}
