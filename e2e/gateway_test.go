package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
)

func postWrite(t *testing.T, addr, path, contentType string, body []byte) {
	t.Helper()
	resp, err := http.Post("http://"+addr+path, contentType, bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	assert.NotEmpty(t, resp.Header.Get("X-DataKit"))
}

// TestGatewayWritesReachDataway writes a metric (line protocol), a logging point (JSON) and
// an object (line protocol, seconds) through DataKit's /v1/write API and expects each at
// Dataway's /v1/write/<category>, with the category's checks applied.
func TestGatewayWritesReachDataway(t *testing.T) {
	for _, topo := range harness.Topologies {
		t.Run(topo.Name, func(t *testing.T) {
			sim := harness.StartSim(t)
			stack := topo.Start(t, sim, "", []string{"gateway"})
			addr := stack.HTTPAddr

			resp, err := http.Get("http://" + addr + "/v1/ping")
			require.NoError(t, err)
			var ping struct {
				Content map[string]string `json:"content"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&ping))
			resp.Body.Close()
			assert.NotEmpty(t, ping.Content["version"])

			postWrite(t, addr, "/v1/write/metric?precision=ms", "text/plain",
				[]byte("gw_cpu,host=e2e-host usage=42.5,cores=8i 1700000000000"))
			postWrite(t, addr, "/v1/write/logging?input=e2e", "application/json",
				[]byte(`[{"measurement":"gw_app","tags":{"service":"checkout"},"fields":{"message":"order placed"},"time":1700000000000000000}]`))
			postWrite(t, addr, "/v1/write/object", "",
				[]byte("gw_host,name=web-1 cpu_cores=4i 1700000000"))

			metric := sim.WaitPoints(t, "metric", 1, 30*time.Second)
			require.Equal(t, "gw_cpu", metric[0].Measurement)
			assert.Equal(t, "e2e-host", metric[0].Tags["host"])
			assert.Equal(t, "42.5", metric[0].Field("usage"))
			assert.EqualValues(t, 8, metric[0].Int("cores"))
			assert.Equal(t, int64(1700000000000000000), metric[0].Time)

			logs := sim.WaitPoints(t, "logging", 1, 30*time.Second)
			require.Equal(t, "gw_app", logs[0].Measurement)
			assert.Equal(t, "order placed", logs[0].Field("message"))
			assert.Equal(t, "info", logs[0].Field("status"), "logging status defaults to info")

			objs := sim.WaitPoints(t, "object", 1, 30*time.Second)
			require.Equal(t, "gw_host", objs[0].Measurement)
			assert.Equal(t, "web-1", objs[0].Tags["name"])
			assert.Equal(t, int64(1700000000000000000), objs[0].Time, "auto-detected seconds")
		})
	}
}

// TestGatewayRefusesBadWrites checks DataKit's error JSON on the real listener.
func TestGatewayRefusesBadWrites(t *testing.T) {
	sim := harness.StartSim(t)
	stack := harness.StartAllInOne(t, sim, "")
	resp, err := http.Post("http://"+stack.HTTPAddr+"/v1/write/nonsense", "text/plain", bytes.NewReader([]byte("m v=1i")))
	require.NoError(t, err)
	defer resp.Body.Close()
	var e struct {
		ErrorCode string `json:"error_code"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "datakit.invalidCategory", e.ErrorCode)
}
