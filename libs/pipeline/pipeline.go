// Package pipeline is the seam between stages: a receiver hands a TraceBatch to a Consumer
// and learns from the returned error whether the client should retry.
//
// Ownership rule: once ConsumeTraces returns, the batch belongs to the consumer; the caller
// must not read or modify it again.
package pipeline

import (
	"context"
	"errors"

	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Consumer accepts trace batches.
type Consumer interface {
	ConsumeTraces(ctx context.Context, batch *spanv1.TraceBatch) error
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc func(ctx context.Context, batch *spanv1.TraceBatch) error

// ConsumeTraces calls f.
func (f ConsumerFunc) ConsumeTraces(ctx context.Context, batch *spanv1.TraceBatch) error {
	return f(ctx, batch)
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that will fail again on the same input (bad payload): HTTP 400,
// gRPC InvalidArgument, NATS Term.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type exhaustedError struct{ err error }

func (e exhaustedError) Error() string { return e.err.Error() }
func (e exhaustedError) Unwrap() error { return e.err }

// Exhausted marks err as overload: the same input may succeed later, and the client should
// back off (HTTP 429, gRPC ResourceExhausted).
func Exhausted(err error) error {
	if err == nil {
		return nil
	}
	return exhaustedError{err: err}
}

// IsExhausted reports whether err, or any error it wraps, was marked Exhausted.
func IsExhausted(err error) bool {
	var e exhaustedError
	return errors.As(err, &e)
}
