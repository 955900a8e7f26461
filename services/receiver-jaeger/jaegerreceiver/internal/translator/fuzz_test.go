package translator

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// fuzzDecoder seeds f with a checked-in payload (and the corpus under testdata/fuzz/<name>)
// and checks that any input either fails to decode or converts into a batch the bus can
// carry.
func fuzzDecoder(f *testing.F, decode func([]byte) (*jaeger.Batch, error), seed string) {
	b, err := os.ReadFile(filepath.Join("testdata", seed))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	opts := Options{Tags: map[string]string{"k": "v"}, IgnoreTags: spanmodel.TagMatcher{regexp.MustCompile(`^x`)}}
	f.Fuzz(func(t *testing.T, data []byte) {
		batch, err := decode(data)
		if err != nil {
			return
		}
		if _, err := spanmodel.Marshal(&spanv1.TraceBatch{Source: Source, Traces: ToTraces(batch, opts)}); err != nil {
			t.Fatalf("converted batch does not marshal: %v", err)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) { fuzzDecoder(f, DecodeBatch, "shop.batch.thrift") }

func FuzzDecodeAgentCompact(f *testing.F) {
	fuzzDecoder(f, agentDecoder(true), "shop.compact.udp")
}

func FuzzDecodeAgentBinary(f *testing.F) {
	fuzzDecoder(f, agentDecoder(false), "shop.binary.udp")
}
