package translator

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var kindNames = [...]string{
	ptrace.SpanKindInternal: "SPAN_KIND_INTERNAL",
	ptrace.SpanKindServer:   "SPAN_KIND_SERVER",
	ptrace.SpanKindClient:   "SPAN_KIND_CLIENT",
	ptrace.SpanKindProducer: "SPAN_KIND_PRODUCER",
	ptrace.SpanKindConsumer: "SPAN_KIND_CONSUMER",
}

var statusNames = [...]string{
	ptrace.StatusCodeOk:    "STATUS_CODE_OK",
	ptrace.StatusCodeError: "STATUS_CODE_ERROR",
}

// appendMessage writes the span as DataKit's message: the span in protojson field order,
// its attributes replaced by every attribute left unpromoted (resource, scope, span,
// trace_id, events). With clean_message the ids, name, kind, times, status and the
// exception event (removedEvent) are left out. idOff >= 0 is where b holds the span's
// ids in hex (span, parent; the parent zero bytes when zero) and traceOff its trace id's,
// copied, not encoded again.
func (c *conv) appendMessage(b []byte, sp ptrace.Span, res *resourceSet, scope *attrSet, removedEvent, traceOff, idOff int) []byte {
	clean := c.t.opts.CleanMessage
	w := objWriter{b: append(b, '{')}
	if !clean && idOff >= 0 {
		// fastIDs: trace and span id are not zero.
		w.key("traceId")
		w.b = appendQuoted(w.b, w.b[traceOff:traceOff+32])
		w.key("spanId")
		w.b = appendQuoted(w.b, w.b[idOff:idOff+16])
	} else if !clean {
		if id := sp.TraceID(); !allZero(id[:]) {
			w.key("traceId")
			w.b = appendHexString(w.b, id[:])
		}
		if id := sp.SpanID(); !allZero(id[:]) {
			w.key("spanId")
			w.b = appendHexString(w.b, id[:])
		}
	}
	if ts := sp.TraceState().AsRaw(); ts != "" {
		w.key("traceState")
		w.b = appendString(w.b, ts)
	}
	if !clean {
		if id := sp.ParentSpanID(); !allZero(id[:]) {
			w.key("parentSpanId")
			if idOff >= 0 {
				w.b = appendQuoted(w.b, w.b[idOff+16:idOff+32])
			} else {
				w.b = appendHexString(w.b, id[:])
			}
		}
	}
	if f := sp.Flags(); f != 0 {
		w.key("flags")
		w.b = strconv.AppendUint(w.b, uint64(f), 10)
	}
	if !clean {
		if n := sp.Name(); n != "" {
			w.key("name")
			w.b = appendString(w.b, n)
		}
		if k := sp.Kind(); k != ptrace.SpanKindUnspecified {
			w.key("kind")
			w.b = appendEnum(w.b, enumName(kindNames[:], k), int64(k))
		}
		if t := sp.StartTimestamp(); t != 0 {
			w.key("startTimeUnixNano")
			w.b = appendQuotedUint(w.b, uint64(t))
		}
		if t := sp.EndTimestamp(); t != 0 {
			w.key("endTimeUnixNano")
			w.b = appendQuotedUint(w.b, uint64(t))
		}
	}
	if n := len(res.frag) + len(scope.frag) + len(c.tmp); n > 0 {
		w.key("attributes")
		w.b = append(w.b, '[')
		w.b = append(w.b, res.frag...)
		w.b = append(w.b, scope.frag...)
		w.b = append(w.b, c.tmp...)
		w.b[len(w.b)-1] = ']' // replaces the trailing comma
	}
	w.uint("droppedAttributesCount", sp.DroppedAttributesCount())
	events := sp.Events()
	if n := events.Len(); n > 0 && (n > 1 || removedEvent < 0) {
		w.key("events")
		w.b = append(w.b, '[')
		first := true
		for i := 0; i < n; i++ {
			if i == removedEvent {
				continue
			}
			if !first {
				w.b = append(w.b, ',')
			}
			first = false
			w.b = appendEvent(w.b, events.At(i))
		}
		w.b = append(w.b, ']')
	}
	w.uint("droppedEventsCount", sp.DroppedEventsCount())
	if links := sp.Links(); links.Len() > 0 {
		w.key("links")
		w.b = append(w.b, '[')
		for i := 0; i < links.Len(); i++ {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = appendLink(w.b, links.At(i))
		}
		w.b = append(w.b, ']')
	}
	w.uint("droppedLinksCount", sp.DroppedLinksCount())
	if st := sp.Status(); !clean && (st.Code() != ptrace.StatusCodeUnset || st.Message() != "") {
		w.key("status")
		sw := objWriter{b: append(w.b, '{')}
		if m := st.Message(); m != "" {
			sw.key("message")
			sw.b = appendString(sw.b, m)
		}
		if code := st.Code(); code != ptrace.StatusCodeUnset {
			sw.key("code")
			sw.b = appendEnum(sw.b, enumName(statusNames[:], code), int64(code))
		}
		w.b = append(sw.b, '}')
	}
	return append(w.b, '}')
}

func appendEvent(b []byte, ev ptrace.SpanEvent) []byte {
	w := objWriter{b: append(b, '{')}
	if t := ev.Timestamp(); t != 0 {
		w.key("timeUnixNano")
		w.b = appendQuotedUint(w.b, uint64(t))
	}
	if n := ev.Name(); n != "" {
		w.key("name")
		w.b = appendString(w.b, n)
	}
	if attrs := ev.Attributes(); attrs.Len() > 0 {
		w.key("attributes")
		w.b = appendKeyValues(w.b, attrs)
	}
	w.uint("droppedAttributesCount", ev.DroppedAttributesCount())
	return append(w.b, '}')
}

