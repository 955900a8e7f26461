package translator

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"google.golang.org/protobuf/encoding/protowire"
)

// unmarshalListOfSpans is proto.Unmarshal of a zipkin_proto3.ListOfSpans written out with
// protowire: protobuf-go decodes map<string,string> through reflection (two interface
// allocations per tag), which was most of a payload's decode cost. Every string and bytes
// field is a slice of one private copy of data: a payload's spans live and die together.
// Semantics are protobuf-go's: the last scalar wins, a repeated singular message merges,
// a field of an unexpected wire type is an unknown field and skipped, strings must be
// valid UTF-8 (proto3).
func unmarshalListOfSpans(data []byte) ([]*zipkin_proto3.Span, error) {
	d := protoDecoder{str: string(data), raw: bytes.Clone(data)}
	// The spans and their local endpoints come from blocks of the size the payload says:
	// two allocations, not two a span.
	n := d.countField(1, 0, len(d.raw))
	spans := make([]*zipkin_proto3.Span, 0, n)
	block := make([]zipkin_proto3.Span, n)
	d.endpoints = make([]zipkin_proto3.Endpoint, n)
	err := d.eachSpan(func() *zipkin_proto3.Span {
		if len(spans) < len(block) {
			return &block[len(spans)]
		}
		return &zipkin_proto3.Span{}
	}, func(s *zipkin_proto3.Span) { spans = append(spans, s) })
	if err != nil {
		return nil, err
	}
	return spans, nil
}

// eachSpan decodes the ListOfSpans in d.raw: each span into the one next gives, then use
// is called with it.
func (d *protoDecoder) eachSpan(next func() *zipkin_proto3.Span, use func(*zipkin_proto3.Span)) error {
	for i, end := 0, len(d.raw); i < end; {
		num, typ, j, err := d.tag(i, end)
		if err != nil {
			return err
		}
		i = j
		if num == 1 && typ == protowire.BytesType {
			vs, ve, err := d.value(i, end)
			if err != nil {
				return err
			}
			s := next()
			if err := d.span(s, vs, ve); err != nil {
				return err
			}
			use(s)
			i = ve
			continue
		}
		if i, err = d.skip(num, typ, i, end); err != nil {
			return err
		}
	}
	return nil
}

var (
	errProtoDecode = errors.New("proto: cannot parse invalid wire-format data")
	errProtoUTF8   = errors.New("proto: string field contains invalid UTF-8")
)

type protoDecoder struct {
	str       string // the payload as a string, for string fields
	raw       []byte // the payload copied, for bytes fields
	endpoints []zipkin_proto3.Endpoint
	// direct (V2ProtoToTraces: each span is converted before the next is read): the tags
	// go to pairs (in wire order) instead of Span.Tags, and the endpoints and annotations
	// are reused from span to span.
	direct bool
	pairs  []tagPair
	spare  [2]zipkin_proto3.Endpoint // a span has two endpoint fields
	nspare int
	annots []zipkin_proto3.Annotation
}

// newEndpoint is a new Endpoint, from the block while it lasts.
func (d *protoDecoder) newEndpoint() *zipkin_proto3.Endpoint {
	if d.direct && d.nspare < len(d.spare) {
		e := &d.spare[d.nspare]
		d.nspare++
		*e = zipkin_proto3.Endpoint{}
		return e
	}
	if len(d.endpoints) == 0 {
		return &zipkin_proto3.Endpoint{}
	}
	e := &d.endpoints[0]
	d.endpoints = d.endpoints[1:]
	return e
}

// tag reads the field tag at i; j is where its value starts.
func (d *protoDecoder) tag(i, end int) (num protowire.Number, typ protowire.Type, j int, err error) {
	if i < end && d.raw[i] < 0x80 && d.raw[i] >= 8 {
		// A one-byte tag (field numbers below 16): what ConsumeTag gives, without the call.
		b := d.raw[i]
		return protowire.Number(b >> 3), protowire.Type(b & 7), i + 1, nil
	}
	num, typ, n := protowire.ConsumeTag(d.raw[i:end])
	if n < 0 || num > protowire.MaxValidNumber {
		return 0, 0, 0, errProtoDecode
	}
	return num, typ, i + n, nil
}

