package e2e

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinpoint-apm/pinpoint-go-agent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
)

type headerMap map[string]string

func (h headerMap) Set(k, v string)     { h[k] = v }
func (h headerMap) Get(k string) string { return h[k] }

// pinpointAgent starts the real Go agent with its agent, span and stat ports all on addr, as
// DataKit's docs tell users to configure it, and waits until it registered.
func pinpointAgent(t *testing.T, addr, app, id string) pinpoint.Agent {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	cfg, err := pinpoint.NewConfig(
		pinpoint.WithAppName(app), pinpoint.WithAgentId(id),
		pinpoint.WithCollectorHost(host), pinpoint.WithCollectorAgentPort(port),
		pinpoint.WithCollectorSpanPort(port), pinpoint.WithCollectorStatPort(port),
		pinpoint.WithSamplingCounterRate(1), pinpoint.WithLogLevel("error"),
	)
	require.NoError(t, err)
	agent, err := pinpoint.NewAgent(cfg)
	require.NoError(t, err)
	// The agent is a process singleton: shut it down so the next topology can make one.
	t.Cleanup(agent.Shutdown)
	require.Eventually(t, agent.Enable, 60*time.Second, 100*time.Millisecond, "the agent registered with the collector")
	return agent
}

// TestPinpointGoAgent drives pinpoint-go-agent v1.4.7: a "/checkout" span with nested
// function events (names registered through ApiMetaData), an SQL event (SqlMetaData), a
// failing event (the error name through StringMetaData) and an outgoing call whose context
// starts a second span. All seven spans must reach Dataway with resolved names and links.
func TestPinpointGoAgent(t *testing.T) {
	for i, topo := range harness.Topologies {
		t.Run(topo.Name, func(t *testing.T) {
			sim := harness.StartSim(t)
			addr := harness.FreeAddr(t)
			inputs := fmt.Sprintf("[[inputs.pinpoint]]\n  address = %q\n  [inputs.pinpoint.tags]\n    team = \"payments\"\n", addr)
			topo.Start(t, sim, inputs, []string{"receiver-pinpoint"})
			agent := pinpointAgent(t, addr, "shop", fmt.Sprintf("shop-e2e-%d", i))

			front := agent.NewSpanTracer("/checkout", "/checkout")
			front.Span().SetEndPoint("localhost:8080")
			front.NewSpanEvent("checkout.loadCart")
			front.NewSpanEvent("database/sql.(*DB).QueryContext")
			se := front.SpanEvent()
			se.SetServiceType(pinpoint.ServiceTypeMysqlExecuteQuery)
			se.SetDestination("shopdb")
			se.SetSQL("SELECT id, qty FROM cart WHERE user = 'alice'", "")
			front.EndSpanEvent()
			front.EndSpanEvent()

			front.NewSpanEvent("checkout.charge")
			front.SpanEvent().SetError(errors.New("card declined"))
			front.EndSpanEvent()

			front.NewSpanEvent("net/http.(*Client).Do")
			front.SpanEvent().SetServiceType(pinpoint.ServiceTypeGoHttpClient)
			front.SpanEvent().SetDestination("payments:9000")
			headers := headerMap{}
			front.Inject(headers)
			back := agent.NewSpanTracerWithReader("/charge", "/charge", headers)
			back.NewSpanEvent("payments.authorize")
			back.EndSpanEvent()
			back.EndSpan()
			front.EndSpanEvent()
			front.EndSpan()

			pts := sim.WaitPoints(t, "tracing", 7, 60*time.Second)
			require.Len(t, pts, 7)
			byOp := map[string]harness.Point{}
			for _, p := range pts {
				assert.Equal(t, "pinpointV2", p.Measurement)
				assert.Equal(t, "pinpointV2", p.Tags["source"])
				assert.Equal(t, "payments", p.Tags["team"], "input tags")
				assert.Equal(t, pts[0].Field("trace_id"), p.Field("trace_id"), "one transaction")
				assert.NotEmpty(t, p.Field("message"))
				key := p.Tags["operation"]
				if p.Tags["span_type"] == "entry" {
					key = "entry " + p.Field("resource")
				}
				byOp[key] = p
			}
			require.Len(t, byOp, 7, "operations: %v", byOp)
			root, load, query := byOp["entry /checkout"], byOp["checkout.loadCart"], byOp["database/sql.(*DB).QueryContext"]
			charge, call := byOp["checkout.charge"], byOp["net/http.(*Client).Do"]
			backRoot, auth := byOp["entry /charge"], byOp["payments.authorize"]

			assert.True(t, strings.HasPrefix(root.Field("trace_id"), fmt.Sprintf("shop-e2e-%d^", i)), root.Field("trace_id"))
			assert.Equal(t, "shop", root.Tags["service"])
			assert.Equal(t, "0", root.Field("parent_id"))
			assert.Equal(t, "localhost:8080", root.Tags["operation"])
			assert.Equal(t, "/checkout", root.Tags["api"], "the span's api id resolved from ApiMetaData")
			assert.NotEmpty(t, root.Tags["hostname"], "agent info tags")

			assert.Equal(t, root.Field("span_id"), load.Field("parent_id"))
			assert.Equal(t, "local", load.Tags["span_type"])
			assert.Equal(t, load.Field("span_id"), query.Field("parent_id"), "depth 2 hangs off depth 1")
			assert.Equal(t, "exit", query.Tags["span_type"])
			assert.Equal(t, "db", query.Tags["source_type"])
			assert.Contains(t, query.Field("resource"), "FROM cart", "statement from SqlMetaData")
			assert.Equal(t, "shopdb", query.Tags["destination_id"])

			assert.Equal(t, "error", charge.Tags["status"])
			assert.Equal(t, "error", charge.Field("error_type"), "the error name from StringMetaData")
			assert.Equal(t, "card declined", charge.Field("error_message"))
			assert.Equal(t, root.Field("span_id"), charge.Field("parent_id"))

			assert.Equal(t, "exit", call.Tags["span_type"])
			assert.Equal(t, call.Field("span_id"), backRoot.Field("parent_id"), "the called span links to the calling event")
			assert.Equal(t, "entry", backRoot.Tags["span_type"])
			assert.Equal(t, backRoot.Field("span_id"), auth.Field("parent_id"))
			for _, p := range pts {
				assert.NotEqual(t, p.Tags["operation"], "0", "no unresolved api id")
			}
		})
	}
}
