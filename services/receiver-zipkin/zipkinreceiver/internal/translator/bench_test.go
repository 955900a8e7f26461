package translator

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
)

const benchSpans = 50

// benchV2 is one payload of benchSpans spans with 10 tags each, as a web service reports.
func benchV2() []*model.SpanModel {
	out := make([]*model.SpanModel, benchSpans)
	for i := range out {
		parent := model.ID(1)
		tags := map[string]string{}
		for j := range 10 {
			tags[fmt.Sprintf("tag.key%d", j)] = fmt.Sprintf("value-%d-%d", i, j)
		}
		out[i] = &model.SpanModel{
			SpanContext:   model.SpanContext{TraceID: model.TraceID{High: 7, Low: 9}, ID: model.ID(i + 1)},
			Name:          "GET /api/items",
			Kind:          model.Server,
			Timestamp:     time.Unix(1700000000, int64(i)*1000),
			Duration:      time.Millisecond,
			LocalEndpoint: &model.Endpoint{ServiceName: "bench"},
			Tags:          tags,
		}
		if i > 0 {
			out[i].ParentID = &parent
		}
	}
	return out
}

func benchV1() []V1Span {
	out := make([]V1Span, benchSpans)
	for i := range out {
		s := V1Span{TraceID: "0000000000000009", ID: fmt.Sprintf("%016x", i+1), Name: "get", Timestamp: 1700000000000000, Duration: 1000,
			Annotations: []V1Annotation{{Timestamp: 1700000000000000, Value: "sr", Endpoint: &V1Endpoint{ServiceName: "bench"}}}}
		if i > 0 {
			s.ParentID = "0000000000000001"
		}
		for j := range 10 {
			s.BinaryAnnotations = append(s.BinaryAnnotations, V1BinaryAnnotation{Key: fmt.Sprintf("tag.key%d", j), Value: json.RawMessage(fmt.Sprintf(`"value-%d-%d"`, i, j))})
		}
		out[i] = s
	}
	return out
}

func benchThrift() []*zipkincore.Span {
	out := make([]*zipkincore.Span, benchSpans)
	ep := &zipkincore.Endpoint{ServiceName: "bench"}
	for i := range out {
		s := &zipkincore.Span{TraceID: 9, ID: int64(i + 1), Name: "get", Timestamp: ptr(int64(1700000000000000)), Duration: ptr(int64(1000)),
			Annotations: []*zipkincore.Annotation{{Timestamp: 1700000000000000, Value: "sr", Host: ep}}}
		if i > 0 {
			s.ParentID = ptr(int64(1))
		}
		for j := range 10 {
			v := make([]byte, 8)
			binary.BigEndian.PutUint64(v, uint64(j))
			s.BinaryAnnotations = append(s.BinaryAnnotations, &zipkincore.BinaryAnnotation{Key: fmt.Sprintf("tag.key%d", j), Value: []byte(fmt.Sprintf("value-%d-%d", i, j)), AnnotationType: zipkincore.AnnotationType_STRING})
		}
		out[i] = s
	}
	return out
}

func benchConvert(b *testing.B, payload []byte, convert convertFunc, opts Options) {
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		traces, err := convert(payload, opts)
		if err != nil || len(traces) == 0 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchSpans*b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(benchSpans*b.N)/1000, "µs/span")
}

func BenchmarkDecodeConvert(b *testing.B) {
	v2JSONPayload, err := json.Marshal(benchV2())
	if err != nil {
		b.Fatal(err)
	}
	v2ProtoPayload, err := zipkin_proto3.SpanSerializer{}.Serialize(benchV2())
	if err != nil {
		b.Fatal(err)
	}
	v1JSONPayload, err := json.Marshal(benchV1())
	if err != nil {
		b.Fatal(err)
	}
	v1ThriftPayload, err := writeV1Thrift(benchThrift())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		payload []byte
		convert convertFunc
	}{
		{"v2_json", v2JSONPayload, v2JSON},
		{"v2_proto", v2ProtoPayload, v2Proto},
		{"v1_json", v1JSONPayload, v1JSON},
		{"v1_thrift", v1ThriftPayload, v1Thrift},
	} {
		b.Run(c.name, func(b *testing.B) { benchConvert(b, c.payload, c.convert, Options{}) })
		b.Run(c.name+"/del_message", func(b *testing.B) { benchConvert(b, c.payload, c.convert, Options{DelMessage: true}) })
	}
}
