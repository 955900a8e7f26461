// Command tracekit is the all-in-one: every service enabled in the config, in one process,
// over an embedded nats-server, with the same subjects and acks as the split services.
package main

import (
	"context"
	_ "embed"
	"os"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/filter/filterstage"
)

// defaultConfig is used without -config: every receiver on DataKit's ports, Dataway at
// dataway-sim's default address.
//
//go:embed tracekit.toml
var defaultConfig []byte

func main() {
	os.Exit(service.Main(service.Spec{Name: "tracekit", DefaultConfig: defaultConfig, Build: build}, os.Args[1:], os.Stderr))
}

// build lists the components in start order; shutdown runs in reverse, so receivers stop
// accepting first, then the filter finishes its batch, then the sender flushes.
func build(ctx context.Context, env *service.Env) ([]app.Component, error) {
	var comps []app.Component
	for _, b := range []service.Build{senders, filterstage.Build} {
		c, err := b(ctx, env)
		if err != nil {
			return nil, err
		}
		comps = append(comps, c...)
	}
	next := env.Bus.SpansConsumer()
	for _, f := range receivers {
		c, err := f(env.Config.Config, next)
		if err != nil {
			return nil, err
		}
		comps = append(comps, c...)
	}
	for _, b := range append([]service.Build{pointReceivers}, gateways...) {
		c, err := b(ctx, env)
		if err != nil {
			return nil, err
		}
		comps = append(comps, c...)
	}
	return comps, nil
}
