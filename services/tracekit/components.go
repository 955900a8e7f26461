package main

import (
	"context"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/gateway/httpgateway"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver"
	"github.com/tracekit/tracekit/services/receiver-jaeger/jaegerreceiver"
	"github.com/tracekit/tracekit/services/receiver-otlp/otlpreceiver"
	"github.com/tracekit/tracekit/services/receiver-pinpoint/pinpointreceiver"
	"github.com/tracekit/tracekit/services/receiver-skywalking/skywalkingreceiver"
	"github.com/tracekit/tracekit/services/receiver-zipkin/zipkinreceiver"
	"github.com/tracekit/tracekit/services/sender/datawaysender"
)

// receivers are every protocol receiver; each returns one component per input section
// and none when the config has no section for it.
var receivers = []service.ReceiverFactory{
	ddtracereceiver.Components,
	jaegerreceiver.Components,
	otlpreceiver.Components,
	skywalkingreceiver.Components,
	zipkinreceiver.Components,
	pinpointreceiver.Components,
}

// pointReceivers also publish points (CAT heartbeats become metric points).
func pointReceivers(_ context.Context, env *service.Env) ([]app.Component, error) {
	return catreceiver.ComponentsWithPoints(env.Config.Config, env.Bus.SpansConsumer(), env.Bus)
}

// senders are the components that deliver to Dataway.
func senders(ctx context.Context, env *service.Env) ([]app.Component, error) {
	return datawaysender.Build(ctx, env)
}

// gateways serve DataKit's write API (/v1/write/:category, /v1/ping); they start after the
// sender and the filter and stop before them, like the receivers.
var gateways = []service.Build{httpgateway.Build}
