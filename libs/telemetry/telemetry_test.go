package telemetry

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/config"
)

func get(t *testing.T, mux *http.ServeMux, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestAdminEndpoints(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tracekit_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	h := NewHealth()
	mux := http.NewServeMux()
	RegisterRoutes(mux, reg, h)

	code, body := get(t, mux, "/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "tracekit_test_total 3")
	assert.Contains(t, body, "go_goroutines")

	code, _ = get(t, mux, "/healthz")
	assert.Equal(t, 200, code)
	code, _ = get(t, mux, "/readyz")
	assert.Equal(t, 200, code)

	var busErr error = errors.New("nats not connected")
	h.AddCheck("bus", func() error { return busErr })
	code, body = get(t, mux, "/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "nats not connected")
	busErr = nil
	code, _ = get(t, mux, "/readyz")
	assert.Equal(t, 200, code)

	h.SetDraining()
	code, body = get(t, mux, "/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "draining")
	code, _ = get(t, mux, "/healthz")
	assert.Equal(t, 200, code, "draining is not dead")
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(config.Log{Level: "warn", Format: "json"}, &buf)
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	out := buf.String()
	require.NotContains(t, out, "hidden")
	assert.True(t, strings.HasPrefix(out, "{"), "json output")
	assert.Contains(t, out, `"k":"v"`)
	buf.Reset()
	NewLogger(config.Log{Level: "debug", Format: "text"}, &buf).Debug("dbg")
	assert.Contains(t, buf.String(), "msg=dbg")
}

func TestRegisterIsIdempotentAndNilSafe(t *testing.T) {
	reg := prometheus.NewRegistry()
	mk := func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tracekit_dup_total", Help: "x"}, []string{"k"})
	}
	a := Register(reg, mk())
	b := Register(reg, mk())
	assert.Same(t, a, b, "the second registration returns the first collector")
	var nilReg *prometheus.Registry
	assert.NotNil(t, Register(nilReg, mk()), "a typed nil registry is no registry")
	assert.NotNil(t, Register[*prometheus.CounterVec](nil, mk()))
}
