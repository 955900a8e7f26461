package translator

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/spanmodel/spanmodeltest"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

var update = flag.Bool("update", false, "rewrite the binary fixtures from their builders and the golden files from the translator")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type convertFunc func([]byte, Options) ([]*spanv1.DatakitTrace, error)

func v1JSON(b []byte, o Options) ([]*spanv1.DatakitTrace, error) { return ParseV1JSON(b, o) }

func v1Thrift(b []byte, o Options) ([]*spanv1.DatakitTrace, error) {
	s, err := DecodeV1Thrift(b)
	if err != nil {
		return nil, err
	}
	return V1ThriftToTraces(s, o), nil
}

func v2JSON(b []byte, o Options) ([]*spanv1.DatakitTrace, error) { return V2JSONToTraces(b, o) }

func v2Proto(b []byte, o Options) ([]*spanv1.DatakitTrace, error) { return V2ProtoToTraces(b, o) }

// v2ProtoViaModel is the path V2ProtoToTraces shortcuts: decode to model.SpanModels, then
// convert those.
func v2ProtoViaModel(b []byte, o Options) ([]*spanv1.DatakitTrace, error) {
	s, err := DecodeV2Proto(b)
	if err != nil {
		return nil, err
	}
	return V2ToTraces(s, o), nil
}

type goldenCase struct {
	name    string // testdata/<name> is the payload, testdata/<name>.golden.json the batch
	build   func(t *testing.T) []byte
	convert convertFunc
	opts    Options
}

func withOptions() Options {
	return Options{
		Tags:       map[string]string{"cluster": "eu-1", "component": "from-input"},
		IgnoreTags: spanmodel.TagMatcher{regexp.MustCompile(`^http\.`), regexp.MustCompile(`statement$`)},
	}
}

var goldenCases = []goldenCase{
	{name: "v2_multi_service.json", convert: v2JSON},
	{name: "v2_multi_service.pb", build: v2ProtoFromJSON, convert: v2Proto},
	{name: "v2_options.json", build: copyOf("v2_multi_service.json"), convert: v2JSON, opts: withOptions()},
	{name: "v2_del_message.pb", build: v2ProtoFromJSON, convert: v2Proto, opts: Options{DelMessage: true}},
	{name: "v1_multi_service.json", convert: v1JSON},
	{name: "v1_options.json", build: copyOf("v1_multi_service.json"), convert: v1JSON, opts: withOptions()},
	{name: "v1_multi_service.thrift", build: v1ThriftPayload, convert: v1Thrift},
}

func copyOf(name string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return b
	}
}

// v2ProtoFromJSON encodes the v2 JSON fixture with zipkin-go's own proto serializer, as
// its HTTP reporter would send it.
func v2ProtoFromJSON(t *testing.T) []byte {
	spans, err := DecodeV2JSON(copyOf("v2_multi_service.json")(t))
	require.NoError(t, err)
	b, err := zipkin_proto3.SpanSerializer{}.Serialize(spans)
	require.NoError(t, err)
	// Re-encode deterministically (sorted tag maps) so the fixture is stable.
	var list zipkin_proto3.ListOfSpans
	require.NoError(t, proto.Unmarshal(b, &list))
	b, err = proto.MarshalOptions{Deterministic: true}.Marshal(&list)
	require.NoError(t, err)
	return b
}

func ptr[T any](v T) *T { return &v }

func be(n int, v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b[8-n:]
}

