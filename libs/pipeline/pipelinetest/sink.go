// Package pipelinetest has the fake next stage receiver tests hand their batches to.
package pipelinetest

import (
	"context"
	"sync"

	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Sink records every batch it accepts. It can be told to fail (SetErr) or to hold callers
// until released (Block), to drive a receiver into its error and overload paths.
type Sink struct {
	mu      sync.Mutex
	batches []*spanv1.TraceBatch
	err     error
	gate    chan struct{}
	calls   int
}

// ConsumeTraces implements pipeline.Consumer.
func (s *Sink) ConsumeTraces(ctx context.Context, b *spanv1.TraceBatch) error {
	s.mu.Lock()
	s.calls++
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.batches = append(s.batches, b)
	return nil
}

// SetErr makes later calls fail with err (nil: succeed again).
func (s *Sink) SetErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// Block holds every later call until the returned release func is called.
func (s *Sink) Block() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
}

// Calls counts ConsumeTraces calls, accepted or not.
func (s *Sink) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Batches returns the accepted batches in arrival order.
func (s *Sink) Batches() []*spanv1.TraceBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*spanv1.TraceBatch(nil), s.batches...)
}

// Spans returns every accepted span in arrival order.
func (s *Sink) Spans() []*spanv1.DatakitSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*spanv1.DatakitSpan
	for _, b := range s.batches {
		for _, t := range b.GetTraces() {
			out = append(out, t.GetSpans()...)
		}
	}
	return out
}

// Reset forgets the accepted batches.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = nil
	s.calls = 0
}
