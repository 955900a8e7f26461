package ddwire

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tinylib/msgp/msgp"
)

// checkTraces fails unless the hand-written decoder agrees with the generated one: equal
// traces, or both an error. (Their texts may differ where the generated code wraps what
// Meta.UnmarshalMsg returns; the string-sharing decoder's texts are held to those of the
// old generated map code in checkMsgpackAgainstMaps.)
func checkTraces(t *testing.T, body []byte) {
	t.Helper()
	if validate(body) != nil {
		// DecodeTraces reports the validation error (checkMsgpackAgainstMaps); the
		// decoder must fail too, or have skipped what it did not read.
		d := strDecoder{body: string(body)}
		if _, _, err := d.traces(body); err == nil && !d.skipped {
			t.Fatal("the decoder accepted a body that does not validate")
		}
		return
	}
	var want Traces
	_, wantErr := want.UnmarshalMsg(body)
	d := strDecoder{body: string(body)}
	got, _, err := d.traces(body)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("error %v, generated decoder error %v", err, wantErr)
	}
	// An empty array may come back as nil from one decoder and as an empty slice from the
	// other: the same value to every consumer, so they compare equal.
	if err == nil {
		if diff := cmp.Diff(want, got, cmpKV...); diff != "" {
			t.Fatalf("string-sharing decoder differs from the generated one (-generated +ours):\n%s", diff)
		}
	}
}

func traceSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"errors_404.v04.msgpack", "customer_tags.v04.msgpack", "numeric_variants.v04.msgpack", "priorities.v04.msgpack", "web_sql.v04.msgpack"} {
		b, err := os.ReadFile(filepath.Join("..", "translator", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	span := func(kv ...any) []byte {
		b := msgp.AppendMapHeader(nil, uint32(len(kv)/2))
		for i := 0; i < len(kv); i += 2 {
			b = msgp.AppendString(b, kv[i].(string))
			var err error
			if b, err = msgp.AppendIntf(b, kv[i+1]); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	traces := func(spans ...[]byte) []byte {
		b := msgp.AppendArrayHeader(nil, 1)
		b = msgp.AppendArrayHeader(b, uint32(len(spans)))
		for _, s := range spans {
			b = append(b, s...)
		}
		return b
	}
	full := span("service", "svc", "name", []byte("bin name"), "resource", nil, "trace_id", int64(-5), "span_id", uint64(7),
		"parent_id", 1.5, "start", uint32(9), "duration", float32(2), "error", int8(1), "type", "web", "unknown", []any{1, "x"},
		"meta", map[string]any{"a": "1", "b": nil, "c": []byte("raw")}, "metrics", map[string]any{"m": 1, "f": 0.5, "n": nil})
	binKey := msgp.AppendBytes(msgp.AppendMapHeader(nil, 1), []byte("service"))
	binKey = msgp.AppendString(binKey, "via bin key")
	return append(seeds,
		traces(full), traces(full, []byte{0xc0}, span()),
		traces(span("meta", map[string]any{"a": "1"}, "meta", map[string]any{"b": "2"})), // a repeated map replaces
		traces(span("meta", map[string]any{"a": "1"}, "meta", nil, "metrics", nil)),
		traces(span("service", 5)), traces(span("trace_id", "x")), traces(span("meta", map[string]any{"a": 1})),
		traces(binKey),
		append(msgp.AppendArrayHeader(nil, 1), msgp.AppendMapHeader(nil, 0)...), // a trace that is not an array
		msgp.AppendString(nil, "not an array"),
	)
}

func TestStrDecoderMatchesGenerated(t *testing.T) {
	for _, seed := range traceSeeds(t) {
		checkTraces(t, seed)
		for n := range min(len(seed), 400) {
			checkTraces(t, seed[:n])
		}
	}
}

// FuzzStrDecoderMatchesGenerated also holds both against the map model (diff_test.go).
func FuzzStrDecoderMatchesGenerated(f *testing.F) {
	for _, seed := range append(append(traceSeeds(f), repeatedKeys()), badValues()...) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkTraces(t, body)
		checkMsgpackAgainstMaps(t, body)
	})
}
