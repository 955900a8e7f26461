package translator

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"

	v1 "github.com/pinpoint-apm/pinpoint-go-agent/protobuf"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// DataKit's message is encoding/json of the agent's wire structs. Its reflection was a
// third of decode+convert, so the structs are written out by hand below, byte for byte as
// encoding/json writes them: field order and json names of the generated code, omitempty
// where the tag has it, oneof wrappers under their Go field names ("Field", "StringValue"),
// HTML-escaped strings, ES6-style floats. What the appender cannot write the same way (a NaN
// or infinite double, which encoding/json refuses) falls back to encoding/json.
// TestMessageJSON, TestMessageJSONEveryField (which fails when the generated structs gain a
// field) and FuzzMessageJSON hold the two to the same output.

// jsonString is DataKit's message: the wire struct as JSON.
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// msgWriter renders the messages of one conversion back to back into one buffer, which
// becomes one string that the spans' messages are cut from. The buffer is threaded through
// the append functions as a local, so the hot path writes no pointers to the heap.
type msgWriter struct {
	buf  []byte
	ends []int
}

func (w *msgWriter) reset() { w.buf, w.ends = w.buf[:0], w.ends[:0] }

// span renders p without its events: they have their own messages.
func (w *msgWriter) span(p *v1.PSpan) {
	var e enc
	start := len(w.buf)
	b := e.pspan(w.buf, p, false)
	if e.failed {
		shallow := *p
		shallow.SpanEvent = nil
		b = append(b[:start], jsonString(&shallow)...)
	}
	w.done(b)
}

func (w *msgWriter) event(ev *v1.PSpanEvent) {
	var e enc
	start := len(w.buf)
	b := e.pspanEvent(w.buf, ev)
	if e.failed {
		b = append(b[:start], jsonString(ev)...)
	}
	w.done(b)
}

func (w *msgWriter) done(b []byte) {
	w.buf = b
	w.ends = append(w.ends, len(b))
}

// setMessages gives spans[i] the i-th message rendered.
func (w *msgWriter) setMessages(spans []*spanv1.DatakitSpan) {
	s := string(w.buf)
	start := 0
	for i, sp := range spans {
		sp.Message = s[start:w.ends[i]]
		start = w.ends[i]
	}
}

// enc notes what the appender could not write as encoding/json does.
type enc struct{ failed bool }

// key writes `"name":`, after a comma unless it opens the object: no JSON value ends in '{',
// so the last byte tells. Names are plain ASCII.
func key(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// sep separates array elements the same way.
func sep(b []byte) []byte {
	if b[len(b)-1] != '[' {
		b = append(b, ',')
	}
	return b
}

// The omitempty members: zero values are left out.

func intField(b []byte, name string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(key(b, name), v, 10)
}

func boolField(b []byte, name string, v bool) []byte {
	if !v {
		return b
	}
	return append(key(b, name), "true"...)
}

func strField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return spanmodel.AppendJSONString(key(b, name), v, true)
}

func wrapperField(b []byte, name string, v *wrapperspb.StringValue) []byte {
	if v == nil {
		return b
	}
	b = append(key(b, name), '{')
	return append(strField(b, "value", v.Value), '}')
}

func null(b []byte) []byte { return append(b, "null"...) }

