package dataway

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/tracekit/tracekit/libs/dataway/lineproto"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Encoding is the body format of /v1/write/<category> (datakit-spec §3.3).
type Encoding int

const (
	// EncodingV2 is protobuf PBPoints, DataKit's default.
	EncodingV2 Encoding = iota
	// EncodingV1 is line protocol.
	EncodingV1
)

// Content types Dataway keys the decoder on.
const (
	ContentTypeV2 = "application/protobuf; proto=com.guance.Point"
	ContentTypeV1 = "application/line-protocol"
)

// ParseEncoding maps [dataway] content_encoding to an Encoding.
func ParseEncoding(s string) (Encoding, error) {
	switch s {
	case "", "v2", "protobuf":
		return EncodingV2, nil
	case "v1", "line-protocol":
		return EncodingV1, nil
	}
	return 0, fmt.Errorf("content_encoding %q is not v1 or v2", s)
}

// ContentType of bodies in this encoding.
func (e Encoding) ContentType() string {
	if e == EncodingV1 {
		return ContentTypeV1
	}
	return ContentTypeV2
}

func (e Encoding) String() string {
	if e == EncodingV1 {
		return "v1"
	}
	return "v2"
}

// Drop reasons for points that are never sent.
const (
	ReasonTooLarge = "too_large" // one point alone exceeds max_raw_body_size
	ReasonNoFields = "no_fields" // nothing line protocol can carry
	ReasonMarshal  = "marshal"
)

// Encoder builds Dataway bodies. The zero value is not usable: set MaxRawBodySize.
type Encoder struct {
	Encoding Encoding
	// MaxRawBodySize bounds every body before compression, as DataKit's encoder does.
	MaxRawBodySize int
	Gzip           bool
}

// Body is one request body and what it carries.
type Body struct {
	// Index holds, for each point, its position in the slice given to Encode or
	// EncodeSpans.
	Index []int
	// Data is what goes on the wire (gzipped when ContentEncoding is "gzip").
	Data            []byte
	RawSize         int
	ContentType     string
	ContentEncoding string

	// offsets are where each point starts in the raw body. PBPoints and line protocol are
	// both plain concatenations, so the raw bytes cut at a point boundary are two valid
	// bodies: a 413 is re-split without the points.
	offsets []int
}

// Len is the number of points in the body.
func (b *Body) Len() int { return len(b.Index) }

// Drop is a point Encode left out, with the reason and its encoded size.
type Drop struct {
	Index  int
	Reason string
	Size   int
}

// Encode packs pts, in order, into bodies whose raw size is at most MaxRawBodySize, with as
// many whole points as fit. A point that cannot be sent is returned in the drops, never in a
// body.
func (e *Encoder) Encode(pts []*pointpb.PBPoint) ([]*Body, []Drop, error) {
	return e.encode(len(pts), func(i int, buf []byte) ([]byte, *pointpb.PBPoint, error) {
		if e.Encoding == EncodingV1 {
			line, err := lineproto.AppendPoint(buf, pts[i])
			return line, nil, err
		}
		// The hand encoder's bytes are kept for the body; proto.Marshal is the fallback.
		if b, ok := appendPoint(buf, pts[i]); ok {
			return b, nil, nil
		}
		return buf, pts[i], nil
	})
}

// EncodeSpans gives the bodies and drops Encode(SpanToPoint of every span) gives, with
// Index and drops referring to positions in spans, without building the points.
func (e *Encoder) EncodeSpans(spans []*spanv1.DatakitSpan, o PointOptions) ([]*Body, []Drop, error) {
	sc := scratchPool.Get().(*Scratch)
	defer putScratch(sc)
	sc.setOptions(o)
	return e.encode(len(spans), func(i int, buf []byte) ([]byte, *pointpb.PBPoint, error) {
		if e.Encoding == EncodingV1 {
			line, err := sc.appendSpanLine(buf, spans[i])
			return line, nil, err
		}
		if b, ok := sc.appendSpanPoint(buf, spans[i]); ok {
			return b, nil, nil
		}
		// Invalid UTF-8: the point path does what it always did (a marshal drop).
		return buf, SpanToPoint(spans[i], o), nil
	})
}

