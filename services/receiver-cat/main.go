// Command receiver-cat is the CAT collector as its own service: trees go to
// tracekit.spans.cat, heartbeat metrics to tracekit.points.metric.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "receiver-cat", Build: build}, os.Args[1:], os.Stderr))
}

// build is service.Receiver plus the bus as the heartbeat points sink.
func build(_ context.Context, env *service.Env) ([]app.Component, error) {
	comps, err := catreceiver.ComponentsWithPoints(env.Config.Config, env.Bus.SpansConsumer(), env.Bus)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return nil, errors.New("no [[inputs.cat]] section in the config: nothing to receive")
	}
	return comps, nil
}
