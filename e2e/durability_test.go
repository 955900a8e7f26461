package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
)

const otlpHTTPInputs = `
[[inputs.opentelemetry]]
  [inputs.opentelemetry.http]
    trace_api = "/otel/v1/traces"
`

// otlpJSON is one OTLP/JSON trace of two spans; ids differ per call so runs don't collide.
func otlpJSON(i int) []byte {
	return fmt.Appendf(nil, `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"durable-svc"}}]},
 "scopeSpans":[{"spans":[
  {"traceId":"%032x","spanId":"%016x","name":"GET /a","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000002000000","status":{"code":1}},
  {"traceId":"%032x","spanId":"%016x","parentSpanId":"%016x","name":"SELECT","kind":3,"startTimeUnixNano":"1700000000000500000","endTimeUnixNano":"1700000000001000000","status":{}}
 ]}]}]}`, i+1, 2*i+1, i+1, 2*i+2, 2*i+1)
}

func postOTLP(t *testing.T, addr string, body []byte) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/otel/v1/traces", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "span must be acknowledged")
}

// spanKeys counts points by trace_id/span_id.
func spanKeys(pts []harness.Point) map[string]int {
	m := map[string]int{}
	for _, p := range pts {
		m[p.Field("trace_id")+"/"+p.Field("span_id")]++
	}
	return m
}

// TestAckedSpansSurviveKill9 acknowledges spans while Dataway fails, kills the process that
// holds them (the all-in-one, or the sender of the split topology) with SIGKILL, heals
// Dataway, restarts, and expects every acknowledged span delivered.
func TestAckedSpansSurviveKill9(t *testing.T) {
	for _, topo := range harness.Topologies {
		t.Run(topo.Name, func(t *testing.T) {
			sim := harness.StartSim(t)
			stack := topo.Start(t, sim, otlpHTTPInputs, []string{"receiver-otlp"})
			victim := "sender"
			if topo.Name == "allinone" {
				victim = "tracekit"
			}
			sim.SetFault(t, harness.Fault{PathPrefix: "/v1/write", Status: 503})
			const traces = 20
			for i := 0; i < traces; i++ {
				postOTLP(t, stack.HTTPAddr, otlpJSON(i))
			}
			// Let the sender hold and retry the data at least once before it dies.
			time.Sleep(500 * time.Millisecond)
			stack.Proc(t, victim).Kill(t)
			require.Empty(t, sim.Points(t, "tracing"), "nothing may be delivered while Dataway fails")
			sim.ClearFaults(t)
			stack.RestartProc(t, victim)

			pts := sim.WaitPoints(t, "tracing", 2*traces, 60*time.Second)
			keys := spanKeys(pts)
			assert.Len(t, keys, 2*traces, "every acknowledged span is delivered")
			for i := 0; i < traces; i++ {
				for _, sid := range []int{2*i + 1, 2*i + 2} {
					k := fmt.Sprintf("%032x/%016x", i+1, sid)
					assert.Positive(t, keys[k], "span %s lost", k)
				}
			}
		})
	}
}
