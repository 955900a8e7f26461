package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"

	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

func TestErrorClasses(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name                 string
		err                  error
		permanent, exhausted bool
	}{
		{"nil", nil, false, false},
		{"plain", base, false, false},
		{"permanent", Permanent(base), true, false},
		{"wrapped permanent", fmt.Errorf("decode: %w", Permanent(base)), true, false},
		{"exhausted", Exhausted(base), false, true},
		{"wrapped exhausted", fmt.Errorf("queue: %w", Exhausted(base)), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			if got := IsExhausted(tt.err); got != tt.exhausted {
				t.Errorf("IsExhausted = %v, want %v", got, tt.exhausted)
			}
			if tt.err != nil && !errors.Is(tt.err, base) {
				t.Errorf("classification must keep the cause reachable")
			}
		})
	}
	if Permanent(nil) != nil || Exhausted(nil) != nil {
		t.Fatal("classifying nil must stay nil")
	}
}

func TestConsumerFunc(t *testing.T) {
	var got *spanv1.TraceBatch
	c := ConsumerFunc(func(_ context.Context, b *spanv1.TraceBatch) error { got = b; return nil })
	b := &spanv1.TraceBatch{Source: "opentelemetry"}
	if err := c.ConsumeTraces(context.Background(), b); err != nil || got != b {
		t.Fatalf("ConsumerFunc did not forward the batch: %v", err)
	}
}
