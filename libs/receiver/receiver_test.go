package receiver

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func compress(t *testing.T, enc string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch enc {
	case "gzip":
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(data)
		require.NoError(t, w.Close())
	case "deflate":
		w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		_, _ = w.Write(data)
		require.NoError(t, w.Close())
	case "zstd":
		w, _ := zstd.NewWriter(&buf)
		_, _ = w.Write(data)
		require.NoError(t, w.Close())
	default:
		buf.Write(data)
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	payload := []byte(strings.Repeat("span ", 100))
	for _, enc := range []string{"", "identity", "gzip", "GZIP", "deflate", "zstd"} {
		t.Run("enc="+enc, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(compress(t, strings.ToLower(enc), payload)), enc, 1<<20)
			require.NoError(t, err)
			assert.Equal(t, payload, got)
		})
	}
	tests := []struct {
		name, enc string
		body      []byte
		max       int64
		want      string
		status    int
	}{
		{"bad gzip", "gzip", []byte("not gzip"), 0, "invalid gzip body", 400},
		{"bad zstd", "zstd", []byte("not zstd"), 0, "invalid zstd body", 400},
		{"unknown", "br", []byte("x"), 0, `unsupported Content-Encoding "br"`, 400},
		{"raw too large", "", payload, 10, "body exceeds 10 bytes", 413},
		{"zip bomb", "gzip", compress(t, "gzip", bytes.Repeat([]byte{0}, 1<<20)), 4096, "body exceeds 4096 bytes", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.body), tt.enc, tt.max)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, tt.status, HTTPStatus(err))
		})
	}
}

func TestStatusMapping(t *testing.T) {
	base := errors.New("x")
	tests := []struct {
		err  error
		http int
		grpc codes.Code
	}{
		{pipeline.Permanent(base), 400, codes.InvalidArgument},
		{pipeline.Exhausted(base), 429, codes.ResourceExhausted},
		{fmt.Errorf("wrap: %w", ErrTooLarge), 413, codes.ResourceExhausted},
		{base, 503, codes.Unavailable},
		{context.DeadlineExceeded, 503, codes.DeadlineExceeded},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.http, HTTPStatus(tt.err), tt.err.Error())
		assert.Equal(t, tt.grpc, status.Code(GRPCError(tt.err)), tt.err.Error())
	}
	assert.Equal(t, 200, HTTPStatus(nil))
	assert.NoError(t, GRPCError(nil))
	rec := httptest.NewRecorder()
	WriteHTTPError(rec, pipeline.Exhausted(ErrBusy))
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Contains(t, rec.Body.String(), "worker-pool busy")
}

func TestPoolRefusesWhenFull(t *testing.T) {
	p := NewPool(&config.Threads{Threads: 1, Buffer: 1})
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Do(context.Background(), func(context.Context) error { started <- struct{}{}; <-release; return nil })
		}()
	}
	<-started // one running
	require.Eventually(t, func() bool { return p.Admitted() == 2 }, testTimeout, pollEvery, "the other is queued")
	err := p.Do(context.Background(), func(context.Context) error { return nil })
	require.True(t, pipeline.IsExhausted(err) && errors.Is(err, ErrBusy), "third request refused: %v", err)
	close(release)
	wg.Wait()
	require.NoError(t, p.Do(context.Background(), func(context.Context) error { return nil }), "capacity is returned")
	assert.Zero(t, p.Admitted())
	assert.ErrorContains(t, p.Do(context.Background(), func(context.Context) error { return errors.New("job failed") }), "job failed")
}

func TestObsRecord(t *testing.T) {
	o := NewObs(nil)
	o.Record("opentelemetry", "grpc", 10, 3, nil)
	o.Record("opentelemetry", "http", 10, 3, pipeline.Permanent(errors.New("bad")))
	assert.Equal(t, "InvalidArgument", grpcCode(pipeline.Permanent(errors.New("bad"))))
}
