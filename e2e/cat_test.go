package e2e

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver/cattest"
)

// TestCATTrees sends the test client's trees (a URL transaction with nested and failed
// transactions and events, a child tree from another domain, a heartbeat) over TCP in CAT's
// framing, and expects DataKit's cat points: one span per tree, heartbeats as metrics.
func TestCATTrees(t *testing.T) {
	for _, topo := range harness.Topologies {
		t.Run(topo.Name, func(t *testing.T) {
			sim := harness.StartSim(t)
			_, port, err := net.SplitHostPort(harness.FreeAddr(t))
			require.NoError(t, err)
			inputs := fmt.Sprintf("[[inputs.cat]]\n  tcp_port = %q\n  [inputs.cat.tags]\n    team = \"payments\"\n", port)
			topo.Start(t, sim, inputs, []string{"receiver-cat"})

			var conn net.Conn
			require.Eventually(t, func() bool {
				conn, err = net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
				return err == nil
			}, 30*time.Second, 50*time.Millisecond)
			defer conn.Close()
			for _, tree := range cattest.SampleTrees(time.Now()) {
				_, err := conn.Write(cattest.Frame(cattest.Encode(tree)))
				require.NoError(t, err)
			}

			pts := sim.WaitPoints(t, "tracing", 2, 30*time.Second)
			require.Len(t, pts, 2)
			byRes := map[string]harness.Point{}
			for _, p := range pts {
				assert.Equal(t, "cat", p.Measurement)
				assert.Equal(t, "cat", p.Tags["source"])
				assert.Equal(t, "payments", p.Tags["team"])
				assert.Empty(t, p.Field("message"), "CAT spans have no message")
				byRes[p.Field("resource")] = p
			}
			root, child := byRes["/checkout"], byRes["charge"]
			assert.Equal(t, "shop-0a000005-470000-1", root.Field("trace_id"))
			assert.Equal(t, "shop-0a000005-470000-1", root.Field("span_id"))
			assert.Equal(t, "0", root.Field("parent_id"))
			assert.Equal(t, "shop", root.Tags["service"])
			assert.Equal(t, "entry", root.Tags["span_type"])
			assert.Equal(t, "URL", root.Tags["source_type"])
			assert.Equal(t, "ok", root.Tags["status"])
			assert.Equal(t, "web-1", root.Tags["host"])
			assert.Equal(t, "http-nio-8080-exec-1", root.Tags["thread_name"])
			assert.Equal(t, int64(120_000), root.Int("duration"))

			assert.Equal(t, root.Field("trace_id"), child.Field("trace_id"))
			assert.Equal(t, root.Field("span_id"), child.Field("parent_id"))
			assert.Equal(t, "local", child.Tags["span_type"])
			assert.Equal(t, "error", child.Tags["status"])

			// Heartbeats reach Dataway as "cat" metrics in both topologies.
			metrics := sim.WaitPoints(t, "metric", 6, 30*time.Second)
			assert.Equal(t, "cat", metrics[0].Measurement)
			assert.Equal(t, "shop", metrics[0].Tags["domain"])
		})
	}
}