// value reads the length-delimited value at i: its contents are raw[vs:ve].
func (d *protoDecoder) value(i, end int) (vs, ve int, err error) {
	if i < end && d.raw[i] < 0x80 {
		// A length below 128 is one byte.
		if n := int(d.raw[i]); n <= end-i-1 {
			return i + 1, i + 1 + n, nil
		}
		return 0, 0, errProtoDecode
	}
	v, n := protowire.ConsumeBytes(d.raw[i:end])
	if n < 0 {
		return 0, 0, errProtoDecode
	}
	return i + n - len(v), i + n, nil
}

func (d *protoDecoder) skip(num protowire.Number, typ protowire.Type, i, end int) (int, error) {
	n := protowire.ConsumeFieldValue(num, typ, d.raw[i:end])
	if n < 0 {
		return 0, errProtoDecode
	}
	return i + n, nil
}

func (d *protoDecoder) string(vs, ve int) (string, error) {
	s := d.str[vs:ve]
	if !isASCII(s) && !utf8.ValidString(s) {
		return "", errProtoUTF8
	}
	return s, nil
}

func (d *protoDecoder) bytes(vs, ve int) []byte {
	if vs == ve {
		return nil // as protobuf-go leaves an empty bytes field
	}
	return d.raw[vs:ve:ve]
}

func (d *protoDecoder) varint(i, end int) (uint64, int, error) {
	v, n := protowire.ConsumeVarint(d.raw[i:end])
	if n < 0 {
		return 0, 0, errProtoDecode
	}
	return v, i + n, nil
}

func (d *protoDecoder) fixed64(i, end int) (uint64, int, error) {
	v, n := protowire.ConsumeFixed64(d.raw[i:end])
	if n < 0 {
		return 0, 0, errProtoDecode
	}
	return v, i + n, nil
}

