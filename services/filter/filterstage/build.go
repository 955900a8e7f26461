package filterstage

import (
	"context"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/service"
)

// Build is the service.Build of the filter service (and the filter part of the all-in-one).
func Build(_ context.Context, env *service.Env) ([]app.Component, error) {
	st, err := New(Settings{
		Bus:    env.Bus,
		Config: env.Config.Config,
		Build:  PassThrough,
		Reload: func() (*config.Config, error) {
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
