package otlpreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/pipeline/pipelinetest"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-otlp/otlpreceiver/internal/translator"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testTimeout = 10 * time.Second
	pollEvery   = 5 * time.Millisecond
)

// harness is a started receiver on 127.0.0.1 with an HTTP server over its mux.
type harness struct {
	r    *Receiver
	sink *pipelinetest.Sink
	url  string // HTTP trace endpoint
	grpc ptraceotlp.GRPCClient
}

func otelConfig(edit func(*config.OpenTelemetry)) *config.Config {
	cfg := &config.Config{}
	o := config.OpenTelemetry{
		GRPC: &config.OTelGRPC{Addr: "127.0.0.1:0", MaxPayload: 1 << 20},
		HTTP: &config.OTelHTTP{TraceAPI: "/otel/v1/traces"},
	}
	o.Threads = &config.Threads{Threads: 4, Buffer: 4}
	if edit != nil {
		edit(&o)
	}
	cfg.Inputs.OpenTelemetry = []config.OpenTelemetry{o}
	return cfg
}

func start(t *testing.T, cfg *config.Config) *harness {
	t.Helper()
	s := &pipelinetest.Sink{}
	comps, err := Components(cfg, s)
	require.NoError(t, err)
	require.Len(t, comps, 1)
	r := comps[0].(*Receiver)
	r.Now = func() time.Time { return time.Unix(0, 42) }
	base, _ := apptest.StartComponents(t, r)
	h := &harness{r: r, sink: s, url: base + cfg.Inputs.OpenTelemetry[0].HTTP.TraceAPI}
	cc, err := grpc.NewClient(r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	h.grpc = ptraceotlp.NewGRPCClient(cc)
	t.Cleanup(func() { _ = cc.Close() })
	return h
}

func testTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "cart")
	sl := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		sp := sl.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(i % 2)})
		sp.SetSpanID(pcommon.SpanID{1, byte(i + 1)})
		sp.SetName("GET /")
		sp.SetStartTimestamp(1_000)
		sp.SetEndTimestamp(3_000)
		sp.Attributes().PutInt("http.response.status_code", 200)
	}
	return td
}

func protoBody(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return b
}

func post(t *testing.T, url, contentType, encoding string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, out
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func checkBatch(t *testing.T, b *spanv1.TraceBatch, spans int) {
	t.Helper()
	assert.Equal(t, config.SourceOpenTelemetry, b.Source)
	assert.Equal(t, "opentelemetry", b.Input)
	assert.Equal(t, int64(42), b.ReceivedUnixNano)
	assert.Equal(t, spans, spanmodel.SpanCount(b))
	s := b.Traces[0].Spans[0]
	assert.Equal(t, "cart", s.Service)
	assert.Equal(t, "127.0.0.1", s.Tags["remote_ip"])
	assert.Equal(t, "200", s.Tags["http_status_code"])
}

func TestSourceConstant(t *testing.T) {
	assert.Equal(t, config.SourceOpenTelemetry, translator.Source)
}

func TestComponents(t *testing.T) {
	comps, err := Components(&config.Config{}, &pipelinetest.Sink{})
	require.NoError(t, err)
	assert.Empty(t, comps, "no section, no receiver")

	cfg := otelConfig(nil)
	cfg.Inputs.OpenTelemetry = append(cfg.Inputs.OpenTelemetry, cfg.Inputs.OpenTelemetry[0])
	_, err = Components(cfg, &pipelinetest.Sink{})
	require.ErrorContains(t, err, "inputs.opentelemetry[1].http.trace_api")

	cfg.Inputs.OpenTelemetry[1].HTTP = &config.OTelHTTP{TraceAPI: "/other"}
	_, err = Components(cfg, &pipelinetest.Sink{})
	require.ErrorContains(t, err, "inputs.opentelemetry[1].grpc.addr")

	cfg.Inputs.OpenTelemetry[1].GRPC = nil
	comps, err = Components(cfg, &pipelinetest.Sink{})
	require.NoError(t, err)
	require.Len(t, comps, 2)
	assert.Equal(t, "opentelemetry#1", comps[1].(*Receiver).input)

	_, err = Components(otelConfig(func(o *config.OpenTelemetry) { o.CustomerTags = []string{"reg:["} }), &pipelinetest.Sink{})
	require.ErrorContains(t, err, "inputs.opentelemetry[0].customer_tags[0]")
}

func TestGRPCExport(t *testing.T) {
	h := start(t, otelConfig(nil))
	for _, opts := range [][]grpc.CallOption{nil, {grpc.UseCompressor(grpcgzip.Name)}} {
		_, err := h.grpc.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(3)), opts...)
		require.NoError(t, err)
	}
	batches := h.sink.Batches()
	require.Len(t, batches, 2)
	for _, b := range batches {
		checkBatch(t, b, 3)
		assert.Len(t, b.Traces, 2, "grouped by trace id")
	}
}

func TestGRPCErrors(t *testing.T) {
	h := start(t, otelConfig(nil))
	conn, err := grpc.NewClient(h.r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	require.NoError(t, err)
	defer conn.Close()
	err = conn.Invoke(context.Background(), TraceServiceExport, &rawMessage{data: []byte("\x0a\xff\xff\xff garbage")}, &rawMessage{})
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	assert.ErrorContains(t, err, "decode OTLP protobuf request")

	big := make([]byte, 2<<20)
	err = conn.Invoke(context.Background(), TraceServiceExport, &rawMessage{data: big}, &rawMessage{})
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "over max_payload: %v", err)

	h.sink.SetErr(errors.New("bus down"))
	_, err = h.grpc.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(1)))
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	h.sink.SetErr(pipeline.Exhausted(errors.New("stream full")))
	_, err = h.grpc.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(1)))
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	assert.Empty(t, h.sink.Batches())
}