func appendLink(b []byte, l ptrace.SpanLink) []byte {
	w := objWriter{b: append(b, '{')}
	if id := l.TraceID(); !allZero(id[:]) {
		w.key("traceId")
		w.b = appendHexString(w.b, id[:])
	}
	if id := l.SpanID(); !allZero(id[:]) {
		w.key("spanId")
		w.b = appendHexString(w.b, id[:])
	}
	if ts := l.TraceState().AsRaw(); ts != "" {
		w.key("traceState")
		w.b = appendString(w.b, ts)
	}
	if attrs := l.Attributes(); attrs.Len() > 0 {
		w.key("attributes")
		w.b = appendKeyValues(w.b, attrs)
	}
	w.uint("droppedAttributesCount", l.DroppedAttributesCount())
	w.uint("flags", l.Flags())
	return append(w.b, '}')
}

// objWriter writes the members of one JSON object, placing the commas.
type objWriter struct {
	b []byte
	n int
}

func (w *objWriter) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *objWriter) uint(k string, v uint32) {
	if v != 0 {
		w.key(k)
		w.b = strconv.AppendUint(w.b, uint64(v), 10)
	}
}

// appendKeyValues writes a KeyValue list: [{"key":..,"value":..},...].
func appendKeyValues(b []byte, m pcommon.Map) []byte {
	b = append(b, '[')
	first := true
	for k, v := range m.All() {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendKeyValue(b, k, v)
	}
	return append(b, ']')
}

func appendKeyValue(b []byte, k string, v pcommon.Value) []byte {
	b = appendKeyPrefix(b, k)
	b = appendAnyValue(b, v)
	return append(b, '}')
}

// appendKeyPrefix writes a KeyValue up to its value: {"key":k,"value":
func appendKeyPrefix(b []byte, k string) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, k)
	return append(b, `,"value":`...)
}

func appendStringKeyValue(b []byte, k, v string) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, k)
	b = append(b, `,"value":{"stringValue":`...)
	b = appendString(b, v)
	return append(b, '}', '}')
}

// appendAnyValue writes an AnyValue as protojson does.
func appendAnyValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		b = append(b, `{"stringValue":`...)
		b = appendString(b, v.Str())
	case pcommon.ValueTypeBool:
		b = append(b, `{"boolValue":`...)
		b = strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeInt:
		b = append(b, `{"intValue":"`...)
		b = strconv.AppendInt(b, v.Int(), 10)
		b = append(b, '"')
	case pcommon.ValueTypeDouble:
		b = append(b, `{"doubleValue":`...)
		b = appendDouble(b, v.Double())
	case pcommon.ValueTypeBytes:
		b = append(b, `{"bytesValue":"`...)
		b = base64.StdEncoding.AppendEncode(b, v.Bytes().AsRaw())
		b = append(b, '"')
	case pcommon.ValueTypeMap:
		b = append(b, `{"kvlistValue":`...)
		b = appendValues(b, v)
	case pcommon.ValueTypeSlice:
		b = append(b, `{"arrayValue":`...)
		b = appendValues(b, v)
	default:
		b = append(b, '{')
	}
	return append(b, '}')
}

// appendValues writes a KeyValueList or ArrayValue message: {"values":[...]}, or {} when
// empty (how protojson writes them, also for a promoted map or slice value).
func appendValues(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		if v.Map().Len() == 0 {
			return append(b, '{', '}')
		}
		b = append(b, `{"values":`...)
		b = appendKeyValues(b, v.Map())
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		if sl.Len() == 0 {
			return append(b, '{', '}')
		}
		b = append(b, `{"values":[`...)
		for i := 0; i < sl.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAnyValue(b, sl.At(i))
		}
		b = append(b, ']')
	default:
		return append(b, '{', '}')
	}
	return append(b, '}')
}

func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

func appendEnum(b []byte, name string, n int64) []byte {
	if name == "" {
		return strconv.AppendInt(b, n, 10)
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"')
}

func appendQuotedUint(b []byte, v uint64) []byte {
	b = append(b, '"')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '"')
}

// appendQuoted writes s, which needs no escaping, as a JSON string; s may alias b.
func appendQuoted(b, s []byte) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendHexString(b []byte, id []byte) []byte {
	b = append(b, '"')
	b = appendHex(b, id)
	return append(b, '"')
}

// appendString writes s as a JSON string (invalid UTF-8 as \ufffd); protojson escapes no HTML.
func appendString(b []byte, s string) []byte { return spanmodel.AppendJSONString(b, s, false) }

// appendHex writes id in lowercase hex, as hex.AppendEncode does, eight bytes at a time
// through spanmodel.AppendHex16.
func appendHex(b, id []byte) []byte {
	for len(id) >= 8 {
		b = spanmodel.AppendHex16(b, binary.BigEndian.Uint64(id))
		id = id[8:]
	}
	return hex.AppendEncode(b, id)
}

// appendTraceIDHex writes a trace id as appendHex does.
func appendTraceIDHex(b []byte, trace *[16]byte) []byte {
	return spanmodel.AppendHex128(b, binary.BigEndian.Uint64(trace[:8]), binary.BigEndian.Uint64(trace[8:]))
}

// appendSpanIDsHex writes a span's id and its parent's as appendHex does, the parent as
// 16 zero bytes when zeroParent.
func appendSpanIDsHex(b []byte, span, parent *[8]byte, zeroParent bool) []byte {
	b = spanmodel.AppendHex16(b, binary.BigEndian.Uint64(span[:]))
	if zeroParent {
		return append(b, make([]byte, 16)...)
	}
	return spanmodel.AppendHex16(b, binary.BigEndian.Uint64(parent[:]))
}
