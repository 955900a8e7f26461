package e2e

import (
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/openzipkin/zipkin-go/reporter"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
)

const zipkinInputs = `
[[inputs.zipkin]]
  ignore_tags = ["^secret"]
  [inputs.zipkin.tags]
    team = "checkout"
`

// TestZipkinGo drives the real zipkin-go tracer and its HTTP reporter, once with the JSON
// serializer and once with the proto3 one: service "web" has a server root and a failing
// client child; service "db-proxy" (a second tracer, same trace) serves that call. The three
// spans must reach Dataway as DataKit's zipkin points.
func TestZipkinGo(t *testing.T) {
	serializers := []struct {
		name string
		s    reporter.SpanSerializer
	}{{"json", reporter.JSONSerializer{}}, {"proto", zipkin_proto3.SpanSerializer{}}}
	for _, topo := range harness.Topologies {
		for _, ser := range serializers {
			t.Run(topo.Name+"/"+ser.name, func(t *testing.T) {
				sim := harness.StartSim(t)
				stack := topo.Start(t, sim, zipkinInputs, []string{"receiver-zipkin"})
				url := "http://" + stack.HTTPAddr + "/api/v2/spans"

				rep := zipkinhttp.NewReporter(url, zipkinhttp.Serializer(ser.s), zipkinhttp.BatchInterval(100*time.Millisecond))
				web := zipkinTracer(t, rep, "web")
				dbProxy := zipkinTracer(t, rep, "db-proxy")

				root := web.StartSpan("get /checkout", zipkin.Kind(model.Server))
				root.Tag("http.method", "GET")
				root.Tag("secret.token", "hidden")
				call := web.StartSpan("select stock", zipkin.Kind(model.Client), zipkin.Parent(root.Context()))
				zipkin.TagError.Set(call, "stock unavailable")
				served := dbProxy.StartSpan("query", zipkin.Kind(model.Server), zipkin.Parent(call.Context()))
				served.Finish()
				call.Finish()
				root.Finish()
				require.NoError(t, rep.Close(), "the reporter flushes on close")

				pts := sim.WaitPoints(t, "tracing", 3, 30*time.Second)
				bySpan := map[string]harness.Point{}
				for _, p := range pts {
					assert.Equal(t, "zipkin", p.Measurement)
					bySpan[p.Field("span_id")] = p
				}
				traceID := root.Context().TraceID.String()
				r := bySpan[root.Context().ID.String()]
				c := bySpan[call.Context().ID.String()]
				s := bySpan[served.Context().ID.String()]
				require.NotNil(t, r.Tags, "root span point")
				require.NotNil(t, c.Tags, "client span point")
				require.NotNil(t, s.Tags, "db-proxy span point")

				for _, p := range []harness.Point{r, c, s} {
					assert.Equal(t, traceID, p.Field("trace_id"))
					assert.Equal(t, "zipkin", p.Tags["source"])
					assert.Equal(t, "custom", p.Tags["source_type"])
					assert.Equal(t, "checkout", p.Tags["team"], "input tags")
					assert.NotEmpty(t, p.Field("message"))
					assert.Positive(t, p.Int("start"))
					assert.GreaterOrEqual(t, p.Int("duration"), int64(0))
					assert.InDelta(t, time.Now().UnixMicro(), p.Int("start"), float64(time.Minute.Microseconds()), "start is in µs")
				}
				assert.Equal(t, "0", r.Field("parent_id"))
				assert.Equal(t, "web", r.Tags["service"])
				assert.Equal(t, "get /checkout", r.Field("resource"))
				assert.Equal(t, "entry", r.Tags["span_type"])
				assert.Equal(t, "ok", r.Tags["status"])
				assert.Equal(t, "GET", r.Tags["http_method"])
				assert.NotContains(t, r.Tags, "secret_token", "ignore_tags")

				assert.Equal(t, root.Context().ID.String(), c.Field("parent_id"))
				assert.Equal(t, "web", c.Tags["service"])
				assert.Equal(t, "local", c.Tags["span_type"], "same service and has a child")
				assert.Equal(t, "error", c.Tags["status"])
				assert.Equal(t, "stock unavailable", c.Tags["error"])

				assert.Equal(t, call.Context().ID.String(), s.Field("parent_id"))
				assert.Equal(t, "db-proxy", s.Tags["service"])
				assert.Equal(t, "entry", s.Tags["span_type"], "parent is another service")
			})
		}
	}
}

func zipkinTracer(t *testing.T, rep reporter.Reporter, service string) *zipkin.Tracer {
	t.Helper()
	ep, err := zipkin.NewEndpoint(service, "127.0.0.1:8080")
	require.NoError(t, err)
	tr, err := zipkin.NewTracer(rep, zipkin.WithLocalEndpoint(ep), zipkin.WithSampler(zipkin.AlwaysSample), zipkin.WithSharedSpans(false))
	require.NoError(t, err)
	return tr
}
