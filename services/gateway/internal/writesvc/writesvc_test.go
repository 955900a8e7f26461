package writesvc

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/pipeline"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	gatewayv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/gateway/v1"
	"github.com/tracekit/tracekit/services/gateway/internal/apierr"
	"github.com/tracekit/tracekit/services/gateway/internal/points"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type published struct {
	category, input string
	pts             []*pointpb.PBPoint
}

type fakePub struct {
	mu  sync.Mutex
	got []published
	err error
}

func (f *fakePub) PublishPoints(_ context.Context, category, input string, pts *pointpb.PBPoints) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.got = append(f.got, published{category, input, pts.GetArr()})
	return nil
}

var fixed = time.Unix(1_700_000_000, 0)

func newSvc(pub Publisher) *Service {
	return New(pub, Options{MaxBodyBytes: 1 << 20, GlobalTags: map[string]string{"env": "test"}, Now: func() time.Time { return fixed }})
}

func req(category, ct string, body []byte) *gatewayv1.WriteRequest {
	return &gatewayv1.WriteRequest{Category: category, Body: &httpbody.HttpBody{ContentType: ct, Data: body}}
}

func codeOf(t *testing.T, err error) apierr.Code {
	t.Helper()
	require.Error(t, err)
	c, _, _ := apierr.FromError(status.Convert(err).Err())
	return c
}

func TestWritePublishes(t *testing.T) {
	pub := &fakePub{}
	s := newSvc(pub)
	resp, err := s.Write(context.Background(), req("metric", "", []byte("cpu,host=a v=1i\ncpu,host=b v=2i 1700000000")))
	require.NoError(t, err)
	assert.EqualValues(t, 2, resp.GetPoints())
	assert.Nil(t, resp.GetEcho())
	require.Len(t, pub.got, 1)
	got := pub.got[0]
	assert.Equal(t, "metric", got.category)
	assert.Equal(t, "metric", got.input, "input defaults to the category")
	require.Len(t, got.pts, 2)
	assert.Equal(t, fixed.UnixNano(), got.pts[0].GetTime())
	assert.Equal(t, int64(1700000000e9), got.pts[1].GetTime())
	keys := []string{}
	for _, f := range got.pts[0].GetFields() {
		keys = append(keys, f.GetKey())
	}
	assert.Equal(t, []string{"host", "v", "env"}, keys, "global tags appended")
}

func TestWriteOptions(t *testing.T) {
	pub := &fakePub{}
	s := newSvc(pub)
	r := req("logging", "application/json", []byte(`[{"measurement":"app","fields":{"message":"hi","a.b":1},"time":1700000000000}]`))
	r.Input, r.IgnoreGlobalHostTags, r.Echo = "my-input", true, "pbjson"
	resp, err := s.Write(context.Background(), r)
	require.NoError(t, err)
	require.Len(t, pub.got, 1)
	assert.Equal(t, "my-input", pub.got[0].input)
	p := pub.got[0].pts[0]
	assert.Empty(t, p.GetWarns(), "warnings are not stored")
	for _, f := range p.GetFields() {
		assert.NotEqual(t, "env", f.GetKey(), "ignore_global_host_tags")
	}
	assert.Equal(t, points.ContentTypePBJSON, resp.GetEcho().GetContentType())
	assert.Contains(t, string(resp.GetEcho().GetData()), "dot_in_key", "echo shows warnings")
	assert.Len(t, resp.GetWarnings(), 2) // dot in key, status default
}

func TestWriteDryAndStrict(t *testing.T) {
	pub := &fakePub{}
	s := newSvc(pub)
	r := req("metric", "", []byte(`m s="x",v=1i 1`))
	r.Dry, r.Echo = true, "lp"
	resp, err := s.Write(context.Background(), r)
	require.NoError(t, err)
	assert.Empty(t, pub.got, "dry stores nothing")
	assert.Equal(t, "m,env=test v=1i 1000000000\n", string(resp.GetEcho().GetData()))

	r = req("metric", "", []byte(`m s="x",v=1i 1`))
	r.Strict = true
	_, err = s.Write(context.Background(), r)
	assert.Equal(t, apierr.PointGotWarning, codeOf(t, err))
	assert.Contains(t, err.Error(), "string_field_disabled")
	assert.Empty(t, pub.got)

	r = req("metric", "", []byte(`m v=1i 1`))
	r.Strict = true
	_, err = s.Write(context.Background(), r)
	require.NoError(t, err, "strict accepts clean points")
}

