package translator

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/thriftwire"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// DecodeV1Thrift decodes a TBinaryProtocol list<zipkincore.Span>, the body of Zipkin's v1
// thrift API. It reads data in place (libs/thriftwire): the spans' strings and binaries
// point into it, so data must not be modified afterwards. Like apache's protocol with
// MaxMessageSize = len(data), it bounds every length by the payload size, so a forged
// length can't allocate gigabytes.
func DecodeV1Thrift(data []byte) ([]*zipkincore.Span, error) {
	return decodeV1Thrift(thriftwire.NewBinaryNoCopy(data))
}

func decodeV1Thrift(p thrift.TProtocol) ([]*zipkincore.Span, error) {
	ctx := context.Background()
	et, n, err := p.ReadListBegin(ctx)
	if err != nil {
		return nil, fmt.Errorf("invalid zipkin v1 thrift: list header: %w", err)
	}
	if et != thrift.STRUCT {
		return nil, fmt.Errorf("invalid zipkin v1 thrift: list of %v, want list of Span structs", et)
	}
	spans := make([]*zipkincore.Span, 0, n)
	// The Spans (what zipkincore.NewSpan gives) come from blocks: a forged count can't
	// make one big allocation.
	var block []zipkincore.Span
	for i := 0; i < n; i++ {
		if len(block) == 0 {
			block = make([]zipkincore.Span, min(n-i, 64))
		}
		s := &block[0]
		block = block[1:]
		if err := s.Read(ctx, p); err != nil {
			return nil, fmt.Errorf("invalid zipkin v1 thrift: span[%d]: %w", i, err)
		}
		spans = append(spans, s)
	}
	if err := p.ReadListEnd(ctx); err != nil {
		return nil, fmt.Errorf("invalid zipkin v1 thrift: %w", err)
	}
	return spans, nil
}

// V1ThriftToTraces converts decoded v1 thrift spans of one payload. The binary
// annotations' values, the ids and the messages are printed into one buffer and cut from
// one string (spanmodel.TextBatch); the spans come from one block. A second pass over the
// spans, once the strings are there, fills in the rest (v1ToSpan) through one reused
// v1Span.
func V1ThriftToTraces(spans []*zipkincore.Span, opt Options) []*spanv1.DatakitTrace {
	n, nBin, maxAnn, maxBin := 0, 0, 0, 0
	for _, s := range spans {
		if s != nil {
			n++
			nBin += len(s.BinaryAnnotations)
			maxAnn, maxBin = max(maxAnn, len(s.Annotations)), max(maxBin, len(s.BinaryAnnotations))
		}
	}
	block := make([]spanv1.DatakitSpan, n)
	values := make([]string, nBin) // the binary annotations' values, in order
	tb := spanmodel.GetTextBatch()
	defer tb.Release()
	var plain jsonPlain
	i, k := 0, 0
	for _, s := range spans {
		if s == nil {
			continue
		}
		ds := &block[i]
		i++
		c := v1Span{
			traceHigh: uint64(s.GetTraceIDHigh()),
			traceLow:  uint64(s.TraceID),
			id:        uint64(s.ID),
			parent:    uint64(s.GetParentID()),
		}
		v1IDs(tb, ds, &c)
		for _, a := range s.BinaryAnnotations {
			if a != nil {
				start := len(tb.Buf)
				tb.Buf = appendThriftValue(tb.Buf, a)
				tb.Set(&values[k], start)
				k++
			}
		}
		if !opt.DelMessage {
			start := len(tb.Buf)
			tb.Buf = appendV1ThriftMessage(tb.Buf, s, &plain)
			tb.Set(&ds.Message, start)
		}
	}
	tb.Flush()

	out := make([]*spanv1.DatakitSpan, n)
	var keys v1Keys
	anns := make([]v1Annotation, 0, maxAnn)
	bins := make([]v1Binary, 0, maxBin)
	i, k = 0, 0
	for _, s := range spans {
		if s == nil {
			continue
		}
		c := v1Span{
			name:           spanmodel.ValidString(s.Name),
			timestamp:      s.GetTimestamp(),
			duration:       s.GetDuration(),
			unknownService: UnknownServiceV1Thrift,
		}
		anns = anns[:0]
		for _, a := range s.Annotations {
			if a != nil {
				anns = append(anns, v1Annotation{ts: a.Timestamp, service: hostService(a.Host)})
			}
		}
		bins = bins[:0]
		for _, a := range s.BinaryAnnotations {
			if a != nil {
				bins = append(bins, v1Binary{key: spanmodel.ValidString(a.Key), value: spanmodel.ValidString(values[k]), service: hostService(a.Host)})
				k++
			}
		}
		c.annotations, c.binary = anns, bins
		v1ToSpan(&block[i], &c, opt, &keys)
		out[i] = &block[i]
		i++
	}
	return group(out)
}

// hostService is the endpoint's service name; thrift strings are not checked for UTF-8,
// and an invalid one would make the batch unpublishable.
func hostService(e *zipkincore.Endpoint) string {
	if e == nil {
		return ""
	}
	return spanmodel.ValidString(e.ServiceName)
}

// appendThriftValue renders a binary annotation by its declared type; a value too short
// for its type is kept as raw text rather than refused.
func appendThriftValue(b []byte, a *zipkincore.BinaryAnnotation) []byte {
	v := a.Value
	switch a.AnnotationType {
	case zipkincore.AnnotationType_BOOL:
		if len(v) == 1 {
			return strconv.AppendBool(b, v[0] != 0)
		}
	case zipkincore.AnnotationType_I16:
		if len(v) == 2 {
			return strconv.AppendInt(b, int64(int16(binary.BigEndian.Uint16(v))), 10)
		}
	case zipkincore.AnnotationType_I32:
		if len(v) == 4 {
			return strconv.AppendInt(b, int64(int32(binary.BigEndian.Uint32(v))), 10)
		}
	case zipkincore.AnnotationType_I64:
		if len(v) == 8 {
			return strconv.AppendInt(b, int64(binary.BigEndian.Uint64(v)), 10)
		}
	case zipkincore.AnnotationType_DOUBLE:
		if len(v) == 8 {
			return strconv.AppendFloat(b, math.Float64frombits(binary.BigEndian.Uint64(v)), 'f', -1, 64)
		}
	}
	return append(b, v...)
}

