package bus

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/proto"

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

// PointsEncoding is the body of a tracekit.points.<category> message: Dataway's PBPoints.
const PointsEncoding = "application/protobuf; proto=com.guance.Point"

// PublishPoints publishes Dataway points of one category (gateway writes, CAT heartbeats) on
// tracekit.points.<category>, split so each message fits the max payload. The sender posts
// them to /v1/write/<category>. input names the writer (query `input`, or the receiver).
func (b *Bus) PublishPoints(ctx context.Context, category, input string, pts *pointpb.PBPoints) error {
	limit := b.MaxPayload() - 1024
	var part pointpb.PBPoints
	size := 0
	flush := func() error {
		if len(part.Arr) == 0 {
			return nil
		}
		data, err := proto.Marshal(&part)
		if err != nil {
			return pipeline.Permanent(fmt.Errorf("marshal points: %w", err))
		}
		hdr := nats.Header{}
		hdr.Set(HeaderCategory, category)
		hdr.Set(HeaderInput, input)
		hdr.Set(HeaderEncoding, PointsEncoding)
		hdr.Set(HeaderPoints, strconv.Itoa(len(part.Arr)))
		part.Arr, size = nil, 0
		return b.Publish(ctx, PointsSubject(category), hdr, data)
	}
	for _, p := range pts.GetArr() {
		sz := proto.Size(p) + 6
		if size > 0 && size+sz > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		part.Arr = append(part.Arr, p)
		size += sz
	}
	return flush()
}
