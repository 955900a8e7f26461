package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	s := New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func post(t *testing.T, url, ctype, cenc string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if cenc != "" {
		req.Header.Set("Content-Encoding", cenc)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, json.NewDecoder(res.Body).Decode(v))
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func pbBody(t *testing.T, pts ...*pointpb.PBPoint) []byte {
	b, err := proto.Marshal(&pointpb.PBPoints{Arr: pts})
	require.NoError(t, err)
	return b
}

func samplePoint(id string) *pointpb.PBPoint {
	return &pointpb.PBPoint{Name: "ddtrace", Time: 1700000000000000001, Fields: []*pointpb.Field{
		{Key: "service", IsTag: true, Val: &pointpb.Field_S{S: "web"}},
		{Key: "span_id", Val: &pointpb.Field_S{S: id}},
		{Key: "duration", Val: &pointpb.Field_I{I: 12}},
		{Key: "big", Val: &pointpb.Field_U{U: 1 << 63}},
		{Key: "rate", Val: &pointpb.Field_F{F: 0.5}},
		{Key: "ok", Val: &pointpb.Field_B{B: true}},
	}}
}

func TestWriteAndQueryPoints(t *testing.T) {
	s, url := start(t, Options{Token: "tkn"})
	code, _ := post(t, url+"/v1/write/tracing?token=tkn", "application/protobuf; proto=com.guance.Point", "gzip", gz(t, pbBody(t, samplePoint("a"))))
	require.Equal(t, 200, code)
	code, body := post(t, url+"/v1/write/logging?token=tkn", "application/line-protocol", "", []byte("nginx,host=h message=\"hi\",n=3i 5\n"))
	require.Equal(t, 200, code, body)

	// The raw JSON shape the e2e harness depends on.
	res, err := http.Get(url + "/v1/_sim/points?category=tracing")
	require.NoError(t, err)
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.JSONEq(t, `{"points":[{"category":"tracing","measurement":"ddtrace","tags":{"service":"web"},
		"fields":{"span_id":"a","duration":12,"big":9223372036854775808,"rate":0.5,"ok":true},"time":1700000000000000001}]}`, string(raw))

	var all struct{ Points []Point }
	get(t, url+"/v1/_sim/points", &all)
	assert.Len(t, all.Points, 2)
	assert.Equal(t, "logging", s.Points("logging")[0].Category)
	assert.Equal(t, int64(5), s.Points("logging")[0].Time)

	var reqs []Request
	get(t, url+"/v1/_sim/requests", &reqs)
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v1/write/tracing", reqs[0].Path)
	assert.Equal(t, "token=tkn", reqs[0].Query)
	assert.Equal(t, "gzip", reqs[0].Headers["Content-Encoding"])
	assert.Equal(t, 1, reqs[0].Points)
	assert.Equal(t, 200, reqs[0].Status)
	assert.Greater(t, reqs[0].RawBytes, 0)

	var st Stats
	get(t, url+"/v1/_sim/stats", &st)
	assert.Equal(t, int64(1), st.Endpoints["/v1/write/tracing"].Bodies)
	assert.Equal(t, int64(1), st.Endpoints["/v1/write/tracing"].Points)
	assert.Equal(t, 2, st.PointsStored)
}

func TestToken(t *testing.T) {
	_, url := start(t, Options{Token: "tkn"})
	for _, q := range []string{"", "?token=wrong"} {
		code, body := post(t, url+"/v1/write/tracing"+q, "application/line-protocol", "", []byte("m f=1i 1"))
		assert.Equal(t, http.StatusUnauthorized, code)
		var e map[string]string
		require.NoError(t, json.Unmarshal([]byte(body), &e))
		assert.Contains(t, e["error_code"], "dataway.")
		assert.NotEmpty(t, e["message"])
	}
	_, open := start(t, Options{})
	code, _ := post(t, open+"/v1/write/tracing", "application/line-protocol", "", []byte("m f=1i 1"))
	assert.Equal(t, 200, code)
}

func TestBadBodies(t *testing.T) {
	_, url := start(t, Options{})
	for _, tc := range []struct{ ctype, cenc, body string }{
		{"application/protobuf", "", "\xff\xff\xff"},
		{"application/line-protocol", "", "m"},
		{"application/line-protocol", "gzip", "not gzip"},
	} {
		code, body := post(t, url+"/v1/write/tracing", tc.ctype, tc.cenc, []byte(tc.body))
		assert.Equal(t, http.StatusBadRequest, code, body)
		assert.Contains(t, body, "dataway.badRequest")
	}
}

func TestMaxRawBodySize413(t *testing.T) {
	_, url := start(t, Options{MaxRawBodySize: 10})
	code, _ := post(t, url+"/v1/write/tracing", "application/line-protocol", "gzip", gz(t, []byte("m f=1i 1\nm f=2i 2\n")))
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
}

func TestFaults(t *testing.T) {
	s, url := start(t, Options{})
	code, _ := post(t, url+"/v1/_sim/faults", "application/json", "", []byte(`{"path_prefix":"/v1/write","status":503,"count":2}`))
	require.Equal(t, 200, code)
	lp := []byte("m f=1i 1")
	c1, _ := post(t, url+"/v1/write/tracing", "", "", lp)
	c2, _ := post(t, url+"/v1/write/tracing", "", "", lp)
	c3, _ := post(t, url+"/v1/write/tracing", "", "", lp)
	assert.Equal(t, []int{503, 503, 200}, []int{c1, c2, c3})
	assert.Len(t, s.Points(""), 1, "faulted bodies are not stored")

	// Until cleared, with latency.
	code, _ = post(t, url+"/v1/_sim/faults", "", "", []byte(`{"path_prefix":"/v1/tail_sampling","status":412,"latency":"30ms"}`))
	require.Equal(t, 200, code)
	for range 3 {
		t0 := time.Now()
		c, _ := post(t, url+"/v1/tail_sampling", "", "", nil)
		assert.Equal(t, 412, c)
		assert.GreaterOrEqual(t, time.Since(t0), 30*time.Millisecond)
	}
	c4, _ := post(t, url+"/v1/write/tracing", "", "", lp)
	assert.Equal(t, 200, c4, "a fault only hits its prefix")
	req, _ := http.NewRequest(http.MethodDelete, url+"/v1/_sim/faults", nil)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	c5, body := post(t, url+"/v1/tail_sampling", "", "", nil)
	assert.Equal(t, 200, c5, body)

	code, _ = post(t, url+"/v1/_sim/faults", "", "", []byte(`{"status":99}`))
	assert.Equal(t, 400, code)
	code, _ = post(t, url+"/v1/_sim/faults", "", "", []byte(`{"latency":"soon"}`))
	assert.Equal(t, 400, code)
}

func TestEvictionAndReset(t *testing.T) {
	s, url := start(t, Options{MaxPoints: 3})
	for i := range 5 {
		code, _ := post(t, url+"/v1/write/tracing", "", "", []byte("m f="+string(rune('0'+i))+"i 1"))
		require.Equal(t, 200, code)
	}
	pts := s.Points("tracing")
	require.Len(t, pts, 3)
	assert.Equal(t, []any{int64(2), int64(3), int64(4)}, []any{pts[0].Fields["f"], pts[1].Fields["f"], pts[2].Fields["f"]}, "oldest evicted first")
	assert.Equal(t, int64(2), s.Stats().PointsEvicted)
	code, _ := post(t, url+"/v1/_sim/reset", "", "", nil)
	require.Equal(t, 200, code)
	assert.Empty(t, s.Points(""))
	assert.Empty(t, s.Requests())
}

func TestTailSamplingAndAggregate(t *testing.T) {
	s, url := start(t, Options{})
	payload := pbBody(t, samplePoint("a"), samplePoint("b"))
	var zbuf bytes.Buffer
	zw, err := zstd.NewWriter(&zbuf)
	require.NoError(t, err)
	_, _ = zw.Write(payload)
	require.NoError(t, zw.Close())
	for _, pkt := range []*aggregatev1.DataPacket{
		{GroupIdHash: 7, RawGroupId: "t1", Token: "tkn", Source: "ddtrace", DataType: "tracing", PointCount: 2, PointsPayload: payload},
		{GroupIdHash: 8, RawGroupId: "t2", DataType: "tracing", PointCount: 2, PointsPayload: zbuf.Bytes(), PayloadCompression: 1, PredError: true},
	} {
		b, err := proto.Marshal(pkt)
		require.NoError(t, err)
		code, body := post(t, url+"/v1/tail_sampling", "application/x-protobuf", "identity", b)
		require.Equal(t, 200, code, body)
	}
	var pkts []struct {
		Packet map[string]any `json:"packet"`
		Points []Point        `json:"points"`
	}
	get(t, url+"/v1/_sim/tail_sampling", &pkts)
	require.Len(t, pkts, 2)
	assert.Equal(t, "t1", pkts[0].Packet["raw_group_id"])
	assert.Equal(t, false, pkts[0].Packet["pred_error"], "zero values are shown")
	assert.Equal(t, true, pkts[1].Packet["pred_error"])
	assert.NotContains(t, pkts[0].Packet, "points_payload_x")
	require.Len(t, pkts[1].Points, 2)
	assert.Equal(t, "b", pkts[1].Points[1].Fields["span_id"])

	batchs := &aggregatev1.Batchs{PickKey: 3, Batchs: []*aggregatev1.AggregationBatch{{RoutingKey: 1, Points: &pointpb.PBPoints{Arr: []*pointpb.PBPoint{samplePoint("c")}},
		AggregationOpts: map[string]*aggregatev1.AggregationAlgo{"n": {Method: "count", SourceField: "span_id"}}}}}
	b, err := proto.Marshal(batchs)
	require.NoError(t, err)
	code, body := post(t, url+"/v1/aggregate", "application/x-protobuf", "", b)
	require.Equal(t, 200, code, body)
	var aggs []struct {
		Batchs map[string]any `json:"batchs"`
		Points []Point        `json:"points"`
	}
	get(t, url+"/v1/_sim/aggregate", &aggs)
	require.Len(t, aggs, 1)
	assert.Equal(t, "3", aggs[0].Batchs["pick_key"])
	assert.Len(t, aggs[0].Points, 1)

	code, _ = post(t, url+"/v1/tail_sampling_config", "application/json", "", []byte(`{"version":2,"trace":{"data_ttl":60000000000}}`))
	require.Equal(t, 200, code)
	code, _ = post(t, url+"/v1/tail_sampling_config", "application/json", "", []byte(`{not json`))
	require.Equal(t, 400, code)
	var cfgs []TailSamplingConfig
	get(t, url+"/v1/_sim/tail_sampling_config", &cfgs)
	require.Len(t, cfgs, 1)
	assert.JSONEq(t, `{"version":2,"trace":{"data_ttl":60000000000}}`, string(cfgs[0].Config))
	st := s.Stats()
	assert.Equal(t, int64(4), st.Endpoints["/v1/tail_sampling"].Points)
	assert.Equal(t, 2, st.TailSampling)
}

func TestHealthz(t *testing.T) {
	_, url := start(t, Options{})
	var v map[string]string
	get(t, url+"/healthz", &v)
	assert.Equal(t, "ok", v["status"])
}

// Fuzz targets: no decoder of the simulator may panic on any body.

func FuzzDecodeWriteProtobuf(f *testing.F) {
	b, _ := proto.Marshal(&pointpb.PBPoints{Arr: []*pointpb.PBPoint{samplePoint("x")}})
	f.Add(b)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		pts, err := DecodeWrite("application/protobuf; proto=com.guance.Point", data, 0)
		if err != nil {
			return
		}
		for _, p := range pts {
			if _, err := json.Marshal(ToPoint("tracing", p)); err != nil {
				t.Fatalf("point JSON: %v", err)
			}
		}
	})
}

