package receiver

import (
	"context"
	"errors"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
)

// ErrBusy is returned when the pool's queue is full.
var ErrBusy = errors.New("worker-pool busy")

// Pool is DataKit's [threads] worker pool with one difference: the caller waits for its job
// (so a client is answered only after its spans are safely on the bus), and a full queue is
// refused at once with a 429-class error instead of DataKit's 400/500.
type Pool struct {
	admit chan struct{} // threads + buffer: requests admitted (running or waiting)
	run   chan struct{} // threads: requests running
}

// NewPool sizes the pool from [inputs.X.threads]; nil means the defaults (8 threads, 100 queued).
func NewPool(t *config.Threads) *Pool {
	threads, buffer := 8, 100
	if t != nil {
		if t.Threads > 0 {
			threads = t.Threads
		}
		if t.Buffer > 0 {
			buffer = t.Buffer
		}
	}
	return &Pool{admit: make(chan struct{}, threads+buffer), run: make(chan struct{}, threads)}
}

// Do runs fn when a worker is free. It fails fast with ErrBusy (Exhausted) when threads +
// buffer requests are already in the pool.
func (p *Pool) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	select {
	case p.admit <- struct{}{}:
	default:
		return pipeline.Exhausted(ErrBusy)
	}
	defer func() { <-p.admit }()
	select {
	case p.run <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.run }()
	return fn(ctx)
}

// Admitted is the number of requests in the pool, running or waiting for a thread: a gauge
// for metrics, and what tests wait on before they expect a refusal.
func (p *Pool) Admitted() int { return len(p.admit) }
