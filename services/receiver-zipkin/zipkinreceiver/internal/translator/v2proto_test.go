package translator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// checkListOfSpans fails unless unmarshalListOfSpans agrees with proto.Unmarshal: the same
// spans, or both an error.
func checkListOfSpans(t *testing.T, data []byte) {
	t.Helper()
	var want zipkin_proto3.ListOfSpans
	wantErr := proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, &want)
	spans, err := unmarshalListOfSpans(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("error %v, proto.Unmarshal error %v", err, wantErr)
	}
	if err != nil {
		return
	}
	if got := (&zipkin_proto3.ListOfSpans{Spans: spans}); !proto.Equal(got, &want) {
		t.Fatalf("decoded\n%v\nproto.Unmarshal\n%v", got, &want)
	}
}

// protoSeeds are edge cases of the wire format the hand-written decoder must treat as
// protobuf-go does.
func protoSeeds(t testing.TB) [][]byte {
	payload, err := zipkin_proto3.SpanSerializer{}.Serialize(benchV2())
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "v2_multi_service.pb"))
	if err != nil {
		t.Fatal(err)
	}
	span := func(fields ...[]byte) []byte {
		var m []byte
		for _, f := range fields {
			m = append(m, f...)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), m)
	}
	str := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), s)
	}
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	entry := func(fields ...[]byte) []byte {
		var m []byte
		for _, f := range fields {
			m = append(m, f...)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 11, protowire.BytesType), m)
	}
	ids := append(str(1, "0123456789abcdef"), str(3, "01234567")...)
	return [][]byte{
		payload, golden, nil, {0x0a, 0xff}, {0x0a, 0x00}, {0x00}, {0x08, 0x01},
		span(ids, str(5, "a"), str(5, "b")),                                     // last scalar wins
		span(ids, str(5, "bad \xff")),                                           // invalid UTF-8
		span(ids, varint(5, 3), varint(1, 9)),                                   // wrong wire types: unknown
		span(ids, entry(str(1, "k"), str(2, "v")), entry(str(2, "only value"))), // map entries
		span(ids, entry(str(1, "k"), str(2, "v1")), entry(str(1, "k"), str(2, "v2")), entry(varint(1, 1))),
		span(ids, entry(str(1, "\xfe"))),
		span(ids, str(8, string(str(1, "svc"))), str(8, string(varint(4, 99)))), // endpoint merge
		span(ids, str(9, string(append(str(2, "\x01\x02\x03\x04"), str(3, "")...)))),
		span(ids, str(10, string(str(2, "ann"))), str(10, ""), varint(4, 1<<40), varint(12, 2), varint(13, 1)),
		span(ids, protowire.AppendFixed64(protowire.AppendTag(nil, 6, protowire.Fixed64Type), 1e15), varint(7, 10)),
		span(ids, protowire.AppendTag(nil, 20, protowire.StartGroupType), protowire.AppendTag(nil, 20, protowire.EndGroupType)),
		span(ids, varint(7, 1)[:2]),                           // truncated varint
		append(span(ids), 0xf8, 0xff, 0xff, 0xff, 0x7f, 0x00), // field number above the maximum
	}
}

// TestUnmarshalListOfSpansMatchesProtobuf also holds V2ProtoToTraces to the model path.
func TestUnmarshalListOfSpansMatchesProtobuf(t *testing.T) {
	check := func(data []byte) {
		checkListOfSpans(t, data)
		checkV2ProtoShortcut(t, data)
	}
	for _, seed := range protoSeeds(t) {
		check(seed)
		for n := range min(len(seed), 600) {
			check(seed[:n]) // truncations
		}
	}
}

func FuzzUnmarshalListOfSpans(f *testing.F) {
	for _, seed := range protoSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(checkListOfSpans)
}

// checkV2ProtoShortcut fails unless V2ProtoToTraces gives what decoding to model.SpanModels
// and converting those gives: the same traces, or both an error.
func checkV2ProtoShortcut(t *testing.T, data []byte) {
	t.Helper()
	for _, opts := range []Options{{}, {DelMessage: true}, withOptions()} {
		want, wantErr := v2ProtoViaModel(data, opts)
		got, err := V2ProtoToTraces(data, opts)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("error %v, via the model %v", err, wantErr)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("V2ProtoToTraces differs from V2ToTraces(DecodeV2Proto) (-want +got):\n%s", diff)
		}
	}
}

func FuzzV2ProtoToTracesMatchesModelPath(f *testing.F) {
	for _, seed := range protoSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(checkV2ProtoShortcut)
}
