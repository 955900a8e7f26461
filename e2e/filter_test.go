package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
)

// zipkinTrace is one Zipkin v2 JSON trace of two spans; tags go on the root.
type zipkinTrace struct {
	id   int
	name string
	tags map[string]string
}

func (z zipkinTrace) traceID() string { return fmt.Sprintf("%016x", 0xf11e0000+z.id) }

func zipkinJSON(traces ...zipkinTrace) []byte {
	var spans []string
	for _, z := range traces {
		var tags []string
		for k, v := range z.tags {
			tags = append(tags, fmt.Sprintf("%q:%q", k, v))
		}
		spans = append(spans,
			fmt.Sprintf(`{"traceId":%q,"id":"%016x","name":%q,"kind":"SERVER","timestamp":1700000000000000,"duration":2000,"localEndpoint":{"serviceName":"filter-e2e"},"tags":{%s}}`,
				z.traceID(), 0x100+z.id, z.name, strings.Join(tags, ",")),
			fmt.Sprintf(`{"traceId":%q,"id":"%016x","parentId":"%016x","name":"child","timestamp":1700000000000500,"duration":500,"localEndpoint":{"serviceName":"filter-e2e"}}`,
				z.traceID(), 0x200+z.id, 0x100+z.id))
	}
	return []byte("[" + strings.Join(spans, ",") + "]")
}

// TestFilterChainEndToEnd runs the pipeline with filters configured: sampler 0 keeps only
// error traces; close_resource and omit_err_status drop what they should and never an
// error trace. The filter's counters must account for every trace.
func TestFilterChainEndToEnd(t *testing.T) {
	errTag := map[string]string{"error": "boom"}
	cases := []struct {
		name   string
		inputs string
		traces []zipkinTrace
		kept   []int
	}{
		{
			name:   "sampler0",
			inputs: "[[inputs.zipkin]]\n  [inputs.zipkin.sampler]\n    sampling_rate = 0.0\n",
			traces: []zipkinTrace{{1, "get /a", nil}, {2, "get /b", nil}, {3, "get /c", errTag}, {4, "get /d", nil}, {5, "get /e", errTag}},
			kept:   []int{3, 5},
		},
		{
			name: "rules",
			inputs: `[[inputs.zipkin]]
  omit_err_status = ["404"]
  [inputs.zipkin.close_resource]
    "*" = ["^get /closed$"]
`,
			traces: []zipkinTrace{
				{1, "get /open", nil},
				{2, "get /closed", nil},
				{3, "get /closed", errTag},
				{4, "get /missing", map[string]string{"http.status_code": "404"}},
				{5, "get /missing", map[string]string{"http.status_code": "404", "error": "x"}},
				{6, "get /found", map[string]string{"http.status_code": "200"}},
			},
			kept: []int{1, 3, 5, 6},
		},
	}
	for _, topo := range harness.Topologies {
		for _, tc := range cases {
			t.Run(topo.Name+"/"+tc.name, func(t *testing.T) {
				sim := harness.StartSim(t)
				stack := topo.Start(t, sim, tc.inputs, []string{"receiver-zipkin"})
				resp, err := http.Post("http://"+stack.HTTPAddr+"/api/v2/spans", "application/json", bytes.NewReader(zipkinJSON(tc.traces...)))
				require.NoError(t, err)
				resp.Body.Close()
				require.Less(t, resp.StatusCode, 300)

				admin := stack.Admin["filter"]
				if admin == "" {
					admin = stack.Admin["tracekit"]
				}
				require.Eventually(t, func() bool {
					return metricSum(t, admin, "tracekit_filter_traces_total", `verdict="received"`) == float64(len(tc.traces))
				}, 30*time.Second, 50*time.Millisecond, "the filter saw every trace")
				kept := metricSum(t, admin, "tracekit_filter_traces_total", `verdict="kept"`)
				dropped := metricSum(t, admin, "tracekit_filter_traces_total", `verdict="dropped"`)
				assert.InDelta(t, len(tc.kept), kept, 0)
				assert.InDelta(t, len(tc.traces)-len(tc.kept), dropped, 0, "received = kept + dropped")

				pts := sim.WaitPoints(t, "tracing", 2*len(tc.kept), 30*time.Second)
				var got, want []string
				seen := map[string]bool{}
				for _, p := range pts {
					if id := p.Field("trace_id"); !seen[id] {
						seen[id] = true
						got = append(got, id)
					}
				}
				for _, i := range tc.kept {
					want = append(want, tc.traces[i-1].traceID())
				}
				sort.Strings(got)
				sort.Strings(want)
				assert.Equal(t, want, got)
				assert.Len(t, pts, 2*len(tc.kept), "both spans of each kept trace, nothing else")
			})
		}
	}
}
