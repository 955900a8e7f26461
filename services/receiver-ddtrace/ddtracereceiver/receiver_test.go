package ddtracereceiver

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"

	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/pipeline/pipelinetest"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var allEndpoints = []string{"/v0.1/spans", "/v0.2/traces", "/v0.3/traces", "/v0.4/traces", "/v0.5/traces", "/v0.7/traces"}

type fixture struct {
	url  string
	sink *pipelinetest.Sink
	reg  *prometheus.Registry
}

func start(t *testing.T, sections ...config.DDTrace) *fixture {
	t.Helper()
	if len(sections) == 0 {
		sections = []config.DDTrace{{Endpoints: allEndpoints}}
	}
	cfg := &config.Config{}
	cfg.Inputs.DDTrace = sections
	for i := range cfg.Inputs.DDTrace {
		d := &cfg.Inputs.DDTrace[i]
		if d.Threads == nil {
			d.Threads = &config.Threads{Threads: 4, Buffer: 10}
		}
		if d.MaxTraceBodyMB == 0 {
			d.MaxTraceBodyMB = 10
		}
	}
	s := &pipelinetest.Sink{}
	comps, err := Components(cfg, s)
	require.NoError(t, err)
	url, host := apptest.StartComponents(t, comps...)
	return &fixture{url: url, sink: s, reg: host.Registry}
}

