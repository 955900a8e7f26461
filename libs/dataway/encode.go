package dataway

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/tracekit/tracekit/libs/dataway/lineproto"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
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
	// Points are the points in the body, kept so a 413 can re-split them.
	Points []*pointpb.PBPoint
	// Index holds, for each point, its position in the slice given to Encode.
	Index []int
	// Data is what goes on the wire (gzipped when ContentEncoding is "gzip").
	Data            []byte
	RawSize         int
	ContentType     string
	ContentEncoding string
}

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
	if e.MaxRawBodySize <= 0 {
		return nil, nil, errors.New("encode: max raw body size must be > 0")
	}
	var (
		bodies []*Body
		drops  []Drop
		raw    = getBuf()
		cur    = &Body{}
		line   []byte
		pb     []byte // one point's protobuf, reused
	)
	defer putBuf(raw)
	flush := func() error {
		if len(cur.Points) == 0 {
			return nil
		}
		if err := e.finish(cur, raw.Bytes()); err != nil {
			return err
		}
		bodies = append(bodies, cur)
		cur = &Body{}
		raw.Reset()
		return nil
	}
	for i, p := range pts {
		var (
			size, ps    int
			handEncoded bool
		)
		if e.Encoding == EncodingV1 {
			var err error
			line, err = lineproto.AppendPoint(line[:0], p)
			if err != nil {
				drops = append(drops, Drop{Index: i, Reason: ReasonNoFields})
				continue
			}
			size = len(line)
		} else {
			// The hand encoder's bytes are kept for the body; proto.Marshal is the fallback.
			if pb, handEncoded = appendPoint(pb[:0], p); handEncoded {
				ps = len(pb)
			} else {
				ps = proto.Size(p)
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
		switch {
		case e.Encoding == EncodingV1:
			raw.Write(line)
		case handEncoded:
			var hdr [16]byte
			h := protowire.AppendTag(hdr[:0], 1, protowire.BytesType)
			raw.Write(protowire.AppendVarint(h, uint64(ps)))
			raw.Write(pb)
		default:
			b := raw.AvailableBuffer()
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(ps))
			b, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, p)
			if err != nil {
				drops = append(drops, Drop{Index: i, Reason: ReasonMarshal, Size: size})
				continue
			}
			raw.Write(b)
		}
		cur.Points = append(cur.Points, p)
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

// Resplit re-encodes the points of b as two bodies of about half the points each, for a
// Dataway that answered 413. ok is false when b holds a single point.
func (e *Encoder) Resplit(b *Body) (first, second *Body, ok bool, err error) {
	n := len(b.Points)
	if n < 2 {
		return nil, nil, false, nil
	}
	half := n / 2
	parts := [2]*Body{}
	for k, r := range [2][2]int{{0, half}, {half, n}} {
		sub := *e
		// The halves of a body that fitted fit too; do not let a smaller limit drop points.
		sub.MaxRawBodySize = max(e.MaxRawBodySize, b.RawSize)
		bodies, drops, err := sub.Encode(b.Points[r[0]:r[1]])
		if err != nil {
			return nil, nil, false, err
		}
		if len(bodies) != 1 || len(drops) != 0 {
			return nil, nil, false, fmt.Errorf("resplit: unexpected %d bodies, %d drops", len(bodies), len(drops))
		}
		out := bodies[0]
		out.Index = append([]int(nil), b.Index[r[0]:r[1]]...)
		parts[k] = out
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

func gzipBytes(raw []byte) ([]byte, error) {
	out := bytes.NewBuffer(make([]byte, 0, len(raw)/4+64))
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	zw.Reset(out)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
