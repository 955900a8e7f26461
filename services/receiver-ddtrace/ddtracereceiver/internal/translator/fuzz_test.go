package translator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

// Every decoder is fuzzed together with the conversion: neither may panic, whatever the
// bytes. Seeds are the golden payloads plus testdata/fuzz/<target>/.

func addSeeds(f *testing.F, suffix string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*"+suffix))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func fuzzConvert(t *testing.T, traces ddwire.Traces) {
	tr, err := New(Options{Trace128BitID: true, CustomerTags: []string{"reg:.*"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, trace := range tr.Convert(traces, "127.0.0.1") {
		if len(trace.Spans) == 0 {
			t.Fatal("empty trace in output")
		}
	}
}

func FuzzDecodeV04(f *testing.F) {
	addSeeds(f, ".v04.msgpack")
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := ddwire.DecodeTraces(body, ddwire.MsgPack)
		if err != nil {
			return
		}
		fuzzConvert(t, ts)
	})
}

func FuzzDecodeV05(f *testing.F) {
	addSeeds(f, ".v05.msgpack")
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := ddwire.DecodeV05(body)
		if err != nil {
			return
		}
		fuzzConvert(t, ts)
	})
}

func FuzzDecodeV07(f *testing.F) {
	addSeeds(f, ".v07.msgpack")
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := ddwire.DecodeV07(body)
		if err != nil {
			return
		}
		fuzzConvert(t, ts)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	addSeeds(f, ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		if ts, err := ddwire.DecodeTraces(body, ddwire.JSON); err == nil {
			fuzzConvert(t, ts)
		}
		if ts, err := ddwire.DecodeSpans(body, ddwire.JSON); err == nil {
			fuzzConvert(t, ts)
		}
	})
}
