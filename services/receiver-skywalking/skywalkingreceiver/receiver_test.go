package skywalkingreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/pipeline/pipelinetest"
	"github.com/tracekit/tracekit/services/receiver-skywalking/skywalkingreceiver/internal/translator"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
)

const (
	testTimeout = 10 * time.Second
	pollEvery   = 5 * time.Millisecond
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type harness struct {
	r    *Receiver
	sink *pipelinetest.Sink
	reg  *prometheus.Registry
	url  string // base URL of the HTTP server over the host mux
	conn *grpc.ClientConn
}

// start runs one [[inputs.skywalking]] section on 127.0.0.1 random ports.
func start(t *testing.T, toml string, s *pipelinetest.Sink) *harness {
	t.Helper()
	if s == nil {
		s = &pipelinetest.Sink{}
	}
	loaded, err := config.Parse([]byte("[[inputs.skywalking]]\naddress = \"127.0.0.1:0\"\n"+toml), nil)
	require.NoError(t, err)
	comps, err := Components(loaded.Config, s)
	require.NoError(t, err)
	require.Len(t, comps, 1)
	r := comps[0].(*Receiver)
	r.now = func() time.Time { return time.Unix(1_800_000_000, 0) }
	url, host := apptest.StartComponents(t, r)
	conn, err := grpc.NewClient(r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &harness{r: r, sink: s, reg: host.Registry, url: url, conn: conn}
}

func segment(traceID, segID string, spans ...*agentv3.SpanObject) *agentv3.SegmentObject {
	return &agentv3.SegmentObject{TraceId: traceID, TraceSegmentId: segID, Service: "svc", ServiceInstance: "inst", Spans: spans}
}

func span(id, parent int32, typ agentv3.SpanType) *agentv3.SpanObject {
	return &agentv3.SpanObject{SpanId: id, ParentSpanId: parent, StartTime: 1_700_000_000_000, EndTime: 1_700_000_000_010, OperationName: "op", SpanType: typ}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestComponents(t *testing.T) {
	loaded, err := config.Parse([]byte("[http]\nlisten = \"127.0.0.1:0\"\n"), nil)
	require.NoError(t, err)
	comps, err := Components(loaded.Config, &pipelinetest.Sink{})
	require.NoError(t, err)
	assert.Empty(t, comps, "no section, no receiver")

	loaded, err = config.Parse([]byte("[[inputs.skywalking]]\n[[inputs.skywalking]]\naddress = \"127.0.0.1:0\"\n"), nil)
	require.NoError(t, err)
	comps, err = Components(loaded.Config, &pipelinetest.Sink{})
	require.NoError(t, err)
	require.Len(t, comps, 2)
	assert.Equal(t, "receiver/skywalking", comps[0].Name())
	assert.Equal(t, "receiver/skywalking#1", comps[1].Name())
	assert.Equal(t, "127.0.0.1:11800", comps[0].(*Receiver).address, "DataKit's default address")
	assert.Equal(t, translator.Source, config.SourceSkyWalking)
}

func TestSecondSectionOnSameRoutesFailsToStart(t *testing.T) {
	h := start(t, "", nil)
	loaded, err := config.Parse([]byte("[[inputs.skywalking]]\naddress = \"127.0.0.1:0\"\n"), nil)
	require.NoError(t, err)
	comps, err := Components(loaded.Config, &pipelinetest.Sink{})
	require.NoError(t, err)
	mux := http.NewServeMux()
	other := comps[0].(*Receiver)
	require.NoError(t, other.mountHTTP(&app.Host{Mux: mux}))
	err = h.r.mountHTTP(&app.Host{Mux: mux})
	require.ErrorContains(t, err, "POST /v3/trace")
	require.NoError(t, other.Shutdown(context.Background()), "shutdown without start is a no-op")
}

func TestGRPCCollectStream(t *testing.T) {
	h := start(t, "[inputs.skywalking.tags]\nregion = \"eu\"\n", nil)
	client := agentv3.NewTraceSegmentReportServiceClient(h.conn)
	stream, err := client.Collect(ctxT(t))
	require.NoError(t, err)
	require.NoError(t, stream.Send(segment("T1", "S1", span(0, -1, agentv3.SpanType_Entry), span(1, 0, agentv3.SpanType_Exit))))
	// A long-lived agent stream: the segment is published without waiting for the close.
	require.Eventually(t, func() bool { return len(h.sink.Batches()) == 1 }, testTimeout, pollEvery)
	ref := span(0, -1, agentv3.SpanType_Entry)
	ref.Refs = []*agentv3.SegmentReference{{TraceId: "T1", ParentTraceSegmentId: "S1", ParentSpanId: 1}}
	require.NoError(t, stream.Send(segment("T1", "S2", ref)))
	_, err = stream.CloseAndRecv()
	require.NoError(t, err)

	batches := h.sink.Batches()
	require.Len(t, batches, 2)
	b := batches[0]
	assert.Equal(t, "skywalking", b.Source)
	assert.Equal(t, "skywalking", b.Input)
	assert.Equal(t, time.Unix(1_800_000_000, 0).UnixNano(), b.ReceivedUnixNano)
	require.Len(t, b.Traces, 1)
	require.Len(t, b.Traces[0].Spans, 2)
	assert.Equal(t, "S11", b.Traces[0].Spans[1].SpanId)
	assert.Equal(t, "exit", b.Traces[0].Spans[1].SpanType)
	assert.Equal(t, "eu", b.Traces[0].Spans[1].Tags["region"])
	assert.Equal(t, "S11", batches[1].Traces[0].Spans[0].ParentId, "the reference links the second segment to the exit span")
	assert.Equal(t, 3.0, metricValue(t, h.reg, "tracekit_receiver_spans_total", map[string]string{"source": "skywalking", "transport": "grpc", "result": "accepted"}))
}

func TestGRPCCollectInSync(t *testing.T) {
	h := start(t, "", nil)
	client := agentv3.NewTraceSegmentReportServiceClient(h.conn)
	_, err := client.CollectInSync(ctxT(t), &agentv3.SegmentCollection{Segments: []*agentv3.SegmentObject{
		segment("A", "SA", span(0, -1, agentv3.SpanType_Entry)),
		segment("B", "SB", span(0, -1, agentv3.SpanType_Entry), span(1, 0, agentv3.SpanType_Local)),
	}})
	require.NoError(t, err)
	batches := h.sink.Batches()
	require.Len(t, batches, 1, "one collection, one batch")
	require.Len(t, batches[0].Traces, 2, "grouped by trace id")
	assert.Equal(t, "local", batches[0].Traces[1].Spans[1].SpanType)

	_, err = client.CollectInSync(ctxT(t), &agentv3.SegmentCollection{})
	require.NoError(t, err, "an empty collection is fine")
	assert.Len(t, h.sink.Batches(), 1, "and publishes nothing")
}

func TestGRPCBadSegmentIsInvalidArgument(t *testing.T) {
	h := start(t, "", nil)
	client := agentv3.NewTraceSegmentReportServiceClient(h.conn)
	_, err := client.CollectInSync(ctxT(t), &agentv3.SegmentCollection{Segments: []*agentv3.SegmentObject{segment("", "S", span(0, -1, 0))}})
	assertCode(t, err, "InvalidArgument", "segments[0]: invalid segment: traceId is empty")

	stream, err := client.Collect(ctxT(t))
	require.NoError(t, err)
	require.NoError(t, stream.Send(segment("T", "", span(0, -1, 0))))
	_, err = stream.CloseAndRecv()
	assertCode(t, err, "InvalidArgument", "traceSegmentId is empty")
	assert.Empty(t, h.sink.Batches())
}

// rawCodec sends bytes as they are, to put a malformed message on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { return nil }
func (rawCodec) Name() string                       { return "proto" }

// gRPC answers a message it cannot decode with Internal before the handler sees it; the
// receiver only counts it.
func TestGRPCMalformedStreamMessageIsCounted(t *testing.T) {
	h := start(t, "", nil)
	desc := &grpc.StreamDesc{StreamName: "collect", ClientStreams: true}
	st, err := h.conn.NewStream(ctxT(t), desc, "/skywalking.v3.TraceSegmentReportService/collect", grpc.ForceCodec(rawCodec{}))
	require.NoError(t, err)
	require.NoError(t, st.SendMsg([]byte("\xff\xff\xff")))
	require.NoError(t, st.CloseSend())
	err = st.RecvMsg(new([]byte))
	assertCode(t, err, "Internal", "failed to unmarshal")
	require.Eventually(t, func() bool {
		return metricValue(t, h.reg, "tracekit_receiver_requests_total", map[string]string{"transport": "grpc", "code": "Internal"}) == 1
	}, testTimeout, pollEvery)
	assert.Empty(t, h.sink.Batches())
}

func assertCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "code = "+code)
	assert.Contains(t, err.Error(), msg)
}

func TestGRPCPoolFullIsResourceExhausted(t *testing.T) {
	s := &pipelinetest.Sink{}
	release := s.Block()
	h := start(t, "[inputs.skywalking.threads]\nthreads = 1\nbuffer = 1\n", s)
	client := agentv3.NewTraceSegmentReportServiceClient(h.conn)
	col := &agentv3.SegmentCollection{Segments: []*agentv3.SegmentObject{segment("T", "S", span(0, -1, 0))}}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.CollectInSync(ctxT(t), col)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return s.Calls() == 1 }, testTimeout, pollEvery, "one running, the other queued behind it")
	waitPoolFull(t, h.r)
	_, err := client.CollectInSync(ctxT(t), col)
	assertCode(t, err, "ResourceExhausted", "worker-pool busy")
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}

	s.SetErr(pipeline.Exhausted(errors.New("stream TRACEKIT_SPANS full")))
	_, err = client.CollectInSync(ctxT(t), col)
	assertCode(t, err, "ResourceExhausted", "TRACEKIT_SPANS full")
}

