package translator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/testing/protocmp"

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
		if m := appendV1ThriftMessage(nil, s, nil); !bytes.Equal(j, m) {
			t.Fatalf("span[%d] message:\njson: %s\nours: %s", i, j, m)
		}
	}
	for _, opt := range []Options{{}, {DelMessage: true}, withOptions()} {
		traces := V1ThriftToTraces(got, opt)
		_, err := spanmodel.Marshal(&spanv1.TraceBatch{Source: Source, Traces: traces})
		require.NoError(t, err)
		if diff := cmp.Diff(v1ThriftToTracesOneByOne(got, opt), traces, protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("conversion differs from the span-by-span one (-want +got):\n%s", diff)
		}
	}
}

// v1ThriftToTracesOneByOne is what V1ThriftToTraces gives, each span converted on its own
// with its own strings and json.Marshal's message: the reference for its shared buffers,
// memos and hand-built message.
func v1ThriftToTracesOneByOne(spans []*zipkincore.Span, opt Options) []*spanv1.DatakitTrace {
	var out []*spanv1.DatakitSpan
	for _, s := range spans {
		if s == nil {
			continue
		}
		ds := &spanv1.DatakitSpan{}
		c := v1Span{
			traceHigh: uint64(s.GetTraceIDHigh()), traceLow: uint64(s.TraceID), id: uint64(s.ID), parent: uint64(s.GetParentID()),
			name: spanmodel.ValidString(s.Name), timestamp: s.GetTimestamp(), duration: s.GetDuration(), unknownService: UnknownServiceV1Thrift,
		}
		tb := spanmodel.GetTextBatch()
		v1IDs(tb, ds, &c)
		tb.Release()
		for _, a := range s.Annotations {
			if a != nil {
				c.annotations = append(c.annotations, v1Annotation{ts: a.Timestamp, service: hostService(a.Host)})
			}
		}
		for _, a := range s.BinaryAnnotations {
			if a != nil {
				c.binary = append(c.binary, v1Binary{key: spanmodel.ValidString(a.Key),
					value: spanmodel.ValidString(string(appendThriftValue(nil, a))), service: hostService(a.Host)})
			}
		}
		if !opt.DelMessage {
			ds.Message = marshal(s)
		}
		v1ToSpan(ds, &c, opt, &v1Keys{})
		out = append(out, ds)
	}
	return group(out)
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
		require.Equal(t, string(j), string(appendV1ThriftMessage(nil, s, nil)))
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

func TestAppendBase64MatchesEncoding(t *testing.T) {
	for n := range 40 {
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(i*97 + n*31)
		}
		require.Equal(t, base64.StdEncoding.EncodeToString(v), string(appendBase64(nil, v)), "%x", v)
		require.Equal(t, "x"+base64.StdEncoding.EncodeToString(v), string(appendBase64([]byte("x"), v)))
	}
}

// TestJSONPlainMatchesAppendJSONString: a key jsonPlain calls plain is written by
// appendJSONString quoted as it is (it takes only ASCII ones), and the memo's answer for a
// position follows the key.
func TestJSONPlainMatchesAppendJSONString(t *testing.T) {
	var m jsonPlain
	keys := []string{"tag.key0", "a<b", "x&", "plain", "", "caf\u00e9", "quo\"te", "back\\slash", "ctl\x01", "del\x7f", "bad\xff", "\u2028"}
	for round := range 3 {
		for j := range keys {
			key := keys[(j+round)%len(keys)]
			verbatim := string(appendJSONString(nil, key)) == `"`+key+`"`
			fresh := (*jsonPlain)(nil).is(j, key)
			require.Equal(t, fresh, m.is(j, key), "%q at %d", key, j)
			require.True(t, !fresh || verbatim, "%q", key)
			require.Equal(t, asciiOnly(key) && verbatim, fresh, "%q", key)
		}
	}
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