func (f *fixture) do(t *testing.T, method, path, contentType string, body []byte, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func sampleTraces() ddwire.Traces {
	return ddwire.Traces{{
		{Service: "web", Name: "http.request", Resource: "GET /", TraceID: 1, SpanID: 10, Start: 1_700_000_000_000_000_000, Duration: 1000, Type: "web",
			Meta: ddwire.MetaOf(map[string]ddwire.Str{"http.status_code": "200"}), Metrics: ddwire.MetricsOf(map[string]ddwire.Float64{"_sampling_priority_v1": 1})},
		{Service: "web", Name: "sql.query", Resource: "SELECT 1", TraceID: 1, SpanID: 11, ParentID: 10, Start: 1_700_000_000_000_000_100, Duration: 100, Type: "sql"},
	}}
}

func msgpackOf(t *testing.T, m interface{ MarshalMsg([]byte) ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalMsg(nil)
	require.NoError(t, err)
	return b
}

func v05Body() []byte {
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendArrayHeader(b, 4)
	for _, s := range []string{"web", "op", "res", "web"} {
		b = msgp.AppendString(b, s)
	}
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendArrayHeader(b, 2)
	for i := range 2 {
		b = msgp.AppendArrayHeader(b, 12)
		b = msgp.AppendUint32(b, 0)
		b = msgp.AppendUint32(b, 1)
		b = msgp.AppendUint32(b, 2)
		b = msgp.AppendUint64(b, 1)
		b = msgp.AppendUint64(b, uint64(10+i))
		b = msgp.AppendUint64(b, uint64(i*10))
		b = msgp.AppendInt64(b, 1_700_000_000_000_000_000)
		b = msgp.AppendInt64(b, 5)
		b = msgp.AppendInt32(b, 0)
		b = msgp.AppendMapHeader(b, 0)
		b = msgp.AppendMapHeader(b, 0)
		b = msgp.AppendUint32(b, 3)
	}
	return b
}

func v07Body(t *testing.T) []byte {
	p := &ddwire.TracerPayload{Chunks: []*ddwire.TraceChunk{{Spans: []*ddwire.Span(sampleTraces()[0])}}}
	return msgpackOf(t, p)
}

func TestEveryVersion(t *testing.T) {
	ts := sampleTraces()
	jsonTraces, err := json.Marshal(ts)
	require.NoError(t, err)
	jsonSpans, err := json.Marshal(ts[0])
	require.NoError(t, err)
	tests := []struct {
		path, contentType string
		body              []byte
		wantJSON          bool
	}{
		{"/v0.1/spans", "application/json", jsonSpans, false},
		{"/v0.2/traces", "application/json", jsonTraces, false},
		{"/v0.3/traces", "application/json", jsonTraces, false},
		{"/v0.3/traces", "application/msgpack", msgpackOf(t, ts), false},
		{"/v0.3/traces", "", jsonTraces, false}, // no Content-Type: the body decides
		{"/v0.4/traces", "application/msgpack", msgpackOf(t, ts), true},
		{"/v0.4/traces", "", msgpackOf(t, ts), true},
		{"/v0.5/traces", "application/msgpack", v05Body(), true},
		{"/v0.7/traces", "application/msgpack", v07Body(t), true},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodPost, http.MethodPut} {
			t.Run(method+tt.path+"/"+tt.contentType, func(t *testing.T) {
				f := start(t)
				resp, body := f.do(t, method, tt.path, tt.contentType, tt.body, map[string]string{"Datadog-Rates-Payload-Version": "v7"})
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				if tt.wantJSON {
					assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
					assert.Equal(t, "v7", resp.Header.Get("Datadog-Rates-Payload-Version"))
					var rates struct {
						RateByService map[string]float64 `json:"rate_by_service"`
					}
					require.NoError(t, json.Unmarshal([]byte(body), &rates))
					assert.InDelta(t, 1.0, rates.RateByService["service:,env:"], 0)
				} else {
					assert.Equal(t, "OK\n", body)
				}
				batches := f.sink.Batches()
				require.Len(t, batches, 1)
				b := batches[0]
				assert.Equal(t, config.SourceDDTrace, b.Source)
				assert.Equal(t, "ddtrace", b.Input)
				assert.NotZero(t, b.ReceivedUnixNano)
				require.Len(t, b.Traces, 1)
				require.Len(t, b.Traces[0].Spans, 2)
				root := b.Traces[0].Spans[0]
				assert.Equal(t, "1", root.TraceId)
				assert.Equal(t, "127.0.0.1", root.Tags["remote_ip"])
				assert.Equal(t, "entry", root.SpanType)
			})
		}
	}
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestGzipBody(t *testing.T) {
	f := start(t)
	resp, body := f.do(t, http.MethodPost, "/v0.4/traces", "application/msgpack", gz(t, msgpackOf(t, sampleTraces())), map[string]string{"Content-Encoding": "gzip"})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Len(t, f.sink.Batches(), 1)
}

func TestTraceCountZeroShortCircuits(t *testing.T) {
	f := start(t)
	f.sink.SetErr(errors.New("must not be called"))
	resp, body := f.do(t, http.MethodPut, "/v0.4/traces", "application/msgpack", []byte{0x90}, map[string]string{"X-Datadog-Trace-Count": "0"})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "rate_by_service")
	resp, body = f.do(t, http.MethodPut, "/v0.3/traces", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "OK\n", body)
	assert.Empty(t, f.sink.Batches())
}

func TestEmptyPayloadIsNotPublished(t *testing.T) {
	f := start(t)
	resp, body := f.do(t, http.MethodPut, "/v0.4/traces", "application/msgpack", []byte{0x91, 0x90}, nil) // [[]]
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Empty(t, f.sink.Batches())
}

func TestBadBodies(t *testing.T) {
	badIndex := msgp.AppendArrayHeader(nil, 2)
	badIndex = msgp.AppendArrayHeader(badIndex, 1)
	badIndex = msgp.AppendString(badIndex, "only")
	badIndex = msgp.AppendArrayHeader(badIndex, 1)
	badIndex = msgp.AppendArrayHeader(badIndex, 1)
	badIndex = msgp.AppendArrayHeader(badIndex, 12)
	badIndex = msgp.AppendUint32(badIndex, 99)
	for range 8 {
		badIndex = msgp.AppendUint32(badIndex, 0)
	}
	badIndex = msgp.AppendMapHeader(badIndex, 0)
	badIndex = msgp.AppendMapHeader(badIndex, 0)
	badIndex = msgp.AppendUint32(badIndex, 0)
	tests := []struct {
		name, path, contentType string
		body                    []byte
		hdr                     map[string]string
		want                    string
	}{
		{"msgpack garbage", "/v0.4/traces", "application/msgpack", []byte{0xc1, 0x00}, nil, "/v0.4/traces: decode msgpack traces"},
		{"wrong shape", "/v0.4/traces", "application/msgpack", msgp.AppendString(nil, "x"), nil, "decode msgpack traces"},
		{"string as trace id", "/v0.4/traces", "application/msgpack", func() []byte {
			b := msgp.AppendArrayHeader(nil, 1)
			b = msgp.AppendArrayHeader(b, 1)
			b = msgp.AppendMapHeader(b, 1)
			b = msgp.AppendString(b, "trace_id")
			return msgp.AppendString(b, "abc")
		}(), nil, "want a number, got msgpack str"},
		{"bad json", "/v0.3/traces", "application/json", []byte(`[[{"trace_id": "x"}]]`), nil, "decode JSON traces"},
		{"v0.5 index", "/v0.5/traces", "application/msgpack", badIndex, nil, "string index 99 out of range (dictionary has 1 entries)"},
		{"v0.5 short span", "/v0.5/traces", "application/msgpack", []byte{0x92, 0x90, 0x91, 0x91, 0x93, 0, 0, 0}, nil, "decode v0.5 msgpack payload"},
		{"bad gzip", "/v0.4/traces", "application/msgpack", []byte("nope"), map[string]string{"Content-Encoding": "gzip"}, "invalid gzip body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			resp, body := f.do(t, http.MethodPost, tt.path, tt.contentType, tt.body, tt.hdr)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, body, tt.want)
			assert.Empty(t, f.sink.Batches())
		})
	}
}

