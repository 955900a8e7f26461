package service

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/bus/bustest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func noBuild(context.Context, *Env) ([]app.Component, error) { return nil, nil }

func TestMainFlagsAndConfigErrors(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, 0, Main(Spec{Name: "x", Build: noBuild}, []string{"-version"}, &stderr))
	assert.Contains(t, stderr.String(), "x ")

	stderr.Reset()
	assert.Equal(t, 2, Main(Spec{Name: "x", Build: noBuild}, []string{"-nope"}, &stderr))

	bad := filepath.Join(t.TempDir(), "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte("[dataway]\nurls = [\"ftp://x\"]\n"), 0o600))
	stderr.Reset()
	assert.Equal(t, 2, Main(Spec{Name: "x", Build: noBuild}, []string{"-config", bad}, &stderr))
	assert.Contains(t, stderr.String(), "dataway: urls[0]")

	stderr.Reset()
	assert.Equal(t, 2, Main(Spec{Name: "x", Build: noBuild, DefaultConfig: []byte("[bus]\nmode=\"x\"")}, nil, &stderr),
		"the embedded default config is validated too")
}

func TestProbe(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	require.NoError(t, Probe(addr))
	_, port, _ := strings.Cut(addr, ":")
	require.NoError(t, Probe("0.0.0.0:"+port), "a wildcard listen address is probed on loopback")
	ready = false
	require.ErrorContains(t, Probe(addr), "draining")
	require.Error(t, Probe("nonsense"))
}

func TestReceiverNeedsASection(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	env := &Env{Config: &config.Loaded{Config: config.NewDefaultConfig()}, Bus: b}
	none := func(*config.Config, pipeline.Consumer) ([]app.Component, error) { return nil, nil }
	_, err := Receiver(config.SourceZipkin, none)(context.Background(), env)
	require.ErrorContains(t, err, "no [[inputs.zipkin]] section")
}