func TestGRPCShutdownEndsIdleStreams(t *testing.T) {
	h := start(t, "", nil)
	stream, err := agentv3.NewTraceSegmentReportServiceClient(h.conn).Collect(ctxT(t))
	require.NoError(t, err)
	require.NoError(t, stream.Send(segment("T", "S", span(0, -1, 0))))
	require.Eventually(t, func() bool { return len(h.sink.Batches()) == 1 }, testTimeout, pollEvery)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	begin := time.Now()
	require.NoError(t, h.r.Shutdown(ctx), "the idle stream does not hold shutdown until the deadline")
	assert.Less(t, time.Since(begin), testTimeout/2)
	_, err = stream.CloseAndRecv()
	assertCode(t, err, "Unavailable", "shutting down")
}

func postBody(t *testing.T, h *harness, path, contentType string, body []byte, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, h.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestHTTP(t *testing.T) {
	h := start(t, "", nil)
	seg := segment("T", "S", span(0, -1, agentv3.SpanType_Entry), span(1, 0, agentv3.SpanType_Exit))
	pb, err := proto.Marshal(seg)
	require.NoError(t, err)
	js, err := protojson.Marshal(seg)
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(pb)
	require.NoError(t, zw.Close())

	tests := []struct {
		name, path, ct string
		body           []byte
		hdr            []string
		code           int
		want           string
		spans          int
	}{
		{"trace protobuf", "/v3/trace", "application/x-protobuf", pb, nil, 200, "", 2},
		{"trace gzip", "/v3/trace", "application/x-protobuf", gz.Bytes(), []string{"Content-Encoding", "gzip"}, 200, "", 2},
		{"trace wrong content type", "/v3/trace", "application/json", js, nil, 400, `unsupported Content-Type "application/json" for /v3/trace`, 0},
		{"trace garbage", "/v3/trace", "application/x-protobuf", []byte("\xff\xff\xff"), nil, 400, "protobuf SegmentObject", 0},
		{"segment json", "/v3/segment", "application/json", js, nil, 200, "{}", 2},
		{"segment OAP names", "/v3/segment", "application/json", []byte(`{"traceId":"T2","traceSegmentId":"S2","service":"s",
			"spans":[{"spanId":0,"parentSpanId":-1,"startTime":"1700000000000","endTime":1700000000005,"spanType":"Exit","spanLayer":"Database","isError":true}]}`), nil, 200, "{}", 1},
		{"segment not json", "/v3/segment", "application/json", []byte("nope"), nil, 400, "JSON SegmentObject", 0},
		{"segment without trace id", "/v3/segment", "application/json", []byte(`{"traceSegmentId":"S"}`), nil, 400, "traceId is empty", 0},
		{"segments array", "/v3/segments", "application/json", []byte("[" + string(js) + "," + string(js) + "]"), nil, 200, "{}", 4},
		{"segments object", "/v3/segments", "application/json", js, nil, 400, "want an array of SegmentObject", 0},
		{"segments bad element", "/v3/segments", "application/json", []byte(`[` + string(js) + `,{"spans":3}]`), nil, 400, "JSON segments[1]", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.sink.Spans())
			code, body := postBody(t, h, tt.path, tt.ct, tt.body, tt.hdr...)
			assert.Equal(t, tt.code, code, body)
			if tt.want != "" {
				assert.Contains(t, body, tt.want)
			}
			assert.Equal(t, tt.spans, len(h.sink.Spans())-before)
		})
	}
	spans := h.sink.Spans()
	require.NotEmpty(t, spans)
	assert.Equal(t, "error", spans[len(spans)-5].Status, "the OAP-named segment kept isError")
	code, _ := postBody(t, h, "/v3/metric", "application/json", []byte("{}"))
	assert.Equal(t, http.StatusNotFound, code, "DataKit's metric route is not served")
}

