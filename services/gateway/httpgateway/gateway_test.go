package httpgateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/buildinfo"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/bus/bustest"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakePub struct {
	mu    sync.Mutex
	cats  []string
	input []string
	pts   []*pointpb.PBPoint
}

func (f *fakePub) PublishPoints(_ context.Context, category, input string, pts *pointpb.PBPoints) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cats = append(f.cats, category)
	f.input = append(f.input, input)
	f.pts = append(f.pts, pts.GetArr()...)
	return nil
}

func (f *fakePub) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pts)
}

// serve starts g on mux (a fresh one when nil) behind an httptest server.
func serve(t *testing.T, g *Gateway, mux *http.ServeMux) string {
	t.Helper()
	return apptest.StartOn(t, &app.Host{Mux: mux}, g)
}

type result struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, u, ct string, body []byte, hdr ...string) result {
	t.Helper()
	r, err := http.NewRequest(method, u, bytes.NewReader(body))
	require.NoError(t, err)
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{resp.StatusCode, resp.Header, string(b)}
}

func errorCode(t *testing.T, r result) string {
	t.Helper()
	var e struct {
		ErrorCode string  `json:"error_code"`
		Message   *string `json:"message"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &e), r.body)
	require.NotNil(t, e.Message, "message is always present")
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	return e.ErrorCode
}

var pinned = func() time.Time { return time.Unix(1_700_000_000, 0) }

func TestWriteOverHTTP(t *testing.T) {
	pub := &fakePub{}
	base := serve(t, New(pub, Options{Now: pinned, GlobalTags: map[string]string{"env": "t"}}), nil)

	// curl -d sends form-urlencoded: the body is still line protocol, never a form.
	r := do(t, "POST", base+"/v1/write/metric?precision=s&input=curl&token=tkn_x", "application/x-www-form-urlencoded", []byte("cpu,host=a usage=1.5 1700000000\ncpu,host=b usage=2 1700000001"))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Empty(t, r.body)
	assert.Equal(t, buildinfo.Version, r.header.Get("X-DataKit"))
	assert.Empty(t, r.header.Get("Content-Type"))
	require.Equal(t, 2, pub.count())
	assert.Equal(t, []string{"metric"}, pub.cats)
	assert.Equal(t, []string{"curl"}, pub.input)
	assert.Equal(t, int64(1700000001e9), pub.pts[1].GetTime())

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`[{"measurement":"app","tags":{"service":"s"},"fields":{"message":"m"}}]`))
	require.NoError(t, zw.Close())
	r = do(t, "POST", base+"/v1/write/logging", "application/json", gz.Bytes(), "Content-Encoding", "gzip")
	require.Equal(t, http.StatusOK, r.status, r.body)

	zb, _ := zstd.NewWriter(nil)
	body := zb.EncodeAll([]byte("host,name=db v=1i"), nil)
	require.NoError(t, zb.Close())
	r = do(t, "POST", base+"/v1/write/object?encoding=zstd", "", body)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, 4, pub.count())
	assert.Equal(t, pinned().UnixNano(), pub.pts[3].GetTime(), "no time: now")
}

func TestWriteQueryFlags(t *testing.T) {
	pub := &fakePub{}
	base := serve(t, New(pub, Options{Now: pinned}), nil)

	r := do(t, "POST", base+"/v1/write/metric?echo=json&dry", "", []byte("m v=1i 1700000000"))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.JSONEq(t, `[{"measurement":"m","fields":{"v":1},"time":1700000000000000000}]`, r.body)
	assert.Zero(t, pub.count(), "?dry (presence-only) stores nothing")

	r = do(t, "POST", base+"/v1/write/metric?echo_line_proto&dry=true", "", []byte("m v=1i 1700000000"))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "application/line-protocol", r.header.Get("Content-Type"))
	assert.Equal(t, "m v=1i 1700000000000000000\n", r.body)

	r = do(t, "POST", base+"/v1/write/metric?strict", "", []byte(`m v=1i,s="no strings in metrics"`))
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "datakit.pointGotWarning", errorCode(t, r))
	assert.Contains(t, r.body, "string_field_disabled")

	r = do(t, "POST", base+"/v1/write/metric?dry=false", "", []byte("m v=1i"))
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, 1, pub.count(), "explicit false is not dry")
}

func TestWriteErrorsOverHTTP(t *testing.T) {
	base := serve(t, New(&fakePub{}, Options{MaxBodyBytes: 64}), nil)
	cases := []struct {
		name, path, ct string
		body           []byte
		status         int
		code           string
	}{
		{"invalid category", "/v1/write/profiling", "", []byte("m v=1i"), 400, "datakit.invalidCategory"},
		{"empty body", "/v1/write/metric", "", nil, 400, "datakit.emptyBody"},
		{"bad line", "/v1/write/metric", "", []byte("m"), 400, "datakit.invalidLinePoint"},
		{"bad json", "/v1/write/logging", "application/json", []byte("[{"), 400, "datakit.invalidJsonPoint"},
		{"bad protobuf", "/v1/write/logging", "application/protobuf; proto=com.guance.Point", []byte{0xff, 0x01}, 400, "datakit.invalidProtobufPoint"},
		{"bad gzip", "/v1/write/metric?encoding=gzip", "", []byte("not gzip"), 400, "datakit.decodeBodyFailed"},
		{"too large", "/v1/write/metric", "", bytes.Repeat([]byte("m v=1i\n"), 20), 413, "datakit.payloadTooLarge"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "POST", base+c.path, c.ct, c.body)
			assert.Equal(t, c.status, r.status, r.body)
			assert.Equal(t, c.code, errorCode(t, r))
			assert.Equal(t, buildinfo.Version, r.header.Get("X-DataKit"))
		})
	}

	t.Run("too large chunked", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write(bytes.Repeat([]byte("m v=1i\n"), 20))
			_ = pw.Close()
		}()
		resp, err := http.Post(base+"/v1/write/metric", "", pr)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(b))
	})
}

func TestRateLimit(t *testing.T) {
	base := serve(t, New(&fakePub{}, Options{RateLimit: 0.001, RateBurst: 2}), nil)
	for range 2 {
		r := do(t, "POST", base+"/v1/write/metric", "", []byte("m v=1i"))
		require.Equal(t, http.StatusOK, r.status, r.body)
	}
	r := do(t, "POST", base+"/v1/write/metric", "", []byte("m v=1i"))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "datakit.reachMaxAPILimit", errorCode(t, r))
	assert.Equal(t, "1", r.header.Get("Retry-After"))
}

func TestPing(t *testing.T) {
	base := serve(t, New(&fakePub{}, Options{}), nil)
	r := do(t, "GET", base+"/v1/ping", "", nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, buildinfo.Version, r.header.Get("X-DataKit"))
	var ping struct {
		Content map[string]string `json:"content"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &ping), r.body)
	for _, k := range []string{"version", "uptime", "host", "commit"} {
		assert.NotEmpty(t, ping.Content[k], k)
	}
}

