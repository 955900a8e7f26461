package points

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

var goldenEncodings = map[string]Encoding{".lp": LineProtocol, ".json": JSON, ".pbjson": PBJSON}

// TestGolden decodes testdata/<category>-<case>.<lp|json|pbjson> with auto precision, applies
// the category's checks, and compares with <file>.golden.json (protojson PBPoints, warnings
// included).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*")
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		ext := filepath.Ext(f)
		enc, ok := goldenEncodings[ext]
		if !ok || strings.HasSuffix(f, ".golden.json") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			category := strings.SplitN(filepath.Base(f), "-", 2)[0]
			rules, ok := RulesFor(category)
			require.True(t, ok, "file names start with a category")
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			pts, err := Decode(body, enc, Options{NowUnixNano: now})
			require.NoError(t, err)
			for _, p := range pts {
				Check(p, rules, [][2]string{{"host", "global-host"}, {"project", "tk"}})
			}
			got := &pointpb.PBPoints{Arr: pts}
			golden := strings.TrimSuffix(f, ext) + ".golden.json"
			if *update {
				b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(got)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(golden, append(b, '\n'), 0o644))
			}
			b, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update")
			var want pointpb.PBPoints
			require.NoError(t, protojson.Unmarshal(b, &want))
			if d := cmp.Diff(&want, got, protocmp.Transform()); d != "" {
				t.Fatalf("%s differs (-want +got):\n%s", golden, d)
			}
		})
	}
	require.NotZero(t, n)
}