func TestHTTPExport(t *testing.T) {
	h := start(t, otelConfig(nil))
	td := testTraces(2)
	pb := protoBody(t, td)
	js, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	require.NoError(t, err)
	tests := []struct {
		name, ct, enc string
		body          []byte
		wantCT        string
		wantBody      string
	}{
		{"protobuf", "application/x-protobuf", "", pb, "application/x-protobuf", ""},
		{"protobuf gzip", "application/x-protobuf", "gzip", gzipped(t, pb), "application/x-protobuf", ""},
		{"json with params", "application/json; charset=utf-8", "", js, "application/json", "{}"},
		{"json gzip", "Application/JSON", "gzip", gzipped(t, js), "application/json", "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.sink.Batches())
			resp, body := post(t, h.url, tt.ct, tt.enc, tt.body, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, tt.wantCT, resp.Header.Get("Content-Type"))
			assert.Equal(t, tt.wantBody, string(body), "serialized empty ExportTraceServiceResponse")
			batches := h.sink.Batches()
			require.Len(t, batches, before+1)
			checkBatch(t, batches[before], 2)
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	h := start(t, otelConfig(func(o *config.OpenTelemetry) {
		o.GRPC.MaxPayload = 1024
		o.ExpectedHeaders = map[string]string{"X-Token": "t1"}
	}))
	pb := protoBody(t, testTraces(1))
	ok := map[string]string{"X-Token": "t1"}
	tests := []struct {
		name, ct, enc string
		body          []byte
		hdr           map[string]string
		code          int
		msg           string
	}{
		{"garbage protobuf", "application/x-protobuf", "", []byte("\x0a\xff\xff garbage"), ok, 400, "decode OTLP protobuf request"},
		{"garbage json", "application/json", "", []byte("{not json"), ok, 400, "decode OTLP JSON request"},
		{"wrong content type", "text/plain", "", pb, ok, 400, `unsupported Content-Type "text/plain"`},
		{"no content type", "", "", pb, ok, 400, "unsupported Content-Type"},
		{"bad gzip", "application/x-protobuf", "gzip", pb, ok, 400, "invalid gzip body"},
		{"too large", "application/x-protobuf", "", make([]byte, 2048), ok, 413, "body exceeds 1024 bytes"},
		{"missing expected header", "application/x-protobuf", "", pb, nil, 400, "expected header X-Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, h.url, tt.ct, tt.enc, tt.body, tt.hdr)
			assert.Equal(t, tt.code, resp.StatusCode)
			assert.Contains(t, string(body), tt.msg)
		})
	}
	assert.Empty(t, h.sink.Batches())

	resp, body := post(t, h.url, "application/x-protobuf", "", pb, ok)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	h.sink.SetErr(errors.New("bus down"))
	resp, _ = post(t, h.url, "application/x-protobuf", "", pb, ok)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
}

// TestOverload fills the pool (1 thread + 1 queued) with blocked requests: the next HTTP
// and gRPC requests are refused with 429 / ResourceExhausted, then served once it drains.
func TestOverload(t *testing.T) {
	h := start(t, otelConfig(func(o *config.OpenTelemetry) { o.Threads = &config.Threads{Threads: 1, Buffer: 1} }))
	release := h.sink.Block()

	pb := protoBody(t, testTraces(1))
	var wg sync.WaitGroup
	codesSeen := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(pb))
			req.Header.Set("Content-Type", "application/x-protobuf")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codesSeen <- -1
				return
			}
			resp.Body.Close()
			codesSeen <- resp.StatusCode
		}()
	}
	require.Eventually(t, func() bool { return h.sink.Calls() == 1 }, testTimeout, pollEvery, "one running in the consumer")
	require.Eventually(t, func() bool { return h.r.pool.Admitted() == 2 }, testTimeout, pollEvery, "the other waits for a thread")
	resp, body := post(t, h.url, "application/x-protobuf", "", pb, nil)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "worker-pool busy")
	_, err := h.grpc.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(1)))
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)

	release()
	wg.Wait()
	close(codesSeen)
	for c := range codesSeen {
		assert.Equal(t, http.StatusOK, c)
	}
	_, err = h.grpc.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(testTraces(1)))
	require.NoError(t, err, "served again after the pool drained")
}

func TestShutdownWithoutStart(t *testing.T) {
	r, err := New("opentelemetry", &otelConfig(nil).Inputs.OpenTelemetry[0], &pipelinetest.Sink{})
	require.NoError(t, err)
	require.NoError(t, r.Shutdown(context.Background()))
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	h := start(t, otelConfig(nil))
	cfg := otelConfig(func(o *config.OpenTelemetry) { o.GRPC.Addr = h.r.GRPCAddr().String() })
	r, err := New("opentelemetry", &cfg.Inputs.OpenTelemetry[0], &pipelinetest.Sink{})
	require.NoError(t, err)
	err = r.Start(context.Background(), &app.Host{Mux: http.NewServeMux()})
	require.ErrorContains(t, err, "grpc.addr")
}