func (e *enc) pspan(b []byte, p *v1.PSpan, events bool) []byte {
	b = append(b, '{')
	b = intField(b, "version", int64(p.Version))
	if t := p.TransactionId; t != nil {
		b = append(key(b, "transactionId"), '{')
		b = strField(b, "agentId", t.AgentId)
		b = intField(b, "agentStartTime", t.AgentStartTime)
		b = intField(b, "sequence", t.Sequence)
		b = append(b, '}')
	}
	b = intField(b, "spanId", p.SpanId)
	b = intField(b, "parentSpanId", p.ParentSpanId)
	b = intField(b, "startTime", p.StartTime)
	b = intField(b, "elapsed", int64(p.Elapsed))
	b = intField(b, "apiId", int64(p.ApiId))
	b = intField(b, "serviceType", int64(p.ServiceType))
	if a := p.AcceptEvent; a != nil {
		b = append(key(b, "acceptEvent"), '{')
		b = strField(b, "rpc", a.Rpc)
		b = strField(b, "endPoint", a.EndPoint)
		b = strField(b, "remoteAddr", a.RemoteAddr)
		if pi := a.ParentInfo; pi != nil {
			b = append(key(b, "parentInfo"), '{')
			b = strField(b, "parentApplicationName", pi.ParentApplicationName)
			b = intField(b, "parentApplicationType", int64(pi.ParentApplicationType))
			b = strField(b, "acceptorHost", pi.AcceptorHost)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = e.annotations(b, p.Annotation)
	b = intField(b, "flag", int64(p.Flag))
	b = intField(b, "err", int64(p.Err))
	if events && len(p.SpanEvent) > 0 {
		b = append(key(b, "spanEvent"), '[')
		for _, ev := range p.SpanEvent {
			b = sep(b)
			if ev == nil {
				b = null(b)
			} else {
				b = e.pspanEvent(b, ev)
			}
		}
		b = append(b, ']')
	}
	if v := p.ExceptionInfo; v != nil {
		b = intStringValue(key(b, "exceptionInfo"), v)
	}
	b = intField(b, "applicationServiceType", int64(p.ApplicationServiceType))
	b = intField(b, "loggingTransactionInfo", int64(p.LoggingTransactionInfo))
	return append(b, '}')
}

func (e *enc) pspanEvent(b []byte, ev *v1.PSpanEvent) []byte {
	b = append(b, '{')
	b = intField(b, "sequence", int64(ev.Sequence))
	b = intField(b, "depth", int64(ev.Depth))
	b = intField(b, "startElapsed", int64(ev.StartElapsed))
	b = intField(b, "endElapsed", int64(ev.EndElapsed))
	b = intField(b, "serviceType", int64(ev.ServiceType))
	b = e.annotations(b, ev.Annotation)
	b = intField(b, "apiId", int64(ev.ApiId))
	if v := ev.ExceptionInfo; v != nil {
		b = intStringValue(key(b, "exceptionInfo"), v)
	}
	if n := ev.NextEvent; n != nil {
		b = append(key(b, "nextEvent"), '{')
		b = key(b, "Field")
		switch f := n.Field.(type) {
		case nil:
			b = null(b)
		case *v1.PNextEvent_MessageEvent:
			if f == nil {
				b = null(b)
				break
			}
			b = oneof(b, "MessageEvent")
			if m := f.MessageEvent; m == nil {
				b = null(b)
			} else {
				b = append(b, '{')
				b = intField(b, "nextSpanId", m.NextSpanId)
				b = strField(b, "endPoint", m.EndPoint)
				b = strField(b, "destinationId", m.DestinationId)
				b = append(b, '}')
			}
			b = append(b, '}')
		default:
			e.failed = true
		}
		b = append(b, '}')
	}
	b = intField(b, "asyncEvent", int64(ev.AsyncEvent))
	return append(b, '}')
}

func intStringValue(b []byte, v *v1.PIntStringValue) []byte {
	if v == nil {
		return null(b)
	}
	b = append(b, '{')
	b = intField(b, "intValue", int64(v.IntValue))
	b = wrapperField(b, "stringValue", v.StringValue)
	return append(b, '}')
}

func (e *enc) annotations(b []byte, annos []*v1.PAnnotation) []byte {
	if len(annos) == 0 {
		return b
	}
	b = append(key(b, "annotation"), '[')
	for _, a := range annos {
		b = sep(b)
		if a == nil {
			b = null(b)
			continue
		}
		b = append(b, '{')
		b = intField(b, "key", int64(a.Key))
		if v := a.Value; v != nil {
			b = append(key(b, "value"), '{')
			b = e.annotationField(key(b, "Field"), v.Field)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// oneof opens the object of a oneof wrapper. Its one field has no json tag, so
// encoding/json names it after the Go field and writes it even when it holds the zero value.
func oneof(b []byte, name string) []byte {
	b = append(b, '{', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// annotationField writes PAnnotationValue.Field: null, or the wrapper object.
func (e *enc) annotationField(b []byte, f any) []byte {
	switch f := f.(type) {
	case nil:
		return null(b)
	case *v1.PAnnotationValue_StringValue:
		if f != nil {
			return append(spanmodel.AppendJSONString(oneof(b, "StringValue"), f.StringValue, true), '}')
		}
	case *v1.PAnnotationValue_BoolValue:
		if f != nil {
			return append(strconv.AppendBool(oneof(b, "BoolValue"), f.BoolValue), '}')
		}
	case *v1.PAnnotationValue_IntValue:
		if f != nil {
			return append(strconv.AppendInt(oneof(b, "IntValue"), int64(f.IntValue), 10), '}')
		}
	case *v1.PAnnotationValue_LongValue:
		if f != nil {
			return append(strconv.AppendInt(oneof(b, "LongValue"), f.LongValue, 10), '}')
		}
	case *v1.PAnnotationValue_ShortValue:
		if f != nil {
			return append(strconv.AppendInt(oneof(b, "ShortValue"), int64(f.ShortValue), 10), '}')
		}
	case *v1.PAnnotationValue_DoubleValue:
		if f != nil {
			return append(e.float(oneof(b, "DoubleValue"), f.DoubleValue), '}')
		}
	case *v1.PAnnotationValue_BinaryValue:
		if f != nil {
			return append(appendBytes(oneof(b, "BinaryValue"), f.BinaryValue), '}')
		}
	case *v1.PAnnotationValue_ByteValue:
		if f != nil {
			return append(strconv.AppendInt(oneof(b, "ByteValue"), int64(f.ByteValue), 10), '}')
		}
	case *v1.PAnnotationValue_IntStringValue:
		if f != nil {
			return append(intStringValue(oneof(b, "IntStringValue"), f.IntStringValue), '}')
		}
	case *v1.PAnnotationValue_StringStringValue:
		if f != nil {
			b = oneof(b, "StringStringValue")
			if x := f.StringStringValue; x == nil {
				b = null(b)
			} else {
				b = append(b, '{')
				b = wrapperField(b, "stringValue1", x.StringValue1)
				b = wrapperField(b, "stringValue2", x.StringValue2)
				b = append(b, '}')
			}
			return append(b, '}')
		}
	case *v1.PAnnotationValue_IntStringStringValue:
		if f != nil {
			b = oneof(b, "IntStringStringValue")
			if x := f.IntStringStringValue; x == nil {
				b = null(b)
			} else {
				b = append(b, '{')
				b = intField(b, "intValue", int64(x.IntValue))
				b = wrapperField(b, "stringValue1", x.StringValue1)
				b = wrapperField(b, "stringValue2", x.StringValue2)
				b = append(b, '}')
			}
			return append(b, '}')
		}
	case *v1.PAnnotationValue_LongIntIntByteByteStringValue:
		if f != nil {
			b = oneof(b, "LongIntIntByteByteStringValue")
			if x := f.LongIntIntByteByteStringValue; x == nil {
				b = null(b)
			} else {
				b = append(b, '{')
				b = intField(b, "longValue", x.LongValue)
				b = intField(b, "intValue1", int64(x.IntValue1))
				b = intField(b, "intValue2", int64(x.IntValue2))
				b = intField(b, "byteValue1", int64(x.ByteValue1))
				b = intField(b, "byteValue2", int64(x.ByteValue2))
				b = wrapperField(b, "stringValue", x.StringValue)
				b = append(b, '}')
			}
			return append(b, '}')
		}
	case *v1.PAnnotationValue_IntBooleanIntBooleanValue:
		if f != nil {
			b = oneof(b, "IntBooleanIntBooleanValue")
			if x := f.IntBooleanIntBooleanValue; x == nil {
				b = null(b)
			} else {
				b = append(b, '{')
				b = intField(b, "intValue1", int64(x.IntValue1))
				b = boolField(b, "boolValue1", x.BoolValue1)
				b = intField(b, "intValue2", int64(x.IntValue2))
				b = boolField(b, "boolValue2", x.BoolValue2)
				b = append(b, '}')
			}
			return append(b, '}')
		}
	case *v1.PAnnotationValue_BytesStringStringValue:
		if f != nil {
			b = oneof(b, "BytesStringStringValue")
			if x := f.BytesStringStringValue; x == nil {
				b = null(b)
			} else {
				b = append(b, '{')
				if len(x.BytesValue) > 0 {
					b = appendBytes(key(b, "bytesValue"), x.BytesValue)
				}
				b = wrapperField(b, "stringValue1", x.StringValue1)
				b = wrapperField(b, "stringValue2", x.StringValue2)
				b = append(b, '}')
			}
			return append(b, '}')
		}
	default:
		e.failed = true
		return b
	}
	// A typed nil wrapper pointer in the interface.
	return null(b)
}

// float writes a double as encoding/json does; NaN and the infinities are what
// encoding/json refuses.
func (e *enc) float(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.failed = true
		return b
	}
	return spanmodel.AppendJSONFloat(b, f)
}

// appendBytes writes a []byte as encoding/json does: null when nil, else base64.
func appendBytes(b, v []byte) []byte {
	if v == nil {
		return null(b)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}
