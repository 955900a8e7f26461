package translator

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/spanmodel/spanmodeltest"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/testing/protocmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// defaultOptions are DataKit's defaults (split_service_name and clean_message on).
func defaultOptions() Options { return Options{SplitServiceName: true, CleanMessage: true} }

// goldenCases maps a golden file (testdata/<name>.golden.json) to its input
// (testdata/<input>.json, <name> when empty) and options.
var goldenCases = []struct {
	name, input string
	opts        func(*Options)
}{
	{name: "basic"},
	{name: "edge_cases"},
	{name: "no_clean", input: "basic", opts: func(o *Options) { o.CleanMessage = false }},
	{name: "no_split", input: "basic", opts: func(o *Options) { o.SplitServiceName = false }},
	{name: "compatible_ddtrace", input: "basic", opts: func(o *Options) { o.CompatibleDDTrace = true }},
	{name: "del_message", input: "basic", opts: func(o *Options) { o.DelMessage = true }},
	{name: "customer_tags", input: "basic", opts: func(o *Options) {
		o.CustomerTags = []string{"user.id", "reg:^telemetry\\.sdk\\.", "http.route"}
		o.Tags = map[string]string{"region": "eu", "service": "overridden"}
	}},
	{name: "customer_tags_all", input: "basic", opts: func(o *Options) { o.CustomerTagsAll = true }},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			input := tc.input
			if input == "" {
				input = tc.name
			}
			data, err := os.ReadFile(filepath.Join("testdata", input+".json"))
			require.NoError(t, err)
			opts := defaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			tr, err := New(opts)
			require.NoError(t, err)

			td, err := DecodeJSON(data)
			require.NoError(t, err)
			got := tr.ToTraceBatch(td, Meta{RemoteIP: "10.0.0.1"})
			_, err = spanmodel.Marshal(got)
			require.NoError(t, err, "the batch must be publishable")

			// The protobuf path must give the same batch as the JSON path.
			pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
			require.NoError(t, err)
			td2, err := DecodeProtobuf(pb)
			require.NoError(t, err)
			if diff := cmp.Diff(got, tr.ToTraceBatch(td2, Meta{RemoteIP: "10.0.0.1"}), protocmp.Transform()); diff != "" {
				t.Fatalf("protobuf and JSON decode differ (-json +proto):\n%s", diff)
			}

			spanmodeltest.CompareGolden(t, filepath.Join("testdata", tc.name+".golden.json"), got, *update)
		})
	}
}

// TestGoldenInputsHaveCases keeps every input under testdata covered by a case.
func TestGoldenInputsHaveCases(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	used := map[string]bool{}
	for _, tc := range goldenCases {
		used[tc.name] = true
		used[tc.input] = true
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		if strings.HasSuffix(name, ".golden") {
			continue
		}
		require.True(t, used[name], "%s has no golden case", in)
	}
}
