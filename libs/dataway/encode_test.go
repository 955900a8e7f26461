package dataway

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/dataway/lineproto"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/proto"
)

func testSpan(i int, msgLen int) *spanv1.DatakitSpan {
	return &spanv1.DatakitSpan{
		TraceId: fmt.Sprintf("trace-%d", i/5), SpanId: fmt.Sprintf("span-%d", i), ParentId: "0",
		Service: "svc", Resource: "GET /x", Operation: "http.request", Source: "ddtrace",
		SpanType: "entry", SourceType: "web", Status: "ok",
		Tags:          map[string]string{"http.method": "GET", "http.url": "/x?id=" + fmt.Sprint(i)},
		StartUnixNano: 1_700_000_000_000_000_000 + int64(i)*1000, DurationNano: 12_345_000,
		Message: strings.Repeat("m", msgLen),
	}
}

// decodeBody undoes gzip and the encoding, returning span ids in order.
func decodeBody(t *testing.T, b *Body) []string {
	t.Helper()
	raw := b.Data
	if b.ContentEncoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b.Data))
		require.NoError(t, err)
		raw, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	require.Equal(t, b.RawSize, len(raw), "RawSize is the pre-gzip size")
	var pts []*pointpb.PBPoint
	if b.ContentType == ContentTypeV1 {
		var err error
		pts, err = lineproto.Decode(raw, 0)
		require.NoError(t, err)
	} else {
		var arr pointpb.PBPoints
		require.NoError(t, proto.Unmarshal(raw, &arr))
		pts = arr.GetArr()
	}
	require.Len(t, pts, b.Len())
	var ids []string
	for _, p := range pts {
		for _, f := range p.GetFields() {
			if f.GetKey() == "span_id" {
				ids = append(ids, f.GetS())
			}
		}
	}
	return ids
}

func TestEncodeSplit(t *testing.T) {
	for _, enc := range []Encoding{EncodingV2, EncodingV1} {
		for _, gz := range []bool{false, true} {
			for _, limit := range []int{1024, 4096, 100_000} {
				t.Run(fmt.Sprintf("%s/gzip=%v/limit=%d", enc, gz, limit), func(t *testing.T) {
					var pts []*pointpb.PBPoint
					for i := range 300 {
						msg := i % 7 * 50
						if i == 42 || i == 250 {
							msg = 5000 // alone bigger than the two smaller limits
						}
						pts = append(pts, SpanToPoint(testSpan(i, msg), PointOptions{Hostname: "h"}))
					}
					e := Encoder{Encoding: enc, MaxRawBodySize: limit, Gzip: gz}
					bodies, drops, err := e.Encode(pts)
					require.NoError(t, err)

					seen := map[string]int{}
					for bi, b := range bodies {
						assert.LessOrEqual(t, b.RawSize, limit, "body %d", bi)
						assert.Equal(t, enc.ContentType(), b.ContentType)
						ids := decodeBody(t, b)
						for k, id := range ids {
							seen[id]++
							// Index maps each body point back to its input position.
							assert.Equal(t, fmt.Sprintf("span-%d", b.Index[k]), id)
						}
						// Greedy packing: the next body's first point did not fit in this one.
						if bi+1 < len(bodies) {
							next := pts[bodies[bi+1].Index[0]]
							assert.Greater(t, b.RawSize+encodedSize(t, enc, next), limit)
						}
					}
					dropped := map[int]bool{}
					for _, d := range drops {
						assert.Equal(t, ReasonTooLarge, d.Reason)
						assert.Greater(t, d.Size, limit)
						dropped[d.Index] = true
					}
					if limit < 5000 {
						assert.Equal(t, map[int]bool{42: true, 250: true}, dropped)
					} else {
						assert.Empty(t, dropped)
					}
					for i := range pts {
						id := fmt.Sprintf("span-%d", i)
						if dropped[i] {
							assert.Zero(t, seen[id], "dropped point %d was sent", i)
						} else {
							assert.Equal(t, 1, seen[id], "point %d must be sent exactly once", i)
						}
					}
				})
			}
		}
	}
}

func encodedSize(t *testing.T, enc Encoding, p *pointpb.PBPoint) int {
	t.Helper()
	e := Encoder{Encoding: enc, MaxRawBodySize: 1 << 30}
	bodies, _, err := e.Encode([]*pointpb.PBPoint{p})
	require.NoError(t, err)
	return bodies[0].RawSize
}

func TestEncodeV1NoFieldsDropped(t *testing.T) {
	e := Encoder{Encoding: EncodingV1, MaxRawBodySize: 1024}
	pts := []*pointpb.PBPoint{
		{Name: "m", Fields: []*pointpb.Field{{Key: "t", IsTag: true, Val: &pointpb.Field_S{S: "v"}}}},
		{Name: "m", Fields: []*pointpb.Field{{Key: "f", Val: &pointpb.Field_I{I: 1}}}},
	}
	bodies, drops, err := e.Encode(pts)
	require.NoError(t, err)
	require.Len(t, bodies, 1)
	assert.Equal(t, []int{1}, bodies[0].Index)
	assert.Equal(t, []Drop{{Index: 0, Reason: ReasonNoFields}}, drops)
}