func v1ThriftSpans() []*zipkincore.Span {
	front := &zipkincore.Endpoint{Ipv4: 0x7f000001, Port: 8080, ServiceName: "frontend"}
	back := &zipkincore.Endpoint{ServiceName: "backend"}
	return []*zipkincore.Span{
		{
			TraceID: 0x5af7183fb1d4cf5f, TraceIDHigh: ptr(int64(0x0af7183fb1d4cf5f)), ID: 0x6b221d5bc9e6496c, Name: "get",
			Timestamp: ptr(int64(1700000000000000)), Duration: ptr(int64(8000)),
			Annotations: []*zipkincore.Annotation{
				{Timestamp: 1700000000000000, Value: "sr", Host: front},
				{Timestamp: 1700000000008000, Value: "ss", Host: front},
			},
			BinaryAnnotations: []*zipkincore.BinaryAnnotation{
				{Key: "path.http", Value: []byte("/orders"), AnnotationType: zipkincore.AnnotationType_STRING},
				{Key: "http.status_code", Value: be(2, 200), AnnotationType: zipkincore.AnnotationType_I16},
				{Key: "bytes", Value: be(4, 1024), AnnotationType: zipkincore.AnnotationType_I32},
				{Key: "user.id", Value: be(8, 1<<40), AnnotationType: zipkincore.AnnotationType_I64},
				{Key: "ratio", Value: be(8, math.Float64bits(0.25)), AnnotationType: zipkincore.AnnotationType_DOUBLE},
				{Key: "cached", Value: []byte{1}, AnnotationType: zipkincore.AnnotationType_BOOL},
				{Key: "short.i64", Value: []byte{1, 2}, AnnotationType: zipkincore.AnnotationType_I64},
				{Key: "project", Value: []byte("shop"), AnnotationType: zipkincore.AnnotationType_STRING},
			},
		},
		{
			TraceID: 0x5af7183fb1d4cf5f, TraceIDHigh: ptr(int64(0x0af7183fb1d4cf5f)), ID: 0x352bff9a74ca9ad2, ParentID: ptr(int64(0x6b221d5bc9e6496c)), Name: "query",
			Annotations: []*zipkincore.Annotation{
				{Timestamp: 1700000000001000, Value: "cs", Host: back},
				{Timestamp: 1700000000004500, Value: "cr", Host: back},
			},
			BinaryAnnotations: []*zipkincore.BinaryAnnotation{
				{Key: "error", Value: []byte("reset"), AnnotationType: zipkincore.AnnotationType_STRING},
				{Key: "raw", Value: []byte{0xff, 'o', 'k'}, AnnotationType: zipkincore.AnnotationType_BYTES},
			},
		},
		{TraceID: -1, ID: 7, Name: "no-host", Timestamp: ptr(int64(1700000002000000)), Duration: ptr(int64(10))},
	}
}

func writeV1Thrift(spans []*zipkincore.Span) ([]byte, error) {
	ctx := context.Background()
	buf := thrift.NewTMemoryBuffer()
	p := thrift.NewTBinaryProtocolConf(buf, nil)
	if err := p.WriteListBegin(ctx, thrift.STRUCT, len(spans)); err != nil {
		return nil, err
	}
	for _, s := range spans {
		if err := s.Write(ctx, p); err != nil {
			return nil, err
		}
	}
	if err := p.WriteListEnd(ctx); err != nil {
		return nil, err
	}
	return buf.Bytes(), p.Flush(ctx)
}

func v1ThriftPayload(t *testing.T) []byte {
	b, err := writeV1Thrift(v1ThriftSpans())
	require.NoError(t, err)
	return b
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.name)
			if *update && tc.build != nil {
				require.NoError(t, os.WriteFile(path, tc.build(t), 0o644))
			}
			payload, err := os.ReadFile(path)
			require.NoError(t, err)
			traces, err := tc.convert(payload, tc.opts)
			require.NoError(t, err)
			got := &spanv1.TraceBatch{Source: Source, Input: Source, Traces: traces}
			_, err = spanmodel.Marshal(got)
			require.NoError(t, err, "the batch must be publishable")

			spanmodeltest.CompareGolden(t, path+".golden.json", got, *update)
		})
	}
}

// TestBinaryFixturesMatchBuilders keeps the checked-in binary payloads in step with the code
// that describes them.
func TestBinaryFixturesMatchBuilders(t *testing.T) {
	for _, tc := range goldenCases {
		if tc.build == nil || *update {
			continue
		}
		got, err := os.ReadFile(filepath.Join("testdata", tc.name))
		require.NoError(t, err)
		require.True(t, bytes.Equal(tc.build(t), got), "%s is stale: run go test -update", tc.name)
	}
}
