package translator

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver/cattest"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver/internal/nt1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
)

var update = flag.Bool("update", false, "rewrite the golden files (and the .nt1 inputs from cattest)")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	caseNames = []string{"url_tree", "child_tree", "heartbeat"}
	opts      = Options{Tags: map[string]string{"env": "test", "host": "must-not-override"}, NowUnixNano: 42}
)

type golden struct {
	Spans  json.RawMessage `json:"spans"`
	Points json.RawMessage `json:"points"`
}

func convert(t testing.TB, body []byte) (*spanv1.DatakitTrace, *pointpb.PBPoints) {
	t.Helper()
	tree, err := nt1.Decode(body)
	require.NoError(t, err)
	span, err := Span(tree, opts)
	require.NoError(t, err)
	tr := &spanv1.DatakitTrace{}
	if span != nil {
		tr.Spans = append(tr.Spans, span)
	}
	pts, bad := Heartbeats(tree, opts)
	require.Zero(t, bad)
	return tr, &pointpb.PBPoints{Arr: pts}
}

func TestGolden(t *testing.T) {
	if *update {
		for i, tr := range cattest.SampleTrees(time.UnixMilli(1700000000123)) {
			require.NoError(t, os.WriteFile(filepath.Join("testdata", caseNames[i]+".nt1"), cattest.Encode(tr), 0o644))
		}
	}
	files, err := filepath.Glob("testdata/*.nt1")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".nt1")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			spans, points := convert(t, body)
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				s, err := protojson.Marshal(spans)
				require.NoError(t, err)
				p, err := protojson.Marshal(points)
				require.NoError(t, err)
				out, err := json.MarshalIndent(golden{Spans: s, Points: p}, "", "  ")
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(path, append(out, '\n'), 0o644))
			}
			raw, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update")
			var g golden
			require.NoError(t, json.Unmarshal(raw, &g))
			wantSpans, wantPoints := &spanv1.DatakitTrace{}, &pointpb.PBPoints{}
			require.NoError(t, protojson.Unmarshal(g.Spans, wantSpans))
			require.NoError(t, protojson.Unmarshal(g.Points, wantPoints))
			if diff := cmp.Diff(wantSpans, spans, protocmp.Transform()); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantPoints, points, protocmp.Transform()); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpanRules(t *testing.T) {
	tests := []struct {
		name string
		tree nt1.Tree
		want func(t *testing.T, s *spanv1.DatakitSpan, err error)
	}{
		{"no transaction", nt1.Tree{MessageID: "m"}, func(t *testing.T, s *spanv1.DatakitSpan, err error) {
			assert.NoError(t, err)
			assert.Nil(t, s)
		}},
		{"reboot ignored", nt1.Tree{MessageID: "m", Root: &nt1.Transaction{Type: "System", Name: "Reboot"}}, func(t *testing.T, s *spanv1.DatakitSpan, err error) {
			assert.NoError(t, err)
			assert.Nil(t, s)
		}},
		{"no message id", nt1.Tree{Root: &nt1.Transaction{Name: "x"}}, func(t *testing.T, _ *spanv1.DatakitSpan, err error) {
			assert.ErrorIs(t, err, ErrNoMessageID)
		}},
		{"upload metric", nt1.Tree{MessageID: "m", Root: &nt1.Transaction{Type: "System", Name: "UploadMetric-42", Status: "0"}}, func(t *testing.T, s *spanv1.DatakitSpan, err error) {
			require.NoError(t, err)
			assert.Equal(t, "UploadMetric", s.Resource)
			assert.Equal(t, "m", s.TraceId, "message id when no root id")
			assert.Equal(t, "entry", s.SpanType)
			assert.Equal(t, "ok", s.Status)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Span(&tt.tree, Options{})
			tt.want(t, s, err)
		})
	}
}

func TestBadHeartbeatCounted(t *testing.T) {
	tree := &nt1.Tree{Heartbeats: []nt1.Message{{Tag: 'H', Data: "not xml"}, {Tag: 'H', Data: `<status timestamp="bad"><thread count="1"/></status>`}}}
	pts, bad := Heartbeats(tree, Options{NowUnixNano: 7})
	assert.Equal(t, 1, bad)
	require.Len(t, pts, 1)
	assert.Equal(t, int64(7), pts[0].Time, "unreadable timestamp: receive time")
}

// BenchmarkDecodeConvert is the per-frame work: NT1 decode of a tree, then its span.
func BenchmarkDecodeConvert(b *testing.B) {
	body := cattest.Encode(cattest.SampleTrees(time.UnixMilli(1700000000123))[0])
	b.ReportAllocs()
	for b.Loop() {
		tree, err := nt1.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Span(tree, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N), "µs/span")
}

// FuzzSpan runs arbitrary bodies through decode and both conversions.
func FuzzSpan(f *testing.F) {
	for _, tr := range cattest.SampleTrees(time.UnixMilli(1700000000123)) {
		f.Add(cattest.Encode(tr))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tree, err := nt1.Decode(body)
		if err != nil {
			return
		}
		if _, err := Span(tree, opts); err != nil && !strings.Contains(err.Error(), "message id") {
			t.Fatal(fmt.Errorf("unexpected error: %w", err))
		}
		_, _ = Heartbeats(tree, opts)
	})
}
