package spanmodeltest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func batch() *spanv1.TraceBatch {
	return &spanv1.TraceBatch{Source: "ddtrace", Input: "ddtrace", Traces: []*spanv1.DatakitTrace{{Spans: []*spanv1.DatakitSpan{{
		TraceId: "1", SpanId: "2", Service: "web", Tags: map[string]string{"b": "2", "a": "1"},
		Fields: map[string]*spanv1.FieldValue{"n": {Kind: &spanv1.FieldValue_I{I: 7}}},
	}}}}}
}

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "case.golden.json")
	WriteGolden(t, path, batch())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(raw), "\n  ", "indented")
	assert.Equal(t, byte('\n'), raw[len(raw)-1])
	got := &spanv1.TraceBatch{}
	ReadGolden(t, path, got)
	assert.True(t, proto.Equal(batch(), got))
}

func TestCompareGoldenUpdateThenCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "case.golden.json")
	assert.True(t, CompareGolden(t, path, batch(), true), "update writes what it compares")
	assert.True(t, CompareGolden(t, path, batch(), false))
	// -update is the only writer: a compare leaves the file alone.
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	changed := batch()
	changed.Input = "ddtrace#1"
	_, err = diffGolden(path, changed)
	require.NoError(t, err)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func TestDiffGolden(t *testing.T) {
	dir := t.TempDir()
	golden := filepath.Join(dir, "case.golden.json")
	WriteGolden(t, golden, batch())
	// Hand-written: other key order, no indentation, an int64 as a number.
	reordered := filepath.Join(dir, "reordered.golden.json")
	require.NoError(t, os.WriteFile(reordered, []byte(`{"traces":[{"spans":[{"fields":{"n":{"i":7}},"tags":{"a":"1","b":"2"},"service":"web","spanId":"2","traceId":"1"}]}],"input":"ddtrace","source":"ddtrace"}`), 0o644))
	bad := filepath.Join(dir, "bad.golden.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"traces": 3}`), 0o644))
	other := batch()
	other.Traces[0].Spans[0].Tags["a"] = "changed"

	tests := []struct {
		name     string
		path     string
		got      proto.Message
		wantDiff string // substring of the diff, "" for none
		wantErr  string
	}{
		{"same", golden, batch(), "", ""},
		{"semantic, not textual", reordered, batch(), "", ""},
		{"changed tag", golden, other, `"changed"`, ""},
		{"other message type", golden, &spanv1.DatakitTrace{}, "", "decode golden"},
		{"missing file", filepath.Join(dir, "none.golden.json"), batch(), "", "run go test -update"},
		{"not protojson", bad, batch(), "", "decode golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := diffGolden(tt.path, tt.got)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.wantDiff == "" {
				assert.Empty(t, d)
			} else {
				assert.Contains(t, d, tt.wantDiff)
			}
		})
	}
}