func compress(t *testing.T, enc string, data []byte) []byte {
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
	}
	return buf.Bytes()
}

func TestWriteEncodings(t *testing.T) {
	for _, enc := range []string{"gzip", "deflate", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			pub := &fakePub{}
			r := req("object", "", compress(t, enc, []byte("host,name=web v=1i 1")))
			r.Encoding = enc
			_, err := newSvc(pub).Write(context.Background(), r)
			require.NoError(t, err)
			require.Len(t, pub.got, 1)
			assert.Equal(t, "host", pub.got[0].pts[0].GetName())
		})
	}
}

func TestWriteErrors(t *testing.T) {
	big := compress(t, "gzip", bytes.Repeat([]byte("m v=1i 1\n"), 200_000))
	cases := []struct {
		name string
		r    *gatewayv1.WriteRequest
		pub  error
		code apierr.Code
		grpc codes.Code
	}{
		{"unknown category", req("metrics", "", []byte("m v=1i")), nil, apierr.InvalidCategory, codes.InvalidArgument},
		{"empty body", req("metric", "", nil), nil, apierr.EmptyBody, codes.InvalidArgument},
		{"bad line", req("metric", "", []byte("m")), nil, apierr.InvalidLinePoint, codes.InvalidArgument},
		{"bad json", req("metric", "application/json", []byte("{")), nil, apierr.InvalidJSONPoint, codes.InvalidArgument},
		{"bad protobuf", req("metric", points.ContentTypeProtobuf, []byte{0xff}), nil, apierr.InvalidProtobufPoint, codes.InvalidArgument},
		{"bad gzip", &gatewayv1.WriteRequest{Category: "metric", Encoding: "gzip", Body: &httpbody.HttpBody{Data: []byte("nope")}}, nil, apierr.DecodeBodyFailed, codes.InvalidArgument},
		{"unknown encoding", &gatewayv1.WriteRequest{Category: "metric", Encoding: "br", Body: &httpbody.HttpBody{Data: []byte("x")}}, nil, apierr.DecodeBodyFailed, codes.InvalidArgument},
		{"gzip bomb", &gatewayv1.WriteRequest{Category: "metric", Encoding: "gzip", Body: &httpbody.HttpBody{Data: big}}, nil, apierr.PayloadTooLarge, codes.ResourceExhausted},
		{"bad echo", &gatewayv1.WriteRequest{Category: "metric", Echo: "xml", Body: &httpbody.HttpBody{Data: []byte("m v=1i")}}, nil, apierr.InvalidEcho, codes.InvalidArgument},
		{"bad precision", &gatewayv1.WriteRequest{Category: "metric", Precision: "d", Body: &httpbody.HttpBody{Data: []byte("m v=1i")}}, nil, apierr.InvalidPrecision, codes.InvalidArgument},
		{"bus full", req("metric", "", []byte("m v=1i")), pipeline.Exhausted(errors.New("stream full")), apierr.FeedBusy, codes.ResourceExhausted},
		{"bus down", req("metric", "", []byte("m v=1i")), errors.New("nats: timeout"), apierr.FeedFailed, codes.Unavailable},
		{"oversize point", req("metric", "", []byte("m v=1i")), pipeline.Permanent(errors.New("message too large")), apierr.InvalidAPIHandler, codes.Internal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := newSvc(&fakePub{err: c.pub}).Write(context.Background(), c.r)
			require.Error(t, err)
			st := status.Convert(err)
			assert.Equal(t, c.grpc, st.Code(), st.Message())
			assert.Equal(t, c.code, codeOf(t, err))
		})
	}
}

func TestPing(t *testing.T) {
	resp, err := newSvc(&fakePub{}).Ping(context.Background(), &gatewayv1.PingRequest{})
	require.NoError(t, err)
	c := resp.GetContent()
	for _, v := range []string{c.GetVersion(), c.GetUptime(), c.GetHost(), c.GetCommit()} {
		assert.NotEmpty(t, v)
	}
	assert.True(t, strings.HasSuffix(c.GetUptime(), "s"))
}