func TestBodyCap(t *testing.T) {
	f := start(t, config.DDTrace{Endpoints: []string{"/v0.4/traces"}, MaxTraceBodyMB: 1})
	big := bytes.Repeat([]byte{0}, 1<<20+1)
	resp, body := f.do(t, http.MethodPost, "/v0.4/traces", "application/msgpack", big, nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Contains(t, body, "max_trace_body_mb")

	// no Content-Length (chunked) and a gzip bomb are caught while reading
	req, err := http.NewRequest(http.MethodPost, f.url+"/v0.4/traces", io.MultiReader(bytes.NewReader(gz(t, big))))
	require.NoError(t, err)
	req.Header.Set("Content-Encoding", "gzip")
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp2.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp2.StatusCode)
}

func TestFullPoolAnswers429(t *testing.T) {
	f := start(t, config.DDTrace{Endpoints: []string{"/v0.4/traces"}, Tracing: config.Tracing{Threads: &config.Threads{Threads: 1, Buffer: 1}}})
	release := f.sink.Block()
	body := msgpackOf(t, sampleTraces())
	// threads + buffer = 2 requests fit; while the consumer blocks, the other 3 are
	// refused at once, so the first 3 answers are necessarily the refusals.
	type answer struct {
		code       int
		retryAfter string
	}
	answers := make(chan answer, 5)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.DefaultClient.Post(f.url+"/v0.4/traces", "application/msgpack", bytes.NewReader(body))
			if err != nil {
				answers <- answer{code: -1}
				return
			}
			resp.Body.Close()
			answers <- answer{resp.StatusCode, resp.Header.Get("Retry-After")}
		}()
	}
	for range 3 {
		a := <-answers
		assert.Equal(t, http.StatusTooManyRequests, a.code)
		assert.Equal(t, "1", a.retryAfter)
	}
	release()
	wg.Wait()
	close(answers)
	for a := range answers {
		assert.Equal(t, http.StatusOK, a.code)
	}
	assert.Len(t, f.sink.Batches(), 2)
}

func TestConsumerErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{pipeline.Exhausted(errors.New("stream full")), http.StatusTooManyRequests},
		{errors.New("nats down"), http.StatusServiceUnavailable},
	} {
		f := start(t)
		f.sink.SetErr(tt.err)
		resp, body := f.do(t, http.MethodPost, "/v0.4/traces", "application/msgpack", msgpackOf(t, sampleTraces()), nil)
		assert.Equal(t, tt.want, resp.StatusCode, body)
		assert.Contains(t, body, tt.err.Error())
	}
}

