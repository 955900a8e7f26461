package ddwire

import (
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// The //msgp:limit values of wire.go, for the hand-written decoder below.
const (
	limitArrays = 500000
	limitMaps   = 100000
)

// strDecoder decodes /v0.3 and /v0.4 msgpack traces like the generated Traces.UnmarshalMsg
// (same fields, limits, nil handling and errors), except that every string is a substring
// of one copy of the body instead of an allocation of its own: a span carries some thirty
// strings (service, name, resource, type, meta keys and values, metrics keys), and their
// allocations were half the cost of a payload. A payload's spans live and die together,
// so sharing one buffer costs no memory beyond the body.
//
// The zero strDecoder copies every string instead: Meta.UnmarshalMsg, which the generated
// codec calls, reads through it. Meta and metrics entries, and the spans of a trace, are
// carved from shared arrays, for the same reason as the strings.
//
// It needs no validate pass first (see DecodeTraces): it sizes nothing from a header that
// the bytes left cannot back.
type strDecoder struct {
	body    string
	meta    Meta
	metrics Metrics
	// skipped tells that an unknown field was skipped.
	skipped bool
}

// spanChunk is how many spans the decoder allocates at once.
const spanChunk = 64

// sub is v, which msgp read from the body just before o, as a substring of d.body.
func (d *strDecoder) sub(v, o []byte) string {
	start := len(d.body) - len(o) - len(v)
	return d.body[start : start+len(v)]
}

// readString is msgp.ReadStringBytes.
func (d *strDecoder) readString(b []byte) (string, []byte, error) {
	if d.body == "" {
		return msgp.ReadStringBytes(b)
	}
	v, o, err := msgp.ReadStringZC(b)
	if err != nil {
		return "", o, err
	}
	return d.sub(v, o), o, nil
}

// readStr is readStr (Str.UnmarshalMsg).
func (d *strDecoder) readStr(b []byte) (Str, []byte, error) {
	if len(b) == 0 {
		return "", b, msgp.ErrShortBytes
	}
	if d.body == "" {
		v, o, err := readStr(b)
		return Str(v), o, err
	}
	switch t := msgp.NextType(b); t {
	case msgp.StrType:
		s, o, err := d.readString(b)
		return Str(s), o, err
	case msgp.BinType:
		v, o, err := msgp.ReadBytesZC(b)
		if err != nil {
			return "", o, err
		}
		return Str(d.sub(v, o)), o, nil
	case msgp.NilType:
		o, err := msgp.ReadNilBytes(b)
		return "", o, err
	default:
		return "", b, fmt.Errorf("want a string, got msgpack %s", t)
	}
}

// traces is Traces.UnmarshalMsg.
func (d *strDecoder) traces(bts []byte) (z Traces, o []byte, err error) {
	var n uint32
	n, bts, err = msgp.ReadArrayHeaderBytes(bts)
	if err != nil {
		return nil, bts, msgp.WrapError(err)
	}
	if n > limitArrays {
		return nil, bts, msgp.ErrLimitExceeded
	}
	if int64(n) > int64(len(bts)) { // every element takes a byte at least
		return nil, bts, msgp.ErrShortBytes
	}
	z = make(Traces, n)
	for i := range z {
		var m uint32
		m, bts, err = msgp.ReadArrayHeaderBytes(bts)
		if err != nil {
			return z, bts, msgp.WrapError(err, i)
		}
		if m > limitArrays {
			return z, bts, msgp.ErrLimitExceeded
		}
		if int64(m) > int64(len(bts)) {
			return z, bts, msgp.ErrShortBytes
		}
		z[i] = make(Trace, m)
		var spans []Span // the trace's spans, allocated a few at a time
		for j := range z[i] {
			if msgp.IsNil(bts) {
				if bts, err = msgp.ReadNilBytes(bts); err != nil {
					return z, bts, err
				}
				continue
			}
			if len(spans) == 0 {
				// Never more than the spans left, nor so many that an array of nils
				// followed by one span allocates a span for every nil.
				spans = make([]Span, min(len(z[i])-j, spanChunk))
			}
			z[i][j] = &spans[0]
			spans = spans[1:]
			if bts, err = d.span(z[i][j], bts); err != nil {
				return z, bts, msgp.WrapError(err, i, j)
			}
		}
	}
	return z, bts, nil
}

// span is Span.UnmarshalMsg.
func (d *strDecoder) span(z *Span, bts []byte) (o []byte, err error) {
	var n uint32
	n, bts, err = msgp.ReadMapHeaderBytes(bts)
	if err != nil {
		return bts, msgp.WrapError(err)
	}
	if n > limitMaps {
		return bts, msgp.ErrLimitExceeded
	}
	for ; n > 0; n-- {
		var field []byte
		field, bts, err = msgp.ReadMapKeyZC(bts)
		if err != nil {
			return bts, msgp.WrapError(err)
		}
		switch msgp.UnsafeString(field) {
		case "service":
			if z.Service, bts, err = d.readStr(bts); err != nil {
				return bts, msgp.WrapError(err, "Service")
			}
		case "name":
			if z.Name, bts, err = d.readStr(bts); err != nil {
				return bts, msgp.WrapError(err, "Name")
			}
		case "resource":
			if z.Resource, bts, err = d.readStr(bts); err != nil {
				return bts, msgp.WrapError(err, "Resource")
			}
		case "trace_id":
			if bts, err = z.TraceID.UnmarshalMsg(bts); err != nil {
				return bts, msgp.WrapError(err, "TraceID")
			}
		case "span_id":
			if bts, err = z.SpanID.UnmarshalMsg(bts); err != nil {
				return bts, msgp.WrapError(err, "SpanID")
			}
		case "parent_id":
			if bts, err = z.ParentID.UnmarshalMsg(bts); err != nil {
				return bts, msgp.WrapError(err, "ParentID")
			}
		case "start":
			if bts, err = z.Start.UnmarshalMsg(bts); err != nil {
				return bts, msgp.WrapError(err, "Start")
			}
		case "duration":
			if bts, err = z.Duration.UnmarshalMsg(bts); err != nil {
				return bts, msgp.WrapError(err, "Duration")
			}
		case "error":
			if bts, err = z.Error.UnmarshalMsg(bts); err != nil {
				return bts, msgp.WrapError(err, "Error")
			}
		case "meta":
			if z.Meta, bts, err = readKVs(d, &d.meta, bts, readStrValue, "Meta"); err != nil {
				return bts, err
			}
		case "metrics":
			if z.Metrics, bts, err = readKVs(d, &d.metrics, bts, readFloatValue, "Metrics"); err != nil {
				return bts, err
			}
		case "type":
			if z.Type, bts, err = d.readStr(bts); err != nil {
				return bts, msgp.WrapError(err, "Type")
			}
		default:
			d.skipped = true
			if bts, err = msgp.Skip(bts); err != nil {
				return bts, msgp.WrapError(err)
			}
		}
	}
	return bts, nil
}