func TestResplit(t *testing.T) {
	var pts []*pointpb.PBPoint
	for i := range 9 {
		pts = append(pts, SpanToPoint(testSpan(i, 10), PointOptions{}))
	}
	e := Encoder{Encoding: EncodingV2, MaxRawBodySize: 1 << 20, Gzip: true}
	bodies, _, err := e.Encode(pts)
	require.NoError(t, err)
	require.Len(t, bodies, 1)
	a, b, ok, err := e.Resplit(bodies[0])
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []int{0, 1, 2, 3}, a.Index)
	assert.Equal(t, []int{4, 5, 6, 7, 8}, b.Index)
	assert.Equal(t, bodies[0].RawSize, a.RawSize+b.RawSize)
	assert.Len(t, decodeBody(t, a), 4)

	single, _, err := e.Encode(pts[:1])
	require.NoError(t, err)
	_, _, ok, err = e.Resplit(single[0])
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestParseEncoding(t *testing.T) {
	for in, want := range map[string]Encoding{"": EncodingV2, "v2": EncodingV2, "protobuf": EncodingV2, "v1": EncodingV1, "line-protocol": EncodingV1} {
		got, err := ParseEncoding(in)
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseEncoding("json")
	assert.ErrorContains(t, err, "content_encoding")
}

// BenchmarkEncode measures the sender's default path (spans -> bodies, split, gzip) per
// encoding; points/* is the path through SpanToPoint and Encode it replaced (still taken
// when the aggregator consumes tracing points), nogzip/* the same without compression,
// tags10/* a span with ten tags.
func BenchmarkEncode(b *testing.B) {
	const n = 1000
	spans := make([]*spanv1.DatakitSpan, n)
	realistic := make([]*spanv1.DatakitSpan, n)
	for i := range spans {
		spans[i] = testSpan(i, 200)
		realistic[i] = testSpan(i, 200)
		for k, v := range map[string]string{
			"http.status_code": "200", "http.route": "/x", "net.peer.name": "10.0.0.1", "peer.service": "db",
			"runtime-id": "8c5a8b2c-3c1f-4d2e", "language": "go", "process_id": "4242", "thread.name": "main",
		} {
			realistic[i].Tags[k] = v
		}
	}
	opts := PointOptions{Hostname: "host-1", GlobalTags: map[string]string{"cluster": "c1"}}
	run := func(name string, encode func() ([]*Body, []Drop, error)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := encode(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/span")
		})
	}
	for _, enc := range []Encoding{EncodingV2, EncodingV1} {
		e := Encoder{Encoding: enc, MaxRawBodySize: 1 << 20, Gzip: true}
		run(enc.String(), func() ([]*Body, []Drop, error) { return e.EncodeSpans(spans, opts) })
		run("points/"+enc.String(), func() ([]*Body, []Drop, error) {
			pts := make([]*pointpb.PBPoint, n)
			for i, s := range spans {
				pts[i] = SpanToPoint(s, opts)
			}
			return e.Encode(pts)
		})
		// Without gzip: what the encoding alone costs.
		plain := e
		plain.Gzip = false
		run("nogzip/"+enc.String(), func() ([]*Body, []Drop, error) { return plain.EncodeSpans(spans, opts) })
		run("tags10/"+enc.String(), func() ([]*Body, []Drop, error) { return e.EncodeSpans(realistic, opts) })
	}
}

// The bodies of one Encode share the arrays behind Index and offsets, and gzip output is
// written into a pooled buffer: neither may leak from one body or call into another.
func TestEncodeBodiesDoNotAlias(t *testing.T) {
	spans := make([]*spanv1.DatakitSpan, 40)
	for i := range spans {
		spans[i] = testSpan(i, 100)
	}
	e := Encoder{Encoding: EncodingV2, MaxRawBodySize: 2048, Gzip: true}
	bodies, _, err := e.EncodeSpans(spans, PointOptions{Hostname: "h"})
	require.NoError(t, err)
	require.Greater(t, len(bodies), 2)
	want := make([][]int, len(bodies))
	data := make([][]byte, len(bodies))
	for i, b := range bodies {
		want[i] = slices.Clone(b.Index)
		data[i] = bytes.Clone(b.Data)
		assert.Equal(t, len(b.Index), cap(b.Index), "body %d", i)
	}
	for _, b := range bodies {
		b.Index = append(b.Index, -1)
		b.offsets = append(b.offsets, -1)
	}
	// Another call reuses the pooled buffers.
	_, _, err = e.EncodeSpans(spans[:5], PointOptions{})
	require.NoError(t, err)
	for i, b := range bodies {
		assert.Equal(t, want[i], b.Index[:len(b.Index)-1], "body %d", i)
		assert.Equal(t, data[i], b.Data, "body %d", i)
		assert.Len(t, decodeBody(t, &Body{Data: b.Data, RawSize: b.RawSize, ContentType: b.ContentType, ContentEncoding: b.ContentEncoding, Index: want[i]}), len(want[i]))
	}
}
