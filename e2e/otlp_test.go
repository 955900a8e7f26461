package e2e

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

var (
	hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// TestOpenTelemetrySDK drives the real OpenTelemetry Go SDK through its OTLP gRPC and OTLP
// HTTP exporters (HTTP on DataKit's /otel/v1/traces): a server root, a failing database
// client child and an internal grandchild must reach Dataway once each as DataKit's
// opentelemetry points.
func TestOpenTelemetrySDK(t *testing.T) {
	exporters := []struct {
		name string
		new  func(ctx context.Context, grpcAddr, httpAddr string) (sdktrace.SpanExporter, error)
	}{
		{"grpc", func(ctx context.Context, grpcAddr, _ string) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
		}},
		{"http", func(ctx context.Context, _, httpAddr string) (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithURLPath("/otel/v1/traces"),
				otlptracehttp.WithInsecure(), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}},
	}
	for _, topo := range harness.Topologies {
		for _, ex := range exporters {
			t.Run(topo.Name+"/"+ex.name, func(t *testing.T) {
				sim := harness.StartSim(t)
				grpcAddr := harness.FreeAddr(t)
				inputs := fmt.Sprintf(`
[[inputs.opentelemetry]]
  [inputs.opentelemetry.tags]
    team = "checkout"
  [inputs.opentelemetry.grpc]
    addr = %q
  [inputs.opentelemetry.http]
    trace_api = "/otel/v1/traces"
`, grpcAddr)
				stack := topo.Start(t, sim, inputs, []string{"receiver-otlp"})

				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				exp, err := ex.new(ctx, grpcAddr, stack.HTTPAddr)
				require.NoError(t, err)
				res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("shop")))
				require.NoError(t, err)
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
				tr := tp.Tracer("e2e")

				t0 := time.Now().Truncate(time.Microsecond)
				at := func(us int) time.Time { return t0.Add(time.Duration(us) * time.Microsecond) }
				rctx, root := tr.Start(ctx, "GET /cart", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(0)),
					trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200)))
				cctx, call := tr.Start(rctx, "SELECT stock", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(100)),
					trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("server.address", "db.local")))
				_, inner := tr.Start(cctx, "decode rows", trace.WithTimestamp(at(200)))
				inner.SetStatus(codes.Ok, "")
				inner.End(trace.WithTimestamp(at(250)))
				call.RecordError(fmt.Errorf("no stock"))
				call.SetStatus(codes.Error, "no stock")
				call.End(trace.WithTimestamp(at(1100)))
				root.End(trace.WithTimestamp(at(2500)))
				require.NoError(t, tp.Shutdown(ctx), "the batcher flushes on shutdown")

				pts := sim.WaitPoints(t, "tracing", 3, 30*time.Second)
				require.Len(t, pts, 3, "every span once")
				bySpan := map[string]harness.Point{}
				for _, p := range pts {
					assert.Equal(t, "opentelemetry", p.Measurement)
					bySpan[p.Field("span_id")] = p
				}
				require.Len(t, bySpan, 3, "three distinct span ids")
				traceID := root.SpanContext().TraceID().String()
				r, c, in := bySpan[root.SpanContext().SpanID().String()], bySpan[call.SpanContext().SpanID().String()], bySpan[inner.SpanContext().SpanID().String()]
				require.NotNil(t, r.Tags, "root point")
				require.NotNil(t, c.Tags, "client point")
				require.NotNil(t, in.Tags, "internal point")

				for _, p := range []harness.Point{r, c, in} {
					assert.Regexp(t, hex32, p.Field("trace_id"))
					assert.Equal(t, traceID, p.Field("trace_id"))
					assert.Regexp(t, hex16, p.Field("span_id"))
					assert.Equal(t, "opentelemetry", p.Tags["source"])
					assert.Equal(t, "checkout", p.Tags["team"], "input tags")
					assert.Equal(t, "127.0.0.1", p.Tags["remote_ip"])
					assert.NotEmpty(t, p.Field("message"))
				}
				assert.Equal(t, "0", r.Field("parent_id"))
				assert.Equal(t, root.SpanContext().SpanID().String(), c.Field("parent_id"))
				assert.Equal(t, call.SpanContext().SpanID().String(), in.Field("parent_id"))

				assert.Equal(t, "shop", r.Tags["service"])
				assert.Equal(t, "postgresql", c.Tags["service"], "split_service_name")
				assert.Equal(t, "shop", c.Tags["base_service"])
				assert.Equal(t, "shop", in.Tags["service"])

				assert.Equal(t, "GET /cart", r.Field("resource"))
				assert.Equal(t, "SELECT stock", c.Field("resource"))
				assert.Equal(t, "decode rows", in.Field("resource"))

				// The Go SDK always sends a Status, so an unset code is ok, as DataKit shows it.
				assert.Equal(t, "ok", r.Tags["status"])
				assert.Equal(t, "error", c.Tags["status"])
				assert.Equal(t, "ok", in.Tags["status"])
				assert.Equal(t, "no stock", c.Field("error_message"), "from the exception event")

				assert.Equal(t, at(0).UnixMicro(), r.Int("start"), "start in µs")
				assert.Equal(t, int64(2500), r.Int("duration"), "duration in µs")
				assert.Equal(t, at(100).UnixMicro(), c.Int("start"))
				assert.Equal(t, int64(1000), c.Int("duration"))
				assert.Equal(t, int64(50), in.Int("duration"))

				assert.Equal(t, "200", r.Tags["http_status_code"])
				assert.Equal(t, "server", r.Tags["span_kind"])
				assert.Equal(t, "client", c.Tags["span_kind"])
				assert.Equal(t, "internal", in.Tags["span_kind"])

				assert.Equal(t, "web", r.Tags["source_type"])
				assert.Equal(t, "db", c.Tags["source_type"])
				assert.Equal(t, "db.local", c.Tags["db_host"])
				assert.Equal(t, "entry", r.Tags["span_type"])
				assert.Equal(t, "local", c.Tags["span_type"])
				assert.Equal(t, "exit", in.Tags["span_type"])
			})
		}
	}
}
