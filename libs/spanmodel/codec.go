package spanmodel

import (
	"fmt"

	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/proto"
)

// Encoding names the body of a bus message; it travels in the message header so a future
// encoding can be rolled out one service at a time.
const Encoding = "application/x-protobuf; type=tracekit.span.v1.TraceBatch"

// Marshal encodes a batch for the bus.
func Marshal(b *spanv1.TraceBatch) ([]byte, error) {
	out, err := proto.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("marshal trace batch: %w", err)
	}
	return out, nil
}

// Unmarshal decodes a bus message body.
func Unmarshal(data []byte) (*spanv1.TraceBatch, error) {
	b := &spanv1.TraceBatch{}
	if err := proto.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("unmarshal trace batch: %w", err)
	}
	return b, nil
}

// Size is the encoded size of a batch.
func Size(b *spanv1.TraceBatch) int { return proto.Size(b) }

// SpanCount counts the spans of a batch.
func SpanCount(b *spanv1.TraceBatch) int {
	n := 0
	for _, t := range b.GetTraces() {
		n += len(t.GetSpans())
	}
	return n
}

// Split cuts a batch into batches whose encoded size stays under max bytes, keeping every
// trace whole unless a single trace is itself larger, in which case its spans are spread.
// A single span larger than max is returned alone; the bus refuses it with a clear error.
func Split(b *spanv1.TraceBatch, max int) []*spanv1.TraceBatch {
	if Size(b) <= max {
		return []*spanv1.TraceBatch{b}
	}
	// Envelope overhead: source, input and time; each trace costs its size plus a tag and
	// a length prefix (at most 1+5 bytes).
	envelope := Size(&spanv1.TraceBatch{Source: b.Source, Input: b.Input, ReceivedUnixNano: b.ReceivedUnixNano})
	var out []*spanv1.TraceBatch
	cur := newLike(b)
	curSize := envelope
	flush := func() {
		if len(cur.Traces) > 0 {
			out = append(out, cur)
			cur = newLike(b)
			curSize = envelope
		}
	}
	add := func(t *spanv1.DatakitTrace) {
		sz := proto.Size(t) + 6
		if curSize+sz > max {
			flush()
		}
		cur.Traces = append(cur.Traces, t)
		curSize += sz
	}
	for _, t := range b.Traces {
		if proto.Size(t)+6+envelope <= max {
			add(t)
			continue
		}
		// An oversize trace: split it into span groups of the same trace.
		part := &spanv1.DatakitTrace{}
		partSize := 0
		for _, s := range t.Spans {
			sz := proto.Size(s) + 6
			if partSize > 0 && envelope+partSize+sz+6 > max {
				add(part)
				part = &spanv1.DatakitTrace{}
				partSize = 0
			}
			part.Spans = append(part.Spans, s)
			partSize += sz
		}
		if len(part.Spans) > 0 {
			add(part)
		}
	}
	flush()
	return out
}

func newLike(b *spanv1.TraceBatch) *spanv1.TraceBatch {
	return &spanv1.TraceBatch{Source: b.Source, Input: b.Input, ReceivedUnixNano: b.ReceivedUnixNano}
}