// appendV1ThriftMessage appends the bytes json.Marshal writes for s (the message DataKit
// keeps), without reflection: encoding/json cost more than the rest of the conversion.
// The field order and omitempty rules are zipkincore's struct tags.
// plain (may be nil) remembers which binary annotation keys need no escaping.
func appendV1ThriftMessage(b []byte, s *zipkincore.Span, plain *jsonPlain) []byte {
	b = append(b, `{"trace_id":`...)
	b = strconv.AppendInt(b, s.TraceID, 10)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, s.Name)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, s.ID, 10)
	if s.ParentID != nil {
		b = append(b, `,"parent_id":`...)
		b = strconv.AppendInt(b, *s.ParentID, 10)
	}
	b = append(b, `,"annotations":`...)
	if s.Annotations == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range s.Annotations {
			if i > 0 {
				b = append(b, ',')
			}
			if a == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, `{"timestamp":`...)
			b = strconv.AppendInt(b, a.Timestamp, 10)
			b = append(b, `,"value":`...)
			b = appendJSONString(b, a.Value)
			b = appendJSONHost(b, a.Host)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"binary_annotations":`...)
	if s.BinaryAnnotations == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range s.BinaryAnnotations {
			if i > 0 {
				b = append(b, ',')
			}
			if a == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, `{"key":`...)
			if plain.is(i, a.Key) {
				b = append(b, '"')
				b = append(b, a.Key...)
				b = append(b, '"')
			} else {
				b = appendJSONString(b, a.Key)
			}
			b = append(b, `,"value":`...)
			b = appendJSONBytes(b, a.Value)
			b = append(b, `,"annotation_type":`...)
			b = annotationTypeJSON.Append(b, a.AnnotationType)
			b = appendJSONHost(b, a.Host)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"debug":`...)
	b = strconv.AppendBool(b, s.Debug)
	if s.Timestamp != nil {
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, *s.Timestamp, 10)
	}
	if s.Duration != nil {
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, *s.Duration, 10)
	}
	if s.TraceIDHigh != nil {
		b = append(b, `,"trace_id_high":`...)
		b = strconv.AppendInt(b, *s.TraceIDHigh, 10)
	}
	return append(b, '}')
}

// jsonPlain remembers, for the binary annotation at each position, its last key and
// whether appendJSONString writes it as it is (quoted): the spans of a payload mostly
// repeat one list of keys, and comparing is cheaper than scanning for what to escape.
type jsonPlain struct{ pos []jsonPlainKey }

type jsonPlainKey struct {
	key   string
	plain bool
}

// is reports whether appendJSONString(b, key) appends key quoted, nothing escaped; key is
// the j-th binary annotation's. A nil jsonPlain remembers nothing.
func (m *jsonPlain) is(j int, key string) bool {
	if m != nil && j < len(m.pos) && m.pos[j].key == key {
		return m.pos[j].plain
	}
	plain := jsonVerbatim(key)
	if m != nil && j <= len(m.pos) && j < 64 {
		if j == len(m.pos) {
			m.pos = append(m.pos, jsonPlainKey{})
		}
		m.pos[j] = jsonPlainKey{key, plain}
	}
	return plain
}

// annotationTypeJSON are the AnnotationType names as json.Marshal writes them (their
// MarshalText).
var annotationTypeJSON = spanmodel.NewJSONEnum(int(zipkincore.AnnotationType_STRING)+1, zipkincore.AnnotationType.String)

// appendJSONHost appends an annotation's `,"host":{...}` (omitempty: nothing for nil).
func appendJSONHost(b []byte, e *zipkincore.Endpoint) []byte {
	if e == nil {
		return b
	}
	b = append(b, `,"host":{"ipv4":`...)
	b = strconv.AppendInt(b, int64(e.Ipv4), 10)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(e.Port), 10)
	b = append(b, `,"service_name":`...)
	b = appendJSONString(b, e.ServiceName)
	if len(e.Ipv6) > 0 {
		b = append(b, `,"ipv6":`...)
		b = appendJSONBytes(b, e.Ipv6)
	}
	return append(b, '}')
}

// appendJSONBytes is encoding/json's []byte: base64 in a string, null for nil.
func appendJSONBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = appendBase64(b, v)
	return append(b, '"')
}

// appendBase64 is base64.StdEncoding.AppendEncode(b, v), which spends most of its time
// on calls and set-up for the few bytes of a tag value.
func appendBase64(b, v []byte) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b = slices.Grow(b, (len(v)+2)/3*4)
	for ; len(v) >= 3; v = v[3:] {
		x := uint(v[0])<<16 | uint(v[1])<<8 | uint(v[2])
		b = append(b, alphabet[x>>18&63], alphabet[x>>12&63], alphabet[x>>6&63], alphabet[x&63])
	}
	switch len(v) {
	case 2:
		x := uint(v[0])<<16 | uint(v[1])<<8
		b = append(b, alphabet[x>>18&63], alphabet[x>>12&63], alphabet[x>>6&63], '=')
	case 1:
		x := uint(v[0]) << 16
		b = append(b, alphabet[x>>18&63], alphabet[x>>12&63], '=', '=')
	}
	return b
}
