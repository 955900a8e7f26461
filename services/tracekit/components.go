package main

import (
	"context"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/service"
)

// receivers are every protocol receiver; each returns one component per input section
// and none when the config has no section for it.
var receivers = []service.ReceiverFactory{}

// senders are the components that deliver to Dataway.
func senders(_ context.Context, _ *service.Env) ([]app.Component, error) { return nil, nil }