func (d *protoDecoder) span(s *zipkin_proto3.Span, i, end int) error {
	for i < end {
		num, typ, j, err := d.tag(i, end)
		if err != nil {
			return err
		}
		i = j
		switch {
		case typ == protowire.BytesType && (num == 1 || num == 2 || num == 3 || num == 5 || (num >= 8 && num <= 11)):
			vs, ve, err := d.value(i, end)
			if err != nil {
				return err
			}
			i = ve
			switch num {
			case 1:
				s.TraceId = d.bytes(vs, ve)
			case 2:
				s.ParentId = d.bytes(vs, ve)
			case 3:
				s.Id = d.bytes(vs, ve)
			case 5:
				s.Name, err = d.string(vs, ve)
			case 8:
				if s.LocalEndpoint == nil {
					s.LocalEndpoint = d.newEndpoint()
				}
				err = d.endpoint(s.LocalEndpoint, vs, ve)
			case 9:
				if s.RemoteEndpoint == nil {
					s.RemoteEndpoint = d.newEndpoint()
				}
				err = d.endpoint(s.RemoteEndpoint, vs, ve)
			case 10:
				a := d.newAnnotation()
				err = d.annotation(a, vs, ve)
				s.Annotations = append(s.Annotations, a)
			case 11:
				if d.direct {
					err = d.tagEntry(s, vs, ve)
					break
				}
				if s.Tags == nil {
					s.Tags = make(map[string]string, 1+d.countField(11, ve, end))
				}
				err = d.tagEntry(s, vs, ve)
			}
			if err != nil {
				return err
			}
		case typ == protowire.VarintType && (num == 4 || num == 7 || num == 12 || num == 13):
			v, j, err := d.varint(i, end)
			if err != nil {
				return err
			}
			i = j
			switch num {
			case 4:
				s.Kind = zipkin_proto3.Span_Kind(int32(v))
			case 7:
				s.Duration = v
			case 12:
				s.Debug = v != 0
			case 13:
				s.Shared = v != 0
			}
		case typ == protowire.Fixed64Type && num == 6:
			if s.Timestamp, i, err = d.fixed64(i, end); err != nil {
				return err
			}
		default:
			if i, err = d.skip(num, typ, i, end); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *protoDecoder) endpoint(e *zipkin_proto3.Endpoint, i, end int) error {
	for i < end {
		num, typ, j, err := d.tag(i, end)
		if err != nil {
			return err
		}
		i = j
		switch {
		case typ == protowire.BytesType && num >= 1 && num <= 3:
			vs, ve, err := d.value(i, end)
			if err != nil {
				return err
			}
			i = ve
			switch num {
			case 1:
				if e.ServiceName, err = d.string(vs, ve); err != nil {
					return err
				}
			case 2:
				e.Ipv4 = d.bytes(vs, ve)
			case 3:
				e.Ipv6 = d.bytes(vs, ve)
			}
		case typ == protowire.VarintType && num == 4:
			v, j, err := d.varint(i, end)
			if err != nil {
				return err
			}
			i = j
			e.Port = int32(v)
		default:
			if i, err = d.skip(num, typ, i, end); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *protoDecoder) annotation(a *zipkin_proto3.Annotation, i, end int) error {
	for i < end {
		num, typ, j, err := d.tag(i, end)
		if err != nil {
			return err
		}
		i = j
		switch {
		case typ == protowire.Fixed64Type && num == 1:
			if a.Timestamp, i, err = d.fixed64(i, end); err != nil {
				return err
			}
		case typ == protowire.BytesType && num == 2:
			vs, ve, err := d.value(i, end)
			if err != nil {
				return err
			}
			i = ve
			if a.Value, err = d.string(vs, ve); err != nil {
				return err
			}
		default:
			if i, err = d.skip(num, typ, i, end); err != nil {
				return err
			}
		}
	}
	return nil
}

// countField counts the length-delimited fields num in raw[i:end], to size a slice or map
// once (errors are left to the decoding proper).
func (d *protoDecoder) countField(field protowire.Number, i, end int) int {
	n := 0
	for i < end {
		num, typ, j, err := d.tag(i, end)
		if err != nil {
			break
		}
		if num == field && typ == protowire.BytesType {
			n++
		}
		if i, err = d.skip(num, typ, j, end); err != nil {
			break
		}
	}
	return n
}

// tagEntry reads one map<string,string> entry; a missing key or value is "".
func (d *protoDecoder) tagEntry(s *zipkin_proto3.Span, i, end int) error {
	var key, val string
	for i < end {
		num, typ, j, err := d.tag(i, end)
		if err != nil {
			return err
		}
		i = j
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			vs, ve, err := d.value(i, end)
			if err != nil {
				return err
			}
			i = ve
			v, err := d.string(vs, ve)
			if err != nil {
				return err
			}
			if num == 1 {
				key = v
			} else {
				val = v
			}
			continue
		}
		if i, err = d.skip(num, typ, i, end); err != nil {
			return err
		}
	}
	if d.direct {
		d.pairs = append(d.pairs, tagPair{key, val})
		return nil
	}
	s.Tags[key] = val
	return nil
}

// newAnnotation is a new Annotation; in direct mode from a block reused span to span.
func (d *protoDecoder) newAnnotation() *zipkin_proto3.Annotation {
	if !d.direct {
		return &zipkin_proto3.Annotation{}
	}
	if len(d.annots) == cap(d.annots) {
		// The pointers already handed out keep the old block.
		d.annots = make([]zipkin_proto3.Annotation, 0, max(4, 2*cap(d.annots)))
	}
	d.annots = d.annots[:len(d.annots)+1]
	a := &d.annots[len(d.annots)-1]
	*a = zipkin_proto3.Annotation{}
	return a
}

// resetDirect makes s (reused in direct mode) a new span, keeping its annotation slice.
func (d *protoDecoder) resetDirect(s *zipkin_proto3.Span) {
	annotations := s.Annotations[:0]
	*s = zipkin_proto3.Span{Annotations: annotations}
	d.pairs, d.nspare, d.annots = d.pairs[:0], 0, d.annots[:0]
}

// isASCII is the quick yes of utf8.ValidString for the short strings of a span.
func isASCII(s string) bool {
	var or byte
	for i := 0; i < len(s); i++ {
		or |= s[i]
	}
	return or < utf8.RuneSelf
}
