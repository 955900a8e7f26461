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
	for i, end := 0, len(d.raw); i < end; {
		num, typ, j, err := d.tag(i, end)
		if err != nil {
			return nil, err
		}
		i = j
		if num == 1 && typ == protowire.BytesType {
			vs, ve, err := d.value(i, end)
			if err != nil {
				return nil, err
			}
			var s *zipkin_proto3.Span
			if len(spans) < len(block) {
				s = &block[len(spans)]
			} else {
				s = &zipkin_proto3.Span{}
			}
			if err := d.span(s, vs, ve); err != nil {
				return nil, err
			}
			spans = append(spans, s)
			i = ve
			continue
		}
		if i, err = d.skip(num, typ, i, end); err != nil {
			return nil, err
		}
	}
	return spans, nil
}

var (
	errProtoDecode = errors.New("proto: cannot parse invalid wire-format data")
	errProtoUTF8   = errors.New("proto: string field contains invalid UTF-8")
)

type protoDecoder struct {
	str       string // the payload as a string, for string fields
	raw       []byte // the payload copied, for bytes fields
	endpoints []zipkin_proto3.Endpoint
}

// newEndpoint is a new Endpoint, from the block while it lasts.
func (d *protoDecoder) newEndpoint() *zipkin_proto3.Endpoint {
	if len(d.endpoints) == 0 {
		return &zipkin_proto3.Endpoint{}
	}
	e := &d.endpoints[0]
	d.endpoints = d.endpoints[1:]
	return e
}

// tag reads the field tag at i; j is where its value starts.
func (d *protoDecoder) tag(i, end int) (num protowire.Number, typ protowire.Type, j int, err error) {
	num, typ, n := protowire.ConsumeTag(d.raw[i:end])
	if n < 0 || num > protowire.MaxValidNumber {
		return 0, 0, 0, errProtoDecode
	}
	return num, typ, i + n, nil
}

// value reads the length-delimited value at i: its contents are raw[vs:ve].
func (d *protoDecoder) value(i, end int) (vs, ve int, err error) {
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
	if !utf8.ValidString(s) {
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
				a := &zipkin_proto3.Annotation{}
				err = d.annotation(a, vs, ve)
				s.Annotations = append(s.Annotations, a)
			case 11:
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
	s.Tags[key] = val
	return nil
}
