package translator

import (
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/pinpoint-apm/pinpoint-go-agent/protobuf"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// wireCases are the golden inputs as protobuf bytes, as the span stream carries them.
func wireCases(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(tb, err)
	out := map[string][]byte{}
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		_, msg := loadCase(tb, f)
		b, err := proto.Marshal(protoadapt.MessageV2Of(msg))
		require.NoError(tb, err)
		out[f] = b
	}
	return out
}

// FuzzConvert decodes arbitrary bytes as a PSpanMessage and converts it: it must never
// panic, whatever ids, depths or annotations the message carries.
func FuzzConvert(f *testing.F) {
	for _, b := range wireCases(f) {
		f.Add(b)
	}
	res := mapResolver{{Kind: KindAPI, ID: 1}: "api", {Kind: KindSQL, ID: 1}: "select 1", {Kind: KindString, ID: 1}: "error"}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := &v1.PSpanMessage{}
		if err := proto.Unmarshal(data, protoadapt.MessageV2Of(msg)); err != nil {
			return
		}
		r, err := Convert(msg, Agent{AgentID: "a", ApplicationName: "app"}, res, Options{})
		if err == nil && msg.GetSpan() != nil && len(r.Spans) != 1+len(msg.GetSpan().GetSpanEvent()) {
			t.Fatalf("%d spans for a span with %d events", len(r.Spans), len(msg.GetSpan().GetSpanEvent()))
		}
		_ = Refs(msg)
	})
}

// BenchmarkDecodeConvert is the per-message work of the span stream: protobuf decode, then
// conversion of the span and its events.
func BenchmarkDecodeConvert(b *testing.B) {
	tc, msg := loadCase(b, "testdata/span_events.json")
	data, err := proto.Marshal(protoadapt.MessageV2Of(msg))
	require.NoError(b, err)
	res := tc.resolver(b)
	nSpans := 1 + len(msg.GetSpan().GetSpanEvent())
	for _, delMessage := range []bool{false, true} {
		name := "message"
		if delMessage {
			name = "del_message"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m := &v1.PSpanMessage{}
				if err := proto.Unmarshal(data, protoadapt.MessageV2Of(m)); err != nil {
					b.Fatal(err)
				}
				if _, err := Convert(m, tc.Agent, res, Options{DelMessage: delMessage}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(nSpans*b.N)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(nSpans*b.N), "µs/span")
		})
	}
}
