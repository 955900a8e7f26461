package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHealthcheckFlag(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	for _, tc := range []struct {
		name, url string
		want      int
	}{
		{"ready", ok.URL + "/healthz", 0},
		{"unhealthy", failing.URL + "/healthz", 1},
		{"down", down.URL + "/healthz", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			assert.Equal(t, tc.want, run([]string{"-healthcheck", tc.url}, &stderr), stderr.String())
			if tc.want != 0 {
				assert.Contains(t, stderr.String(), "not ready")
			}
		})
	}
}