func TestInfo(t *testing.T) {
	f := start(t, config.DDTrace{Endpoints: []string{"/v0.3/traces", "/v0.4/traces", "/v0.5/traces"}})
	resp, body := f.do(t, http.MethodGet, "/info", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var info map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &info))
	assert.Equal(t, AgentVersion, info["version"])
	assert.Equal(t, false, info["client_drop_p0s"], "tracers must send rejected traces: the filter decides")
	assert.ElementsMatch(t, []any{"/v0.3/traces", "/v0.4/traces", "/v0.5/traces", "/v0.6/stats", "/telemetry/proxy/"}, info["endpoints"])
	assert.Contains(t, info, "config")
	assert.InDelta(t, 1, counter(t, f.reg, "/info"), 0)

	resp, _ = f.do(t, http.MethodPost, "/v0.1/spans", "application/json", []byte("[]"), nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "an endpoint not listed is not served")
}

// counter reads tracekit_ddtrace_agent_requests_total for a route.
func counter(t *testing.T, reg *prometheus.Registry, route string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "tracekit_ddtrace_agent_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestStatsAndTelemetryAcceptedAndCounted(t *testing.T) {
	f := start(t)
	for _, p := range []string{StatsPath, TelemetryPath} {
		resp, body := f.do(t, http.MethodPost, p, "application/json", []byte(`{"request_type":"app-heartbeat"}`), nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.InDelta(t, 1, counter(t, f.reg, p), 0, p)
	}
	resp, _ := f.do(t, http.MethodPut, StatsPath, "application/msgpack", []byte{0x80}, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.InDelta(t, 2, counter(t, f.reg, StatsPath), 0)
	assert.Empty(t, f.sink.Batches())
}

func TestTelemetryRouteCanBeDisabled(t *testing.T) {
	off := false
	f := start(t, config.DDTrace{Endpoints: []string{"/v0.4/traces"}, APMTelemetryRouteEnable: &off})
	resp, _ := f.do(t, http.MethodPost, TelemetryPath, "application/json", []byte(`{}`), nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	_, body := f.do(t, http.MethodGet, InfoPath, "", nil, nil)
	assert.NotContains(t, body, "/telemetry/proxy/")
}

func TestComponents(t *testing.T) {
	comps, err := Components(&config.Config{}, &pipelinetest.Sink{})
	require.NoError(t, err)
	assert.Empty(t, comps, "no section, no receiver")

	tests := []struct {
		name     string
		sections []config.DDTrace
		want     string
	}{
		{"unknown endpoint", []config.DDTrace{{Endpoints: []string{"/v0.9/traces"}}}, `inputs.ddtrace[0].endpoints[0]: "/v0.9/traces" is not a trace endpoint`},
		{"shared endpoint", []config.DDTrace{{Endpoints: []string{"/v0.4/traces"}}, {Endpoints: []string{"/v0.3/traces", "/v0.4/traces"}}}, "inputs.ddtrace[1].endpoints[1]: /v0.4/traces is already served by inputs.ddtrace[0]"},
		{"bad regexp", []config.DDTrace{{Endpoints: []string{"/v0.4/traces"}, Tracing: config.Tracing{CustomerTags: []string{"reg:("}}}}, "inputs.ddtrace[0].customer_tags[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{}
			cfg.Inputs.DDTrace = tt.sections
			_, err := Components(cfg, &pipelinetest.Sink{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestTwoSections(t *testing.T) {
	f := start(t,
		config.DDTrace{Endpoints: []string{"/v0.4/traces"}},
		config.DDTrace{Endpoints: []string{"/v0.5/traces"}, Tracing: config.Tracing{Tags: map[string]string{"team": "b"}}},
	)
	resp, _ := f.do(t, http.MethodPost, "/v0.4/traces", "application/msgpack", msgpackOf(t, sampleTraces()), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = f.do(t, http.MethodPost, "/v0.5/traces", "application/msgpack", v05Body(), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b := f.sink.Batches()
	require.Len(t, b, 2)
	assert.Equal(t, "ddtrace", b[0].Input)
	assert.Equal(t, "ddtrace#1", b[1].Input)
	assert.Equal(t, "b", b[1].Traces[0].Spans[0].Tags["team"], "input tags of the section")
	_, body := f.do(t, http.MethodGet, InfoPath, "", nil, nil)
	var info struct{ Endpoints []string }
	require.NoError(t, json.Unmarshal([]byte(body), &info))
	assert.Subset(t, info.Endpoints, []string{"/v0.4/traces", "/v0.5/traces"}, "/info lists every section's endpoints")
}
