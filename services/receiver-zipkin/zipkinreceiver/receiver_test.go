package zipkinreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/pipeline/pipelinetest"
	"github.com/tracekit/tracekit/libs/spanmodel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs the receivers of cfg on a test server and returns its URL.
func start(t *testing.T, cfg *config.Config, next pipeline.Consumer) string {
	t.Helper()
	url, _ := startReceivers(t, cfg, next)
	return url
}

func startReceivers(t *testing.T, cfg *config.Config, next pipeline.Consumer) (string, []*Receiver) {
	t.Helper()
	var recvs []*Receiver
	comps, err := Components(cfg, next)
	require.NoError(t, err)
	for _, c := range comps {
		c.(*Receiver).now = func() time.Time { return time.Unix(0, 42) }
		recvs = append(recvs, c.(*Receiver))
	}
	url, _ := apptest.StartComponents(t, comps...)
	return url, recvs
}

func zipkinConfig(sections ...config.Zipkin) *config.Config {
	if len(sections) == 0 {
		sections = []config.Zipkin{{}}
	}
	return &config.Config{Inputs: config.Inputs{Zipkin: sections}}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("internal", "translator", "testdata", name))
	require.NoError(t, err)
	return b
}

func post(t *testing.T, url, contentType, encoding string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestAcceptsEveryEncoding(t *testing.T) {
	tests := []struct {
		name, path, contentType, encoding, fixture string
		spans                                      int
	}{
		{"v2 json", "/api/v2/spans", "application/json", "", "v2_multi_service.json", 6},
		{"v2 json no content type", "/api/v2/spans", "", "", "v2_multi_service.json", 6},
		{"v2 json gzip", "/api/v2/spans", "application/json; charset=utf-8", "gzip", "v2_multi_service.json", 6},
		{"v2 proto", "/api/v2/spans", "application/x-protobuf", "", "v2_multi_service.pb", 6},
		{"v2 proto gzip", "/api/v2/spans", "application/x-protobuf", "gzip", "v2_multi_service.pb", 6},
		{"v1 json", "/api/v1/spans", "application/json", "", "v1_multi_service.json", 3},
		{"v1 thrift", "/api/v1/spans", "application/x-thrift", "", "v1_multi_service.thrift", 3},
		{"v1 thrift gzip", "/api/v1/spans", "application/x-thrift", "gzip", "v1_multi_service.thrift", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &pipelinetest.Sink{}
			url := start(t, zipkinConfig(config.Zipkin{Tracing: config.Tracing{Tags: map[string]string{"cluster": "c1"}}}), s)
			body := fixture(t, tt.fixture)
			if tt.encoding == "gzip" {
				body = gz(t, body)
			}
			code, msg := post(t, url+tt.path, tt.contentType, tt.encoding, body)
			require.Equal(t, http.StatusOK, code, msg)
			got := s.Batches()
			require.Len(t, got, 1)
			b := got[0]
			assert.Equal(t, config.SourceZipkin, b.Source)
			assert.Equal(t, "zipkin", b.Input)
			assert.Equal(t, int64(42), b.ReceivedUnixNano)
			assert.Equal(t, tt.spans, spanmodel.SpanCount(b))
			assert.Equal(t, "c1", b.Traces[0].Spans[0].Tags["cluster"], "input tags applied")
		})
	}
}

