package translator

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/pinpoint-apm/pinpoint-go-agent/protobuf"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// requireSameJSON holds the hand-written message to encoding/json, the implementation it
// replaces: the same bytes, or "" where encoding/json fails.
func requireSameJSON(t *testing.T, w *msgWriter, p *v1.PSpan) {
	t.Helper()
	var e enc
	got := e.pspan(nil, p, true)
	if want := jsonString(p); !e.failed || want != "" {
		require.False(t, e.failed, "encoding/json wrote %s", want)
		require.Equal(t, want, string(got), "span with events")
	}
	shallow := *p
	shallow.SpanEvent = nil
	w.span(p)
	require.Equal(t, jsonString(&shallow), lastMessage(w), "span without events")
	for i, e := range p.SpanEvent {
		if e != nil {
			w.event(e)
			require.Equal(t, jsonString(e), lastMessage(w), "event %d", i)
		}
	}
}

// lastMessage is the message w rendered last.
func lastMessage(w *msgWriter) string {
	start, n := 0, len(w.ends)
	if n > 1 {
		start = w.ends[n-2]
	}
	return string(w.buf[start:w.ends[n-1]])
}

func annotated(vals ...*v1.PAnnotationValue) *v1.PSpan {
	p := &v1.PSpan{SpanId: 1, SpanEvent: []*v1.PSpanEvent{{Sequence: 1}}}
	for i, v := range vals {
		p.Annotation = append(p.Annotation, &v1.PAnnotation{Key: int32(i), Value: v})
	}
	p.SpanEvent[0].Annotation = p.Annotation
	return p
}

func TestMessageJSON(t *testing.T) {
	str := wrapperspb.String
	tests := map[string]*v1.PSpan{
		"zero":       {},
		"nil events": {SpanEvent: []*v1.PSpanEvent{nil, {}}, Annotation: []*v1.PAnnotation{nil, {}}},
		"every value kind": annotated(
			&v1.PAnnotationValue{},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_StringValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_StringValue{StringValue: "<a href=\"x\">&\u2029\x00\x7f\xff"}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_BoolValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntValue{IntValue: math.MinInt32}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_LongValue{LongValue: math.MaxInt64}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_ShortValue{ShortValue: -1}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_DoubleValue{DoubleValue: -1e-7}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_DoubleValue{DoubleValue: math.Copysign(0, -1)}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_DoubleValue{DoubleValue: 123456789e20}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_DoubleValue{DoubleValue: math.MaxFloat64}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_BinaryValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_BinaryValue{BinaryValue: []byte{}}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_BinaryValue{BinaryValue: []byte{0xfb, 0xff}}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_ByteValue{ByteValue: 127}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntStringValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntStringValue{IntStringValue: &v1.PIntStringValue{StringValue: str("")}}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_StringStringValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_StringStringValue{StringStringValue: &v1.PStringStringValue{StringValue2: str("b")}}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntStringStringValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntStringStringValue{IntStringStringValue: &v1.PIntStringStringValue{IntValue: 1, StringValue1: str("a")}}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_LongIntIntByteByteStringValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_LongIntIntByteByteStringValue{LongIntIntByteByteStringValue: &v1.PLongIntIntByteByteStringValue{IntValue2: 2, ByteValue2: -2}}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntBooleanIntBooleanValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntBooleanIntBooleanValue{IntBooleanIntBooleanValue: &v1.PIntBooleanIntBooleanValue{BoolValue2: true}}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_BytesStringStringValue{}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_BytesStringStringValue{BytesStringStringValue: &v1.PBytesStringStringValue{BytesValue: []byte{}}}},
			&v1.PAnnotationValue{Field: &v1.PAnnotationValue_BytesStringStringValue{BytesStringStringValue: &v1.PBytesStringStringValue{BytesValue: []byte("x")}}},
		),
		"typed nil wrappers": annotated(
			&v1.PAnnotationValue{Field: (*v1.PAnnotationValue_StringValue)(nil)},
			&v1.PAnnotationValue{Field: (*v1.PAnnotationValue_BytesStringStringValue)(nil)},
			&v1.PAnnotationValue{Field: (*v1.PAnnotationValue_DoubleValue)(nil)},
		),
		"nan":  annotated(&v1.PAnnotationValue{Field: &v1.PAnnotationValue_DoubleValue{DoubleValue: math.NaN()}}),
		"-inf": annotated(&v1.PAnnotationValue{Field: &v1.PAnnotationValue_DoubleValue{DoubleValue: math.Inf(-1)}}),
		"every struct": {
			Version: -1, TransactionId: &v1.PTransactionId{}, SpanId: math.MinInt64, ParentSpanId: -1, StartTime: 1, Elapsed: 2,
			ApiId: 3, ServiceType: 4, AcceptEvent: &v1.PAcceptEvent{ParentInfo: &v1.PParentInfo{}}, Flag: 5, Err: -6,
			ExceptionInfo: &v1.PIntStringValue{}, ApplicationServiceType: 7, LoggingTransactionInfo: 8,
			SpanEvent: []*v1.PSpanEvent{
				{NextEvent: &v1.PNextEvent{}},
				{NextEvent: &v1.PNextEvent{Field: (*v1.PNextEvent_MessageEvent)(nil)}},
				{NextEvent: &v1.PNextEvent{Field: &v1.PNextEvent_MessageEvent{}}},
				{Sequence: 1, Depth: 2, StartElapsed: 3, EndElapsed: 4, ServiceType: 5, ApiId: 6, AsyncEvent: 7,
					ExceptionInfo: &v1.PIntStringValue{IntValue: 1, StringValue: str("e")},
					NextEvent:     &v1.PNextEvent{Field: &v1.PNextEvent_MessageEvent{MessageEvent: &v1.PMessageEvent{NextSpanId: -1, EndPoint: "a", DestinationId: "b"}}}},
			},
		},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			requireSameJSON(t, &msgWriter{}, p)
		})
	}
	t.Run("golden inputs", func(t *testing.T) {
		for name, b := range wireCases(t) {
			msg := &v1.PSpanMessage{}
			require.NoError(t, proto.Unmarshal(b, protoadapt.MessageV2Of(msg)), name)
			if s := msg.GetSpan(); s != nil {
				requireSameJSON(t, &msgWriter{}, s)
			}
			if c := msg.GetSpanChunk(); c != nil {
				requireSameJSON(t, &msgWriter{}, &v1.PSpan{SpanEvent: c.GetSpanEvent()})
			}
		}
	})
}

