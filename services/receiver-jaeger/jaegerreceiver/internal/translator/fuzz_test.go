package translator

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/thriftwire/thriftwiretest"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// libraryProtocol is apache/thrift's own protocol as the translator used it before
// libs/thriftwire: the reference the decoders are checked against.
var libraryProtocol = thriftwiretest.Library

// libraryDecoder is decode through apache/thrift's protocol.
func libraryDecoder(name string) func([]byte) (*jaeger.Batch, error) {
	switch name {
	case "batch":
		return func(b []byte) (*jaeger.Batch, error) { return decodeBatch(libraryProtocol(b, false)) }
	case "compact":
		return func(b []byte) (*jaeger.Batch, error) { return decodeAgent(libraryProtocol(b, true)) }
	}
	return func(b []byte) (*jaeger.Batch, error) { return decodeAgent(libraryProtocol(b, false)) }
}

// checkLikeLibrary: data decodes as through apache/thrift's protocol (an error where it
// errs, the same batch otherwise), and converts to the same traces.
func checkLikeLibrary(t *testing.T, data []byte, decode, library func([]byte) (*jaeger.Batch, error), opts Options) {
	t.Helper()
	want, werr := library(bytes.Clone(data))
	got, gerr := decode(bytes.Clone(data))
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("library error %v, ours %v", werr, gerr)
	}
	if werr != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" { // nil and empty apart: the message tells them apart
		t.Fatalf("batch differs (-library +ours):\n%s", diff)
	}
	traces := ToTraces(got, opts)
	if diff := cmp.Diff(ToTraces(want, opts), traces, protocmp.Transform()); diff != "" {
		t.Fatalf("traces differ (-library +ours):\n%s", diff)
	}
	checkSpanTypes(t, traces)
}

// checkSpanTypes: the span types ToTraces set from the numeric ids
// (spanmodel.AssignSpanTypesByID) are those AssignSpanTypes gives over the id strings.
func checkSpanTypes(t *testing.T, traces []*spanv1.DatakitTrace) {
	t.Helper()
	var spans, again []*spanv1.DatakitSpan
	for _, tr := range traces {
		for _, s := range tr.Spans {
			spans = append(spans, s)
			again = append(again, &spanv1.DatakitSpan{SpanId: s.SpanId, ParentId: s.ParentId})
		}
	}
	spanmodel.AssignSpanTypes(again, false)
	for i, s := range spans {
		if s.SpanType != again[i].SpanType {
			t.Fatalf("span %s (parent %s): span_type %q, AssignSpanTypes gives %q", s.SpanId, s.ParentId, s.SpanType, again[i].SpanType)
		}
	}
}

// fuzzDecoder seeds f with a checked-in payload (and the corpus under testdata/fuzz/<name>)
// and checks that any input decodes as through apache/thrift's protocol and either fails or
// converts into a batch the bus can carry.
func fuzzDecoder(f *testing.F, decode, library func([]byte) (*jaeger.Batch, error), seed string) {
	b, err := os.ReadFile(filepath.Join("testdata", seed))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	opts := Options{Tags: map[string]string{"k": "v"}, IgnoreTags: spanmodel.TagMatcher{regexp.MustCompile(`^x`)}}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLikeLibrary(t, data, decode, library, opts)
		batch, err := decode(data)
		if err != nil {
			return
		}
		if _, err := spanmodel.Marshal(&spanv1.TraceBatch{Source: Source, Traces: ToTraces(batch, opts)}); err != nil {
			t.Fatalf("converted batch does not marshal: %v", err)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	fuzzDecoder(f, DecodeBatch, libraryDecoder("batch"), "shop.batch.thrift")
}

func FuzzDecodeAgentCompact(f *testing.F) {
	fuzzDecoder(f, agentDecoder(true), libraryDecoder("compact"), "shop.compact.udp")
}

func FuzzDecodeAgentBinary(f *testing.F) {
	fuzzDecoder(f, agentDecoder(false), libraryDecoder("binary"), "shop.binary.udp")
}

// TestDecodeLikeLibrary runs the differential check over the golden payloads, the bench
// payloads, and every cut of them.
func TestDecodeLikeLibrary(t *testing.T) {
	opts := Options{Tags: map[string]string{"k": "v"}}
	for _, c := range []struct{ file, kind string }{{"shop.batch.thrift", "batch"}, {"shop.compact.udp", "compact"}, {"shop.binary.udp", "binary"}} {
		data, err := os.ReadFile(filepath.Join("testdata", c.file))
		require.NoError(t, err)
		decode := DecodeBatch
		if c.kind != "batch" {
			decode = agentDecoder(c.kind == "compact")
		}
		for n := 0; n <= len(data); n++ {
			checkLikeLibrary(t, data[:n], decode, libraryDecoder(c.kind), opts)
		}
		_, err = decode(data[:len(data)-1])
		require.ErrorIs(t, err, ErrTruncated, "%s cut by one byte", c.file)
	}
	bench, err := writeBatch(benchBatch())
	require.NoError(t, err)
	checkLikeLibrary(t, bench, DecodeBatch, libraryDecoder("batch"), opts)
	compact, err := writeAgent(benchBatch(), true)
	require.NoError(t, err)
	checkLikeLibrary(t, compact, agentDecoder(true), libraryDecoder("compact"), Options{})
}