func TestHTTPEndpointsFromConfig(t *testing.T) {
	h := start(t, "endpoints = [\"/v3/trace\", \"/v3/metric\", \"/v3/logging\", \"/v3/profiling\"]\n", nil)
	pb, err := proto.Marshal(segment("T", "S", span(0, -1, 0)))
	require.NoError(t, err)
	code, body := postBody(t, h, "/v3/trace", "application/x-protobuf", pb)
	assert.Equal(t, 200, code, body)
	code, _ = postBody(t, h, "/v3/segments", "application/json", []byte("[]"))
	assert.Equal(t, http.StatusNotFound, code, "only the listed routes are mounted")
}

func TestHTTPPoolFullIs429(t *testing.T) {
	s := &pipelinetest.Sink{}
	release := s.Block()
	h := start(t, "[inputs.skywalking.threads]\nthreads = 1\nbuffer = 1\n", s)
	js, err := protojson.Marshal(segment("T", "S", span(0, -1, 0)))
	require.NoError(t, err)
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := postBody(t, h, "/v3/segment", "application/json", js)
			codes <- code
		}()
	}
	require.Eventually(t, func() bool { return s.Calls() == 1 }, testTimeout, pollEvery)
	waitPoolFull(t, h.r)
	code, body := postBody(t, h, "/v3/segment", "application/json", js)
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Contains(t, body, "worker-pool busy")
	release()
	wg.Wait()
	close(codes)
	for c := range codes {
		assert.Equal(t, 200, c)
	}
}