// encode is the packing loop of Encode and EncodeSpans. point(i, buf) appends point i's
// line (v1) or PBPoint bytes (v2) to buf[:0]; for a v2 point it does not write by hand it
// returns the message instead, which goes through proto.Marshal. A v1 error drops the
// point as having no fields.
func (e *Encoder) encode(n int, point func(i int, buf []byte) ([]byte, *pointpb.PBPoint, error)) ([]*Body, []Drop, error) {
	if e.MaxRawBodySize <= 0 {
		return nil, nil, errors.New("encode: max raw body size must be > 0")
	}
	var (
		bodies []*Body
		drops  []Drop
		raw    = getBuf()
		pb     []byte // one point's bytes, reused
		// The bodies' Index and offsets are consecutive parts of two arrays: two
		// allocations instead of a dozen growing ones per body.
		index   = make([]int, 0, n)
		offsets = make([]int, 0, n)
		cur     = &Body{Index: index, offsets: offsets}
	)
	defer putBuf(raw)
	flush := func() error {
		k := len(cur.Index)
		if k == 0 {
			return nil
		}
		// Capped, so that appending to one body's slices cannot write into the next's.
		cur.Index, cur.offsets = cur.Index[:k:k], cur.offsets[:k:k]
		if err := e.finish(cur, raw.Bytes()); err != nil {
			return err
		}
		bodies = append(bodies, cur)
		index, offsets = index[k:k], offsets[k:k]
		cur = &Body{Index: index, offsets: offsets}
		raw.Reset()
		return nil
	}
	for i := range n {
		b, msg, err := point(i, pb[:0])
		pb = b
		if err != nil {
			drops = append(drops, Drop{Index: i, Reason: ReasonNoFields})
			continue
		}
		size, ps := len(b), len(b)
		if e.Encoding != EncodingV1 {
			if msg != nil {
				ps = proto.Size(msg)
			}
			size = protowire.SizeTag(1) + protowire.SizeBytes(ps)
		}
		if size > e.MaxRawBodySize {
			drops = append(drops, Drop{Index: i, Reason: ReasonTooLarge, Size: size})
			continue
		}
		if raw.Len()+size > e.MaxRawBodySize {
			if err := flush(); err != nil {
				return nil, nil, err
			}
		}
		off := raw.Len()
		switch {
		case e.Encoding == EncodingV1:
			raw.Write(b)
		case msg == nil:
			var hdr [16]byte
			h := protowire.AppendTag(hdr[:0], 1, protowire.BytesType)
			raw.Write(protowire.AppendVarint(h, uint64(ps)))
			raw.Write(b)
		default:
			w := raw.AvailableBuffer()
			w = protowire.AppendTag(w, 1, protowire.BytesType)
			w = protowire.AppendVarint(w, uint64(ps))
			w, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(w, msg)
			if err != nil {
				drops = append(drops, Drop{Index: i, Reason: ReasonMarshal, Size: size})
				continue
			}
			raw.Write(w)
		}
		cur.offsets = append(cur.offsets, off)
		cur.Index = append(cur.Index, i)
	}
	if err := flush(); err != nil {
		return nil, nil, err
	}
	return bodies, drops, nil
}

// finish fills the wire fields of b from its raw bytes.
func (e *Encoder) finish(b *Body, raw []byte) error {
	b.RawSize = len(raw)
	b.ContentType = e.Encoding.ContentType()
	if !e.Gzip {
		b.Data = bytes.Clone(raw)
		return nil
	}
	data, err := gzipBytes(raw)
	if err != nil {
		return fmt.Errorf("gzip body: %w", err)
	}
	b.Data = data
	b.ContentEncoding = "gzip"
	return nil
}

// Resplit cuts b at its middle point into two bodies of about half the points each, for a
// Dataway that answered 413: the same bodies as encoding each half again. ok is false
// when b holds a single point.
func (e *Encoder) Resplit(b *Body) (first, second *Body, ok bool, err error) {
	n := len(b.Index)
	if n < 2 {
		return nil, nil, false, nil
	}
	if len(b.offsets) != n {
		return nil, nil, false, errors.New("resplit: body has no point offsets")
	}
	// A gzipped body does not keep its raw bytes (half its memory for a rare answer):
	// they come back from the body itself.
	raw := b.Data
	if b.ContentEncoding == "gzip" {
		if raw, err = gunzip(b.Data, b.RawSize); err != nil {
			return nil, nil, false, fmt.Errorf("resplit: %w", err)
		}
	}
	if len(raw) != b.RawSize {
		return nil, nil, false, fmt.Errorf("resplit: raw body is %d bytes, want %d", len(raw), b.RawSize)
	}
	half := n / 2
	cut := b.offsets[half]
	sub := *e
	sub.Encoding = EncodingV2
	if b.ContentType == ContentTypeV1 {
		sub.Encoding = EncodingV1
	}
	sub.Gzip = b.ContentEncoding == "gzip"
	parts := [2]*Body{
		{Index: slices.Clone(b.Index[:half]), offsets: slices.Clone(b.offsets[:half])},
		{Index: slices.Clone(b.Index[half:]), offsets: make([]int, 0, n-half)},
	}
	for _, off := range b.offsets[half:] {
		parts[1].offsets = append(parts[1].offsets, off-cut)
	}
	for k, r := range [2][]byte{raw[:cut], raw[cut:]} {
		if err := sub.finish(parts[k], r); err != nil {
			return nil, nil, false, err
		}
	}
	return parts[0], parts[1], true, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	// Very large buffers would pin memory between flushes.
	if b.Cap() <= 8<<20 {
		b.Reset()
		bufPool.Put(b)
	}
}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipBytes compresses into a pooled buffer and returns an exact-size copy: span bodies
// compress to a few percent, so a buffer sized by guess was mostly wasted memory that
// brought the next garbage collection closer.
func gzipBytes(raw []byte) ([]byte, error) {
	out := getBuf()
	defer putBuf(out)
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	zw.Reset(out)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return bytes.Clone(out.Bytes()), nil
}

func gunzip(data []byte, size int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gunzip body: %w", err)
	}
	out := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := out.ReadFrom(zr); err != nil {
		return nil, fmt.Errorf("gunzip body: %w", err)
	}
	return out.Bytes(), nil
}

var scratchPool = sync.Pool{New: func() any { return new(Scratch) }}

func putScratch(sc *Scratch) {
	sc.release()
	scratchPool.Put(sc)
}
