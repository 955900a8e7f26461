package filterstage

import (
	"context"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/filter"
	"github.com/tracekit/tracekit/libs/service"
)

// Build is the service.Build of the filter service (and the filter part of the all-in-one).
func Build(_ context.Context, env *service.Env) ([]app.Component, error) {
	st, err := New(Settings{
		Bus:    env.Bus,
		Config: env.Config.Config,
		Build:  Chains(filter.NewBuilder(filter.Options{Registerer: env.Registry, Logger: env.Logger, JetStream: env.Bus.JetStream()})),
		Reload: func() (*config.Config, error) {
			if env.ConfigPath == "" {
				// No file to re-read (built-in or embedded defaults): loading "" would swap
				// the embedded inputs for bare defaults.
				return env.Config.Config, nil
			}
			l, err := config.Load(env.ConfigPath, env.Environ)
			if err != nil {
				return nil, err
			}
			return l.Config, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return []app.Component{st}, nil
}

// Chains adapts a filter.Builder to the stage; the one Builder serves the first build and
// every reload, so the keep-rare seen-sets survive reloads.
func Chains(b *filter.Builder) ChainBuilder {
	return func(cfg *config.Config) (Chain, error) {
		c, err := b.Build(cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
