package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
)

const ddtraceInputs = `
[[inputs.ddtrace]]
  endpoints = ["/v0.3/traces", "/v0.4/traces", "/v0.5/traces"]
  [inputs.ddtrace.tags]
    team = "payments"
`

// filterDropsRejected says the filter's sampler drops client-rejected traces (ARCHITECTURE
// §5: "user/auto reject dropped"; libs/filter ClientPriority reads DatakitSpan
// sampling_priority). Set it to false to run against a filter chain without that sampler:
// the ManualDrop trace then reaches Dataway and the test checks what the receiver owns,
// that the trace arrived with its rejecting priority carried.
const filterDropsRejected = true

// ddMessage is the part of a ddtrace point's message field (the span as JSON) the test reads.
type ddMessage struct {
	Meta    map[string]string  `json:"meta"`
	Metrics map[string]float64 `json:"metrics"`
}

// TestDDTraceGo drives the real dd-trace-go v2 tracer at tracekit as its agent: a web root
// with a SQL child, an error span, a 404 trace, and ManualKeep / ManualDrop traces.
func TestDDTraceGo(t *testing.T) {
	// Keep the tracer to what the test is about: no telemetry, remote config or stats
	// noise. (t.Setenv: the tracer reads these at Start.)
	t.Setenv("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false")
	t.Setenv("DD_REMOTE_CONFIGURATION_ENABLED", "false")
	t.Setenv("DD_TRACE_STARTUP_LOGS", "false")
	t.Setenv("DD_TRACE_STATS_COMPUTATION_ENABLED", "false")
	t.Setenv("DD_DATA_STREAMS_ENABLED", "false")
	t.Setenv("DD_PROFILING_ENABLED", "false")

	for _, topo := range harness.Topologies {
		t.Run(topo.Name, func(t *testing.T) {
			sim := harness.StartSim(t)
			stack := topo.Start(t, sim, ddtraceInputs, []string{"receiver-ddtrace"})

			require.NoError(t, tracer.Start(
				tracer.WithAgentAddr(stack.HTTPAddr),
				tracer.WithService("shop"),
				tracer.WithEnv("e2e"),
				tracer.WithServiceVersion("1.4.2"),
				tracer.WithLogStartup(false),
				tracer.WithLogger(testLogger{t}),
			))
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					tracer.Stop()
				}
			})

			web := tracer.StartSpan("http.request", tracer.ResourceName("GET /cart"), tracer.SpanType(ext.SpanTypeWeb),
				tracer.Tag(ext.HTTPMethod, "GET"), tracer.Tag(ext.HTTPURL, "http://shop.local/cart"),
				tracer.Tag(ext.HTTPCode, "200"), tracer.Tag(ext.SpanKind, ext.SpanKindServer))
			sql := tracer.StartSpan("mysql.query", tracer.ChildOf(web.Context()), tracer.ResourceName("SELECT * FROM carts WHERE id = ?"),
				tracer.SpanType(ext.SpanTypeSQL), tracer.Tag(ext.DBType, "mysql"), tracer.Tag(ext.DBInstance, "shop"),
				tracer.Tag(ext.PeerHostname, "db.local"), tracer.Tag(ext.SpanKind, ext.SpanKindClient))
			sql.Finish()
			web.Finish()

			failing := tracer.StartSpan("checkout", tracer.ResourceName("Checkout"))
			failing.Finish(tracer.WithError(errors.New("card declined")))

			missing := tracer.StartSpan("http.request", tracer.ResourceName("GET /missing"), tracer.SpanType(ext.SpanTypeWeb),
				tracer.Tag(ext.HTTPMethod, "GET"), tracer.Tag(ext.HTTPCode, "404"))
			missing.Finish()

			keep := tracer.StartSpan("audit", tracer.ResourceName("keep-me"))
			keep.SetTag(ext.ManualKeep, true)
			keep.Finish()

			drop := tracer.StartSpan("noise", tracer.ResourceName("drop-me"))
			drop.SetTag(ext.ManualDrop, true)
			drop.Finish()

			tracer.Flush()
			tracer.Stop()
			stopped = true

			want := 6
			if filterDropsRejected {
				want = 5
			}
			pts := sim.WaitPoints(t, "tracing", want, 30*time.Second)
			bySpan := map[string]harness.Point{}
			for _, p := range pts {
				assert.Equal(t, "ddtrace", p.Measurement)
				bySpan[p.Field("span_id")] = p
			}
			point := func(name string, s *tracer.Span) harness.Point {
				t.Helper()
				p, ok := bySpan[strconv.FormatUint(s.Context().SpanID(), 10)]
				require.True(t, ok, "no point for the %s span (ids are decimal)", name)
				return p
			}
			message := func(p harness.Point) ddMessage {
				t.Helper()
				var m ddMessage
				require.NoError(t, json.Unmarshal([]byte(p.Field("message")), &m), "message is the span as JSON")
				return m
			}

			w, s := point("web", web), point("sql", sql)
			for _, p := range []harness.Point{w, s} {
				assert.Equal(t, web.Context().TraceID(), p.Field("trace_id"), "128-bit trace id: _dd.p.tid + low 64 bits, 32 hex")
				assert.Len(t, p.Field("trace_id"), 32)
			}
			assert.Equal(t, "0", w.Field("parent_id"))
			assert.Equal(t, strconv.FormatUint(web.Context().SpanID(), 10), s.Field("parent_id"))

			for _, p := range pts {
				assert.Equal(t, "ddtrace", p.Tags["source"])
				assert.Equal(t, "shop", p.Tags["service"])
				assert.Equal(t, "e2e", p.Tags["env"])
				assert.Equal(t, "1.4.2", p.Tags["version"])
				assert.Equal(t, "payments", p.Tags["team"], "input tags")
				assert.Equal(t, "127.0.0.1", p.Tags["remote_ip"])
				assert.NotEmpty(t, p.Tags["runtime_id"])
				assert.Equal(t, p.Tags["runtime_id"], p.Tags["runtime-id"])
				assert.InDelta(t, time.Now().UnixMicro(), p.Int("start"), float64(time.Minute.Microseconds()), "start is in µs")
				assert.GreaterOrEqual(t, p.Int("duration"), int64(0))
			}

			assert.Equal(t, "http.request", w.Tags["operation"])
			assert.Equal(t, "GET /cart", w.Field("resource"))
			assert.Equal(t, "entry", w.Tags["span_type"])
			assert.Equal(t, "web", w.Tags["source_type"])
			assert.Equal(t, "ok", w.Tags["status"])
			assert.Equal(t, "GET", w.Tags["http_method"])
			assert.Equal(t, "200", w.Tags["http_status_code"])
			assert.Equal(t, "2xx", w.Tags["http_status_class"])
			assert.Equal(t, "http://shop.local/cart", w.Tags["http_url"])
			assert.Equal(t, "server", w.Tags["span_kind"])
			assert.Equal(t, "sampler_keep", w.Tags["sampling_rate"], "agent rate 1: the tracer's auto keep")
			assert.NotContains(t, message(w).Meta, "http.url", "promoted meta leaves the message")

			assert.Equal(t, "mysql.query", s.Tags["operation"])
			assert.Equal(t, "exit", s.Tags["span_type"], "same service, no children")
			assert.Equal(t, "db", s.Tags["source_type"])
			assert.Equal(t, "mysql", s.Tags["db_system"])
			assert.Equal(t, "shop", s.Tags["db_name"])
			assert.Equal(t, "db.local", s.Tags["db_host"])

			e := point("error", failing)
			assert.Equal(t, "error", e.Tags["status"])
			assert.Equal(t, "card declined", e.Tags["error_message"])
			assert.NotEmpty(t, e.Tags["error_type"])
			// a plain error gets no error.stack from dd-trace-go, only error.handling_stack,
			// which is not promoted and stays in the message
			assert.NotEmpty(t, message(e).Meta["error.handling_stack"])
			assert.NotContains(t, message(e).Meta, "error.message", "promoted")
			assert.Equal(t, "custom", e.Tags["source_type"])

			m := point("404", missing)
			assert.Equal(t, "404", m.Tags["http_status_code"])
			assert.Equal(t, "4xx", m.Tags["http_status_class"])
			assert.Equal(t, "ok", m.Tags["status"], "a 404 is not an error span")

			k := point("keep", keep)
			assert.Equal(t, "user_keep", k.Tags["sampling_rate"])
			assert.InDelta(t, 2, message(k).Metrics["_sampling_priority_v1"], 0)

			d, dropArrived := bySpan[strconv.FormatUint(drop.Context().SpanID(), 10)]
			if filterDropsRejected {
				// all six spans went in one payload, one batch: had the drop trace been kept
				// it would have arrived with the others
				assert.False(t, dropArrived, "the filter's sampler drops a user-rejected trace")
				assert.Len(t, sim.Points(t, "tracing"), 5)
			} else {
				require.True(t, dropArrived, "until the filter drops it, the rejected trace arrives")
				assert.InDelta(t, -1, message(d).Metrics["_sampling_priority_v1"], 0, "the rejecting priority is carried")
				assert.Empty(t, d.Tags["sampling_rate"], "rejects have no sampling_rate tag")
			}

			// The tracer configured itself from /info, and the receiver counted it.
			resp, err := http.Get("http://" + stack.HTTPAddr + "/metrics")
			require.NoError(t, err)
			defer resp.Body.Close()
			metrics, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Contains(t, string(metrics), `tracekit_ddtrace_agent_requests_total{input="ddtrace",route="/info"}`)
		})
	}
}

// testLogger sends the tracer's log to the test log.
type testLogger struct{ t *testing.T }

func (l testLogger) Log(msg string) { l.t.Log(strings.TrimSpace(msg)) }
