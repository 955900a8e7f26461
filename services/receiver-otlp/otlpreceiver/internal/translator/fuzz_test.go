package translator

import (
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// fuzzTranslators cover the option combinations that take different code paths.
func fuzzTranslators(t testing.TB) []*Translator {
	var out []*Translator
	for _, o := range []Options{
		defaultOptions(),
		{CompatibleDDTrace: true, CustomerTagsAll: true},
		{CompatibleZhaoShang: true, CustomerTags: []string{"reg:.", "x"}, Tags: map[string]string{"service": "s", "k": "v"}},
	} {
		tr, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tr)
	}
	return out
}

func addSeeds(f *testing.F, proto bool) {
	inputs, err := filepath.Glob("testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		if filepath.Ext(in[:len(in)-len(".json")]) == ".golden" {
			continue
		}
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		if !proto {
			f.Add(data)
			continue
		}
		td, err := DecodeJSON(data)
		if err != nil {
			f.Fatal(err)
		}
		pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pb)
	}
	pb, err := ptraceotlp.NewExportRequestFromTraces(benchTraces(3)).MarshalProto()
	if err != nil {
		f.Fatal(err)
	}
	if proto {
		f.Add(pb)
		// Alike spans: the maps cloned from a neighbour.
		r := rand.New(rand.NewPCG(7, 8))
		for i := range 8 {
			gen := alikeTraces
			if i%2 == 1 {
				gen = idTraces
			}
			pb, err := ptraceotlp.NewExportRequestFromTraces(gen(r)).MarshalProto()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(pb)
		}
	}
}

func FuzzDecodeProtobuf(f *testing.F) {
	addSeeds(f, true)
	trs := fuzzTranslators(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := DecodeProtobuf(data)
		if err != nil {
			return
		}
		for _, tr := range trs {
			if _, err := spanmodel.Marshal(tr.ToTraceBatch(td, Meta{RemoteIP: "127.0.0.1"})); err != nil {
				t.Fatalf("batch does not marshal: %v", err)
			}
			checkNeighbours(t, tr, td, Meta{RemoteIP: "127.0.0.1"})
			checkSpanTypes(t, tr, td)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	addSeeds(f, false)
	trs := fuzzTranslators(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := DecodeJSON(data)
		if err != nil {
			return
		}
		for _, tr := range trs {
			if _, err := spanmodel.Marshal(tr.ToTraceBatch(td, Meta{})); err != nil {
				t.Fatalf("batch does not marshal: %v", err)
			}
		}
	})
}

func FuzzAppendHex(f *testing.F) {
	f.Add([]byte{0x00, 0x9a, 0xaf, 0xf0, 0x12, 0x34, 0x56, 0x78, 0xff})
	f.Fuzz(func(t *testing.T, id []byte) {
		if got, want := string(appendHex(nil, id)), hex.EncodeToString(id); got != want {
			t.Fatalf("appendHex(%x) = %q, want %q", id, got, want)
		}
	})
}