func TestGRPCAcknowledgedServices(t *testing.T) {
	h := start(t, "", nil)
	ctx := ctxT(t)
	for name, call := range ackCalls(h.conn) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, call(ctx))
		})
	}
	assert.Empty(t, h.sink.Batches(), "nothing but traces is published")
	assert.Equal(t, 1.0, testutil.ToFloat64(h.r.ignored.WithLabelValues("ManagementService.keepAlive")))
	assert.Equal(t, 2.0, testutil.ToFloat64(h.r.ignored.WithLabelValues("EventService.collect")), "each streamed message counts")
}

func TestGRPCCompatTraceService(t *testing.T) {
	h := start(t, "", nil)
	ctx := ctxT(t)
	require.NoError(t, compatTraceCalls(ctx, h.conn))
	spans := h.sink.Spans()
	require.Len(t, spans, 3)
	assert.Equal(t, "C0", spans[0].SpanId)
	assert.Equal(t, "exit", spans[1].SpanType)
	assert.Equal(t, "error", spans[1].Status)
	assert.Equal(t, "db_host", firstKey(spans[1].Tags, "db_"))
	assert.Equal(t, "P3", spans[2].ParentId)
	assert.True(t, strings.HasPrefix(spans[2].Message, `{"parentSpanId":-1,"refs":[{"refType":1,`), spans[2].Message)
}

func firstKey(m map[string]string, prefix string) string {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return k
		}
	}
	return ""
}

// waitPoolFull waits until the pool refuses work. The probe's context is already done, so
// when it is admitted it leaves at once instead of queueing.
func waitPoolFull(t *testing.T, r *Receiver) {
	t.Helper()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	require.Eventually(t, func() bool {
		return pipeline.IsExhausted(r.pool.Do(done, func(context.Context) error { return nil }))
	}, testTimeout, pollEvery)
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
