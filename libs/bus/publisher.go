package bus

import (
	"context"

	"github.com/tracekit/tracekit/libs/pipeline"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// SpansConsumer is the receivers' next stage: it publishes each batch on
// tracekit.spans.<source> and returns once the bus stored it.
func (b *Bus) SpansConsumer() pipeline.Consumer {
	return pipeline.ConsumerFunc(func(ctx context.Context, batch *spanv1.TraceBatch) error {
		return b.PublishBatch(ctx, SpansPrefix, batch, "")
	})
}
