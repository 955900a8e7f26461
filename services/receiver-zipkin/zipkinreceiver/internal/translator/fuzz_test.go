package translator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// fuzzDecoder seeds f with the checked-in payloads (and the corpus under
// testdata/fuzz/<name>) and checks that any input either fails to decode or converts into
// a batch the bus can carry.
func fuzzDecoder(f *testing.F, convert convertFunc, seeds ...string) {
	for _, s := range seeds {
		b, err := os.ReadFile(filepath.Join("testdata", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	opts := withOptions()
	f.Fuzz(func(t *testing.T, data []byte) {
		traces, err := convert(data, opts)
		if err != nil {
			return
		}
		if _, err := spanmodel.Marshal(&spanv1.TraceBatch{Source: Source, Traces: traces}); err != nil {
			t.Fatalf("converted batch does not marshal: %v", err)
		}
	})
}

func FuzzDecodeV1JSON(f *testing.F) {
	f.Add([]byte(`[{"traceId":"1","id":"2","parentId":0,"binaryAnnotations":[{"key":"a.b","value":{"x":1}}]}]`))
	fuzzDecoder(f, v1JSON, "v1_multi_service.json")
}

func FuzzDecodeV1Thrift(f *testing.F) { fuzzDecoder(f, v1Thrift, "v1_multi_service.thrift") }

func FuzzDecodeV2JSON(f *testing.F) {
	f.Add([]byte(`[{"traceId":"ABCDEF0123456789ABCDEF0123456789","id":"FF","timestamp":1,"duration":1}]`))
	fuzzDecoder(f, v2JSON, "v2_multi_service.json")
}

func FuzzDecodeV2Proto(f *testing.F) { fuzzDecoder(f, v2Proto, "v2_multi_service.pb") }
