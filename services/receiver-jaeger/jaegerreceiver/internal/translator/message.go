package translator

import (
	"encoding/base64"
	"math"
	"strconv"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"

	"github.com/tracekit/tracekit/libs/spanmodel"
)

// appendMessage appends the bytes json.Marshal writes for the thrift span with DataKit's
// unsigned ids (jsonSpan: the embedded span's fields in order, the shadowed ids last),
// without reflection: encoding/json cost more than the rest of the conversion. ok is false
// where encoding/json fails (a NaN or infinite double).
//
// memo is the span's tag memo (nil for none): a tag's key and type are written from it.
func appendMessage(b []byte, s *jaeger.Span, memo []keyMemo) (_ []byte, ok bool) {
	b = append(b, `{"operationName":`...)
	b = appendString(b, s.OperationName)
	if len(s.References) > 0 {
		b = append(b, `,"references":[`...)
		for i, r := range s.References {
			if i > 0 {
				b = append(b, ',')
			}
			if r == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, `{"refType":`...)
			b = refTypeJSON.Append(b, r.RefType)
			b = append(b, `,"traceIdLow":`...)
			b = strconv.AppendInt(b, r.TraceIdLow, 10)
			b = append(b, `,"traceIdHigh":`...)
			b = strconv.AppendInt(b, r.TraceIdHigh, 10)
			b = append(b, `,"spanId":`...)
			b = strconv.AppendInt(b, r.SpanId, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"flags":`...)
	b = strconv.AppendInt(b, int64(s.Flags), 10)
	b = append(b, `,"startTime":`...)
	b = strconv.AppendInt(b, s.StartTime, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, s.Duration, 10)
	if len(s.Tags) > 0 {
		b = append(b, `,"tags":`...)
		if b, ok = appendTags(b, s.Tags, memo); !ok {
			return b, false
		}
	}
	if len(s.Logs) > 0 {
		b = append(b, `,"logs":[`...)
		for i, l := range s.Logs {
			if i > 0 {
				b = append(b, ',')
			}
			if l == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, `{"timestamp":`...)
			b = strconv.AppendInt(b, l.Timestamp, 10)
			b = append(b, `,"fields":`...)
			if l.Fields == nil {
				b = append(b, "null"...)
			} else if b, ok = appendTags(b, l.Fields, nil); !ok {
				return b, false
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"traceIdLow":`...)
	b = strconv.AppendUint(b, uint64(s.TraceIdLow), 10)
	b = append(b, `,"traceIdHigh":`...)
	b = strconv.AppendUint(b, uint64(s.TraceIdHigh), 10)
	b = append(b, `,"spanId":`...)
	b = strconv.AppendUint(b, uint64(s.SpanId), 10)
	b = append(b, `,"parentSpanId":`...)
	b = strconv.AppendUint(b, uint64(s.ParentSpanId), 10)
	return append(b, '}'), true
}

// appendTags writes a non-nil tag list. memo, when not nil, is the tag memo of the span's
// tags (memo[i].raw is tags[i].Key when memo[i].set).
func appendTags(b []byte, tags []*jaeger.Tag, memo []keyMemo) ([]byte, bool) {
	b = append(b, '[')
	for i, t := range tags {
		if i > 0 {
			b = append(b, ',')
		}
		if t == nil {
			b = append(b, "null"...)
			continue
		}
		if i < len(memo) && memo[i].set && memo[i].raw == t.Key {
			m := &memo[i]
			if m.json == "" || m.jsonType != t.VType {
				start := len(b)
				b = appendTagHead(b, t)
				m.json, m.jsonType = string(b[start:]), t.VType
			} else {
				b = append(b, m.json...)
			}
		} else {
			b = appendTagHead(b, t)
		}
		if t.VStr != nil {
			b = append(b, `,"vStr":`...)
			b = appendString(b, *t.VStr)
		}
		if t.VDouble != nil {
			f := *t.VDouble
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return b, false
			}
			b = append(b, `,"vDouble":`...)
			b = spanmodel.AppendJSONFloat(b, f)
		}
		if t.VBool != nil {
			b = append(b, `,"vBool":`...)
			b = strconv.AppendBool(b, *t.VBool)
		}
		if t.VLong != nil {
			b = append(b, `,"vLong":`...)
			if i < len(memo) && memo[i].numSet && memo[i].numType == jaeger.TagType_LONG && memo[i].num == uint64(*t.VLong) {
				b = append(b, memo[i].numStr...) // tagValue's decimal, as encoding/json writes it
			} else {
				b = strconv.AppendInt(b, *t.VLong, 10)
			}
		}
		if len(t.VBinary) > 0 {
			b = append(b, `,"vBinary":"`...)
			b = base64.StdEncoding.AppendEncode(b, t.VBinary)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ']'), true
}

// appendTagHead writes a tag's object up to its vType.
func appendTagHead(b []byte, t *jaeger.Tag) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, t.Key)
	b = append(b, `,"vType":`...)
	return tagTypeJSON.Append(b, t.VType)
}

// The enums' names as json.Marshal writes them (their MarshalText).
var (
	tagTypeJSON = spanmodel.NewJSONEnum(int(jaeger.TagType_BINARY)+1, jaeger.TagType.String)
	refTypeJSON = spanmodel.NewJSONEnum(int(jaeger.SpanRefType_FOLLOWS_FROM)+1, jaeger.SpanRefType.String)
)

// appendString writes s as json.Marshal does (HTML-escaped).
func appendString(b []byte, s string) []byte { return spanmodel.AppendJSONString(b, s, true) }