func FuzzDecodeWriteLineProtocol(f *testing.F) {
	f.Add([]byte("ddtrace,service=web span_id=\"1\",duration=3i 1700000000000000000\n"))
	f.Add([]byte("m a=[1i,2i] 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pts, err := DecodeWrite("application/line-protocol", data, 0)
		if err != nil {
			return
		}
		for _, p := range pts {
			if _, err := json.Marshal(ToPoint("tracing", p)); err != nil {
				t.Fatalf("point JSON: %v", err)
			}
		}
	})
}

func FuzzDecodeTailSampling(f *testing.F) {
	payload, _ := proto.Marshal(&pointpb.PBPoints{Arr: []*pointpb.PBPoint{samplePoint("x")}})
	b, _ := proto.Marshal(&aggregatev1.DataPacket{RawGroupId: "t", PointsPayload: payload, PointCount: 1})
	f.Add(b)
	b, _ = proto.Marshal(&aggregatev1.DataPacket{PayloadCompression: 1, PointsPayload: []byte("junk")})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		pkt, pts, err := DecodeTailSampling(data)
		if err != nil {
			return
		}
		_, _ = pj.Marshal(pkt)
		for _, p := range pts {
			_ = ToPoint("tracing", p)
		}
	})
}

func FuzzDecodeAggregate(f *testing.F) {
	b, _ := proto.Marshal(&aggregatev1.Batchs{PickKey: 1, Batchs: []*aggregatev1.AggregationBatch{{RoutingKey: 2}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		if bs, err := DecodeAggregate(data); err == nil {
			// protojson may refuse an Any it cannot resolve: the handler answers 400.
			_, _ = pj.Marshal(bs)
		}
	})
}
