package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	jaeger "github.com/uber/jaeger-client-go"
	jaegercfg "github.com/uber/jaeger-client-go/config"
)

// TestJaegerClientGo drives the real jaeger-client-go tracer, once through its UDP agent
// sender (compact thrift emitBatch to the input's address) and once through its HTTP
// collector sender (thrift binary Batch to /apis/traces). A root, a local child and a
// failing exit must reach Dataway as DataKit's jaeger points, with the process tags
// project/version/env.
func TestJaegerClientGo(t *testing.T) {
	for _, topo := range harness.Topologies {
		for _, transport := range []string{"udp", "http"} {
			t.Run(topo.Name+"/"+transport, func(t *testing.T) {
				sim := harness.StartSim(t)
				udp := harness.FreeUDPAddr(t)
				inputs := fmt.Sprintf("[[inputs.jaeger]]\n  endpoint = \"/apis/traces\"\n  address = %q\n  ignore_tags = [\"^internal\\\\.\"]\n  [inputs.jaeger.tags]\n    team = \"cart\"\n", udp)
				stack := topo.Start(t, sim, inputs, []string{"receiver-jaeger"})

				rep := &jaegercfg.ReporterConfig{BufferFlushInterval: 100 * time.Millisecond}
				if transport == "udp" {
					rep.LocalAgentHostPort = udp
				} else {
					rep.CollectorEndpoint = "http://" + stack.HTTPAddr + "/apis/traces"
				}
				cfg := jaegercfg.Configuration{
					ServiceName: "cart-" + transport,
					Sampler:     &jaegercfg.SamplerConfig{Type: jaeger.SamplerTypeConst, Param: 1},
					Reporter:    rep,
					Tags:        []opentracing.Tag{{Key: "project", Value: "shop"}, {Key: "version", Value: "1.4.0"}, {Key: "env", Value: "staging"}},
				}
				tracer, closer, err := cfg.NewTracer()
				require.NoError(t, err)

				root := tracer.StartSpan("GET /cart")
				ext.SpanKindRPCServer.Set(root)
				ext.HTTPStatusCode.Set(root, 200)
				root.SetTag("internal.debug", "x")
				local := tracer.StartSpan("load cart", opentracing.ChildOf(root.Context()))
				exit := tracer.StartSpan("SELECT cart", opentracing.ChildOf(local.Context()))
				ext.Error.Set(exit, true)
				exit.SetTag("db.statement", "SELECT * FROM cart")
				exit.Finish()
				local.Finish()
				root.Finish()
				require.NoError(t, closer.Close(), "the reporter flushes on close")

				pts := sim.WaitPoints(t, "tracing", 3, 30*time.Second)
				ids := func(s opentracing.Span) jaeger.SpanContext { return s.Context().(jaeger.SpanContext) }
				bySpan := map[string]harness.Point{}
				for _, p := range pts {
					assert.Equal(t, "jaeger", p.Measurement)
					bySpan[p.Field("span_id")] = p
				}
				r, l, e := bySpan[ids(root).SpanID().String()], bySpan[ids(local).SpanID().String()], bySpan[ids(exit).SpanID().String()]
				require.NotNil(t, r.Tags, "root point")
				require.NotNil(t, l.Tags, "local point")
				require.NotNil(t, e.Tags, "exit point")
				for _, p := range []harness.Point{r, l, e} {
					assert.Equal(t, fmt.Sprintf("%x", ids(root).TraceID().Low), p.Field("trace_id"), "DataKit: unpadded hex of a 64-bit trace id")
					assert.Equal(t, "cart-"+transport, p.Tags["service"])
					assert.Equal(t, "jaeger", p.Tags["source"])
					assert.Equal(t, "custom", p.Tags["source_type"])
					assert.Equal(t, "shop", p.Tags["project"])
					assert.Equal(t, "1.4.0", p.Tags["version"])
					assert.Equal(t, "staging", p.Tags["env"])
					assert.Equal(t, "cart", p.Tags["team"], "input tags")
					assert.NotEmpty(t, p.Field("message"))
					assert.InDelta(t, time.Now().UnixMicro(), p.Int("start"), float64(time.Minute.Microseconds()), "start is in µs")
				}
				assert.Equal(t, "0", r.Field("parent_id"))
				assert.Equal(t, "GET /cart", r.Field("resource"))
				assert.Equal(t, "entry", r.Tags["span_type"])
				assert.Equal(t, "ok", r.Tags["status"])
				assert.Equal(t, "200", r.Tags["http_status_code"])
				assert.Equal(t, "server", r.Tags["span_kind"])
				assert.NotContains(t, r.Tags, "internal_debug", "ignore_tags")

				assert.Equal(t, ids(root).SpanID().String(), l.Field("parent_id"))
				assert.Equal(t, "local", l.Tags["span_type"])

				assert.Equal(t, ids(local).SpanID().String(), e.Field("parent_id"))
				assert.Equal(t, "exit", e.Tags["span_type"])
				assert.Equal(t, "error", e.Tags["status"])
				assert.Equal(t, "SELECT * FROM cart", e.Tags["db_statement"])
			})
		}
	}
}