// FuzzMessageJSON decodes arbitrary bytes as a PSpanMessage, adds a string that need not be
// UTF-8 and an arbitrary double, and requires the hand-written message to equal encoding/json's.
func FuzzMessageJSON(f *testing.F) {
	for _, b := range wireCases(f) {
		f.Add(b, "<&>\u2028\xff", 1e21)
	}
	f.Add([]byte{}, "", math.Inf(1))
	f.Fuzz(func(t *testing.T, data []byte, s string, d float64) {
		msg := &v1.PSpanMessage{}
		if err := proto.Unmarshal(data, protoadapt.MessageV2Of(msg)); err != nil {
			return
		}
		p := msg.GetSpan()
		if p == nil {
			p = &v1.PSpan{SpanEvent: msg.GetSpanChunk().GetSpanEvent()}
		}
		extra := []*v1.PAnnotation{
			{Key: 1, Value: &v1.PAnnotationValue{Field: &v1.PAnnotationValue_DoubleValue{DoubleValue: d}}},
			{Key: 2, Value: &v1.PAnnotationValue{Field: &v1.PAnnotationValue_StringValue{StringValue: s}}},
			{Key: 3, Value: &v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntStringValue{IntStringValue: &v1.PIntStringValue{StringValue: wrapperspb.String(s)}}}},
		}
		w := &msgWriter{}
		requireSameJSON(t, w, p)
		p.Annotation = append(p.Annotation, extra...)
		p.AcceptEvent = &v1.PAcceptEvent{Rpc: s}
		requireSameJSON(t, w, p)
		e := &v1.PSpanEvent{Annotation: extra}
		w.event(e)
		require.Equal(t, jsonString(e), lastMessage(w))
	})
}

// fill sets every exported field reachable from v to a non-zero value, taking oneof wrapper
// number variant (modulo their count): a field added to the generated structs shows up in
// encoding/json's output and fails TestMessageJSONEveryField until the appender writes it.
func fill(v reflect.Value, variant int) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), variant)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			sf := v.Type().Field(i)
			if !sf.IsExported() || strings.HasPrefix(sf.Name, "XXX_") {
				continue
			}
			if sf.Type.Kind() == reflect.Interface {
				ow, ok := v.Addr().Interface().(interface{ XXX_OneofWrappers() []any })
				if !ok {
					panic(sf.Name)
				}
				ws := ow.XXX_OneofWrappers()
				w := reflect.New(reflect.TypeOf(ws[variant%len(ws)]).Elem())
				fill(w.Elem(), variant)
				f.Set(w)
				continue
			}
			fill(f, variant)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{0xfa, byte(variant)})
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), variant)
		fill(v.Index(1), variant+1)
	case reflect.String:
		v.SetString("s<" + strconv.Itoa(variant) + ">")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(int64(-3 - variant))
	case reflect.Float64:
		v.SetFloat(2.5e-7 * float64(variant+1))
	default:
		panic(v.Kind().String())
	}
}

func TestMessageJSONEveryField(t *testing.T) {
	for variant := range 14 {
		p := &v1.PSpan{}
		fill(reflect.ValueOf(p).Elem(), variant)
		requireSameJSON(t, &msgWriter{}, p)
	}
}
