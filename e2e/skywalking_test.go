package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/SkyAPM/go2sky"
	"github.com/SkyAPM/go2sky/reporter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
)

// skyTracer is one go2sky service reporting over gRPC, like an instrumented process.
func skyTracer(t *testing.T, addr, service string) *go2sky.Tracer {
	t.Helper()
	r, err := reporter.NewGRPCReporter(addr, reporter.WithCheckInterval(time.Second))
	require.NoError(t, err)
	// go2sky hands finished segments to the reporter asynchronously: closing it before the
	// points arrived could drop them, so it is closed when the test ends.
	t.Cleanup(r.Close)
	tr, err := go2sky.NewTracer(service, go2sky.WithReporter(r), go2sky.WithInstance(service+"-1"), go2sky.WithSampler(1))
	require.NoError(t, err)
	return tr
}

// TestSkyWalkingGo2sky drives the real go2sky SDK: service "frontend" has an entry, a local
// span and a failing exit whose sw8 header is carried to service "stock", whose entry has a
// cross-process reference and a database exit. Both reporters stream to the receiver's
// gRPC address; the five spans must reach Dataway as DataKit's skywalking points.
func TestSkyWalkingGo2sky(t *testing.T) {
	for _, topo := range harness.Topologies {
		t.Run(topo.Name, func(t *testing.T) {
			sim := harness.StartSim(t)
			addr := harness.FreeAddr(t)
			inputs := fmt.Sprintf("[[inputs.skywalking]]\n  address = %q\n  plugins = [\"db.type\"]\n  [inputs.skywalking.tags]\n    team = \"payments\"\n", addr)
			topo.Start(t, sim, inputs, []string{"receiver-skywalking"})

			front := skyTracer(t, addr, "frontend")
			stock := skyTracer(t, addr, "stock")
			ctx := context.Background()

			entry, ctx, err := front.CreateEntrySpan(ctx, "GET /checkout", func(string) (string, error) { return "", nil })
			require.NoError(t, err)
			entry.SetSpanLayer(agentv3.SpanLayer_Http)
			entry.SetComponent(5004)
			entry.Tag(go2sky.TagHTTPMethod, "GET")

			local, _, err := front.CreateLocalSpan(ctx, go2sky.WithOperationName("render cart"))
			require.NoError(t, err)
			local.End()

			headers := map[string]string{}
			exit, err := front.CreateExitSpan(ctx, "POST /stock/reserve", "stock:8080", func(k, v string) error {
				headers[k] = v
				return nil
			})
			require.NoError(t, err)
			exit.SetSpanLayer(agentv3.SpanLayer_Http)
			require.NotEmpty(t, headers[propagationHeader], "go2sky injected the sw8 header")

			// The callee: its entry extracts the caller's context from the header.
			sEntry, sctx, err := stock.CreateEntrySpan(context.Background(), "/stock/reserve", func(k string) (string, error) {
				return headers[k], nil
			})
			require.NoError(t, err)
			sEntry.SetSpanLayer(agentv3.SpanLayer_Http)
			db, err := stock.CreateExitSpan(sctx, "SELECT stock", "mysql:3306", func(string, string) error { return nil })
			require.NoError(t, err)
			db.SetSpanLayer(agentv3.SpanLayer_Database)
			db.Tag(go2sky.TagDBType, "mysql")
			db.Tag(go2sky.TagDBStatement, "SELECT qty FROM stock WHERE sku = ?")
			db.End()
			sEntry.Error(time.Now(), "out of stock")
			sEntry.End()

			exit.Error(time.Now(), "stock answered 409")
			exit.Tag(go2sky.TagStatusCode, "409")
			exit.End()
			entry.End()

			pts := sim.WaitPoints(t, "tracing", 5, 30*time.Second)
			require.Len(t, pts, 5)
			byRes := map[string]harness.Point{}
			for _, p := range pts {
				assert.Equal(t, "skywalking", p.Measurement)
				assert.Equal(t, "skywalking", p.Tags["source"])
				assert.Equal(t, "payments", p.Tags["team"], "input tags")
				assert.Equal(t, pts[0].Field("trace_id"), p.Field("trace_id"), "one trace across both services")
				assert.NotEmpty(t, p.Field("message"))
				assert.Positive(t, p.Int("start"))
				byRes[p.Field("resource")] = p
			}
			require.Len(t, byRes, 5, "resources: %v", byRes)
			fe, fl, fx := byRes["GET /checkout"], byRes["render cart"], byRes["POST /stock/reserve"]
			se, sdb := byRes["/stock/reserve"], byRes["SELECT qty FROM stock WHERE sku = ?"]

			assert.Equal(t, "frontend", fe.Tags["service"])
			assert.Equal(t, "frontend-1", fe.Tags["service_instance"])
			assert.Equal(t, "entry", fe.Tags["span_type"])
			assert.Equal(t, "ok", fe.Tags["status"])
			assert.Equal(t, "0", fe.Field("parent_id"))
			assert.Equal(t, "GET", fe.Tags["http_method"])

			assert.Equal(t, "local", fl.Tags["span_type"])
			assert.Equal(t, fe.Field("span_id"), fl.Field("parent_id"))

			assert.Equal(t, "exit", fx.Tags["span_type"])
			assert.Equal(t, "error", fx.Tags["status"])
			assert.Equal(t, "stock:8080", fx.Tags["endpoint"])
			assert.Equal(t, fe.Field("span_id"), fx.Field("parent_id"))

			assert.Equal(t, "stock", se.Tags["service"])
			assert.Equal(t, "entry", se.Tags["span_type"])
			assert.Equal(t, "error", se.Tags["status"])
			assert.Equal(t, fx.Field("span_id"), se.Field("parent_id"), "the cross-process reference points at the caller's exit span")

			assert.Equal(t, "mysql", sdb.Tags["service"], "plugins: db.type names the service")
			assert.Equal(t, "entry", sdb.Tags["span_type"])
			assert.Equal(t, "db", sdb.Tags["source_type"])
			assert.Equal(t, se.Field("span_id"), sdb.Field("parent_id"))
			assert.Equal(t, "custom", fe.Tags["source_type"])
		})
	}
}

// propagationHeader is SkyWalking's cross-process header (sw8).
const propagationHeader = "sw8"