func TestBadInputIs400NamingTheProblem(t *testing.T) {
	tests := []struct {
		name, path, contentType, encoding string
		body                              []byte
		want                              string
	}{
		{"v2 bad json", "/api/v2/spans", "application/json", "", []byte(`[{"traceId":`), "invalid zipkin v2 JSON"},
		{"v2 bad hex", "/api/v2/spans", "application/json", "", []byte(`[{"traceId":"zz","id":"01"}]`), "invalid zipkin v2 JSON"},
		{"v2 no span id", "/api/v2/spans", "application/json", "", []byte(`[{"traceId":"01"}]`), "valid span id required"},
		{"v2 bad proto", "/api/v2/spans", "application/x-protobuf", "", []byte{0x0a, 0xff}, "invalid zipkin v2 protobuf"},
		{"v2 other type", "/api/v2/spans", "text/plain", "", []byte(`[]`), `unsupported Content-Type "text/plain"`},
		{"v1 bad id", "/api/v1/spans", "application/json", "", []byte(`[{"traceId":"01","id":"xyz"}]`), `span[0]: id "xyz"`},
		{"v1 bad thrift", "/api/v1/spans", "application/x-thrift", "", []byte{0x0c, 0x7f, 0xff, 0xff, 0xff}, "invalid zipkin v1 thrift"},
		{"v1 other type", "/api/v1/spans", "application/x-protobuf", "", []byte{}, "unsupported Content-Type"},
		{"bad gzip", "/api/v2/spans", "application/json", "gzip", []byte("plain"), "invalid gzip body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &pipelinetest.Sink{}
			url := start(t, zipkinConfig(), s)
			code, msg := post(t, url+tt.path, tt.contentType, tt.encoding, tt.body)
			assert.Equal(t, http.StatusBadRequest, code)
			assert.Contains(t, msg, tt.want)
			assert.Empty(t, s.Batches())
		})
	}
}

func TestEmptyPayloadPublishesNothing(t *testing.T) {
	s := &pipelinetest.Sink{}
	url := start(t, zipkinConfig(), s)
	code, _ := post(t, url+"/api/v2/spans", "application/json", "", []byte(`[]`))
	assert.Equal(t, http.StatusOK, code)
	assert.Empty(t, s.Batches())
}

func TestTransientBusErrorIs503(t *testing.T) {
	s := &pipelinetest.Sink{}
	s.SetErr(errors.New("nats: timeout"))
	url := start(t, zipkinConfig(), s)
	code, msg := post(t, url+"/api/v2/spans", "application/json", "", fixture(t, "v2_multi_service.json"))
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, msg, "nats: timeout")
}

func TestFullPoolIs429(t *testing.T) {
	next := &pipelinetest.Sink{}
	release := next.Block()
	url, recvs := startReceivers(t, zipkinConfig(config.Zipkin{Tracing: config.Tracing{Threads: &config.Threads{Threads: 1, Buffer: 1}}}), next)
	body := fixture(t, "v2_multi_service.json")
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			code, _ := post(t, url+"/api/v2/spans", "application/json", "", body)
			codes <- code
		}()
	}
	require.Eventually(t, func() bool { return next.Calls() == 1 }, 5*time.Second, 5*time.Millisecond, "one in the consumer")
	require.Eventually(t, func() bool { return recvs[0].pool.Admitted() == 2 }, 5*time.Second, 5*time.Millisecond, "one running, one queued")
	code, msg := post(t, url+"/api/v2/spans", "application/json", "", body)
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Contains(t, msg, "worker-pool busy")
	release()
	assert.Equal(t, http.StatusOK, <-codes)
	assert.Equal(t, http.StatusOK, <-codes)
}

func TestConflictingPathsFailAtStart(t *testing.T) {
	comps, err := Components(zipkinConfig(config.Zipkin{}, config.Zipkin{}), &pipelinetest.Sink{})
	require.NoError(t, err)
	require.Len(t, comps, 2)
	assert.Equal(t, "receiver/zipkin#1", comps[1].Name())
	host := apptest.NewHost()
	require.NoError(t, comps[0].Start(context.Background(), host))
	err = comps[1].Start(context.Background(), host)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zipkin#1 pathV1")
}

func TestComponentsValidatesIgnoreTags(t *testing.T) {
	_, err := Components(zipkinConfig(config.Zipkin{Tracing: config.Tracing{IgnoreTags: []string{"("}}}), &pipelinetest.Sink{})
	assert.ErrorContains(t, err, "inputs.zipkin[0].ignore_tags[0]")
	comps, err := Components(&config.Config{}, &pipelinetest.Sink{})
	require.NoError(t, err)
	assert.Empty(t, comps, "no section, no receiver")
}