func TestPingAlreadyServedByHost(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "host ping") })
	base := serve(t, New(&fakePub{}, Options{}), mux)
	assert.Equal(t, "host ping", do(t, "GET", base+"/v1/ping", "", nil).body)
	assert.Equal(t, http.StatusOK, do(t, "POST", base+"/v1/write/metric", "", []byte("m v=1i")).status)
}

func TestNormalizeQuery(t *testing.T) {
	q, _ := url.ParseQuery("precision=ms&input=i&source=s&version=1&storage_index=idx&token=t&body.data=x&category=y&dry&strict=1&ignore_global_tags&global_election_tags=false&echo_json")
	got := normalizeQuery(q, "gzip")
	want := url.Values{
		"precision": {"ms"}, "input": {"i"}, "source": {"s"}, "version": {"1"}, "storage_index": {"idx"},
		"dry": {"true"}, "strict": {"true"}, "ignore_global_host_tags": {"true"}, "echo": {"json"}, "encoding": {"gzip"},
	}
	assert.Equal(t, want, got)

	q, _ = url.ParseQuery("echo=pbjson&echo_line_proto&encoding=zstd")
	got = normalizeQuery(q, "gzip")
	assert.Equal(t, url.Values{"echo": {"pbjson"}, "encoding": {"zstd"}}, got, "query wins over legacy names and the header")
}

// TestWriteToBus runs the real bus: an acknowledged write is on tracekit.points.<category>.
func TestWriteToBus(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	base := serve(t, New(b, Options{}), nil)
	r := do(t, "POST", base+"/v1/write/logging?input=app", "", []byte(`app,service=s message="hello" 1700000000000000000`))
	require.Equal(t, http.StatusOK, r.status, r.body)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*pointpb.PBPoint
	_ = b.Consume(ctx, bus.ConsumerSpec{Stream: bus.StreamPoints, Subject: bus.PointsPrefix + ">", Durable: "test", MaxWait: 50 * time.Millisecond}, func(_ context.Context, ms []*bus.Msg) {
		for _, m := range ms {
			assert.Equal(t, bus.PointsSubject("logging"), m.Subject)
			assert.Equal(t, "app", m.Header.Get(bus.HeaderInput))
			var p pointpb.PBPoints
			require.NoError(t, proto.Unmarshal(m.Data, &p))
			got = append(got, p.GetArr()...)
			require.NoError(t, m.Ack())
		}
		if len(got) > 0 {
			cancel()
		}
	})
	require.Len(t, got, 1)
	assert.Equal(t, "app", got[0].GetName())
	keys := []string{}
	for _, f := range got[0].GetFields() {
		keys = append(keys, f.GetKey())
	}
	assert.Equal(t, []string{"service", "message", "status"}, keys, "logging status defaulted")
	assert.True(t, strings.HasPrefix(base, "http://127.0.0.1:"))
}
