package translator

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	"github.com/stretchr/testify/require"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/thriftwire/thriftwiretest"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// checkV1ThriftLikeLibrary: data decodes as through apache/thrift's own protocol (an error
// where it errs, the same spans otherwise, nil and empty apart), each span's hand-built
// message is json.Marshal's, and the spans convert into a publishable batch.
func checkV1ThriftLikeLibrary(t *testing.T, data []byte) {
	t.Helper()
	want, werr := decodeV1Thrift(thriftwiretest.Library(bytes.Clone(data), false))
	got, gerr := DecodeV1Thrift(bytes.Clone(data))
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("library error %v, ours %v", werr, gerr)
	}
	if werr != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("spans differ (-library +ours):\n%s", diff)
	}
	for i, s := range got {
		j, err := json.Marshal(s)
		require.NoError(t, err)
		if m := appendV1ThriftMessage(nil, s); !bytes.Equal(j, m) {
			t.Fatalf("span[%d] message:\njson: %s\nours: %s", i, j, m)
		}
	}
	for _, opt := range []Options{{}, {DelMessage: true}} {
		_, err := spanmodel.Marshal(&spanv1.TraceBatch{Source: Source, Traces: V1ThriftToTraces(got, opt)})
		require.NoError(t, err)
	}
}

// edgeThriftSpans are the message's corner cases: nil and empty lists, nil entries, nil
// and empty binaries, unknown annotation types, escaping, invalid UTF-8.
func edgeThriftSpans() []*zipkincore.Span {
	ep := &zipkincore.Endpoint{Ipv4: -1, Port: math.MinInt16, ServiceName: "<svc>&\u2028", Ipv6: []byte{0xfe, 0x80}}
	return []*zipkincore.Span{
		{TraceID: math.MinInt64, ID: -1, Name: "bad\xff\"utf8\"\n", Debug: true,
			Annotations: []*zipkincore.Annotation{nil, {Value: "cs", Host: ep}, {Timestamp: -5, Value: "", Host: &zipkincore.Endpoint{}}},
			BinaryAnnotations: []*zipkincore.BinaryAnnotation{
				nil,
				{Key: "nil", Value: nil, AnnotationType: zipkincore.AnnotationType_BYTES},
				{Key: "empty", Value: []byte{}, AnnotationType: zipkincore.AnnotationType_STRING},
				{Key: "unset", Value: []byte("x"), AnnotationType: zipkincore.AnnotationType(42), Host: ep},
				{Key: "bool", Value: []byte{0}, AnnotationType: zipkincore.AnnotationType_BOOL},
				{Key: "double", Value: be(8, math.Float64bits(1e300)), AnnotationType: zipkincore.AnnotationType_DOUBLE},
				{Key: "bad\xfe", Value: []byte("v\xff"), AnnotationType: zipkincore.AnnotationType_STRING},
			}},
		{TraceID: 1, ID: 2, Annotations: []*zipkincore.Annotation{}, BinaryAnnotations: []*zipkincore.BinaryAnnotation{},
			ParentID: ptr(int64(0)), Timestamp: ptr(int64(0)), Duration: ptr(int64(-1)), TraceIDHigh: ptr(int64(0))},
		{TraceID: 3, ID: 4},
	}
}

// TestV1ThriftLikeLibrary runs the differential check over the golden, bench and edge
// payloads and every cut of them, and checks the edge spans' messages directly (the
// decoder never hands over nil entries).
func TestV1ThriftLikeLibrary(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "v1_multi_service.thrift"))
	require.NoError(t, err)
	bench, err := writeV1Thrift(benchThrift())
	require.NoError(t, err)
	for _, s := range edgeThriftSpans() {
		j, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(j), string(appendV1ThriftMessage(nil, s)))
	}
	edge, err := writeV1Thrift(edgeThriftSpans()[1:])
	require.NoError(t, err)
	for _, data := range [][]byte{golden, bench, edge} {
		for n := 0; n <= len(data); n += 1 + len(data)/500 {
			checkV1ThriftLikeLibrary(t, data[:n])
		}
		checkV1ThriftLikeLibrary(t, data)
	}
}

// TestV1ThriftToTracesNilSpan: a nil span is skipped, not a panic.
func TestV1ThriftToTracesNilSpan(t *testing.T) {
	traces := V1ThriftToTraces([]*zipkincore.Span{nil, {TraceID: 1, ID: 2, Name: "x"}}, Options{})
	require.Len(t, traces, 1)
	require.Len(t, traces[0].Spans, 1)
	require.Equal(t, `{"trace_id":1,"name":"x","id":2,"annotations":null,"binary_annotations":null,"debug":false}`, traces[0].Spans[0].Message)
}

func FuzzV1ThriftLikeLibrary(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "v1_multi_service.thrift"))
	if err != nil {
		f.Fatal(err)
	}
	edge, err := writeV1Thrift(edgeThriftSpans()[1:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(golden[:len(golden)/2])
	f.Add(edge)
	f.Fuzz(checkV1ThriftLikeLibrary)
}
