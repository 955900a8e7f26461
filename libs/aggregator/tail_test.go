package aggregator

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/dataway"
	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

type spanOpt func(*spanv1.DatakitSpan)

func withTag(k, v string) spanOpt { return func(s *spanv1.DatakitSpan) { s.Tags[k] = v } }
func withField(k string, v *spanv1.FieldValue) spanOpt {
	return func(s *spanv1.DatakitSpan) { s.Fields[k] = v }
}

func span(trace, id, parent, status string, startUs, durUs int64, opts ...spanOpt) *pointpb.PBPoint {
	s := &spanv1.DatakitSpan{TraceId: trace, SpanId: id, ParentId: parent, Service: "checkout", Resource: "GET /cart",
		Operation: "http.request", Source: "ddtrace", SpanType: "entry", SourceType: "web", Status: status,
		StartUnixNano: startUs * 1000, DurationNano: durUs * 1000, Tags: map[string]string{}, Fields: map[string]*spanv1.FieldValue{}}
	for _, o := range opts {
		o(s)
	}
	return dataway.SpanToPoint(s, dataway.PointOptions{Hostname: "host-1"})
}

func decodePayload(t *testing.T, pkt *aggregatev1.DataPacket) []*pointpb.PBPoint {
	t.Helper()
	payload := pkt.GetPointsPayload()
	if pkt.GetPayloadCompression() == 1 {
		zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		require.NoError(t, err)
		defer zr.Close()
		payload, err = zr.DecodeAll(payload, nil)
		require.NoError(t, err)
	}
	var pts pointpb.PBPoints
	require.NoError(t, proto.Unmarshal(payload, &pts))
	return pts.GetArr()
}

func TestPackTraceFields(t *testing.T) {
	pts := []*pointpb.PBPoint{
		span("t1", "1", "0", "ok", 1_000_000, 500),
		span("t1", "2", "1", "error", 1_000_100, 900, withTag("http_status_code", "503")),
		span("t1", "3", "1", "ok", 1_000_200, 100, withField("body_code", &spanv1.FieldValue{Kind: &spanv1.FieldValue_S{S: "E42"}}),
			withField("trace_keep", &spanv1.FieldValue{Kind: &spanv1.FieldValue_B{B: true}})),
	}
	groups, rest := groupTraces(append(pts, &pointpb.PBPoint{Name: "ddtrace"}))
	require.Len(t, groups, 1)
	require.Len(t, rest, 1, "a point without trace_id is written normally")
	out, err := pack(groups[0], DataTracing, packOptions{Token: "tkn_x", Source: "ddtrace", Version: 2, MaxRawBodySize: 1 << 20})
	require.NoError(t, err)
	require.Len(t, out, 1)
	p := out[0]
	want := &aggregatev1.DataPacket{
		GroupIdHash:             fnv64a("t1"),
		RawGroupId:              "t1",
		Token:                   "tkn_x",
		Source:                  "ddtrace",
		DataType:                "tracing",
		ConfigVersion:           2,
		HasError:                true,
		GroupKey:                "",
		PointCount:              3,
		TraceStartTimeUnixNano:  1_000_000_000,
		TraceEndTimeUnixNano:    (1_000_100 + 900) * 1000,
		MaxPointTimeUnixNano:    1_000_200_000,
		PredError:               true,
		PredHttpError:           true,
		PredBizError:            true,
		PredTraceKeep:           true,
		MaxSpanDurationUs:       900,
		RootDurationUs:          500,
		MaxNonrootDurationUs:    900,
		PredicateSummaryVersion: PredicateSummaryVersion,
	}
	got := proto.CloneOf(p.pkt)
	got.PointsPayload, got.PayloadCompression = nil, 0
	assert.Empty(t, cmp.Diff(want, got, protocmp.Transform()))
	assert.Equal(t, fnv64a("t1"), p.pick, "a trace's pick key is its group_id_hash")
	assert.Empty(t, cmp.Diff(pts, decodePayload(t, p.pkt), protocmp.Transform()), "the payload is the points, in order")
}

func TestPackPredicatesNegative(t *testing.T) {
	groups, _ := groupTraces([]*pointpb.PBPoint{
		span("t2", "1", "0", "ok", 10, 5, withTag("http_status_code", "200"),
			withField("body_code", &spanv1.FieldValue{Kind: &spanv1.FieldValue_S{S: "200"}})),
		span("t2", "2", "1", "ok", 11, 1, withTag("http_status_code", "4xx")),
	})
	out, err := pack(groups[0], DataTracing, packOptions{})
	require.NoError(t, err)
	pkt := out[0].pkt
	assert.False(t, pkt.HasError)
	assert.False(t, pkt.PredError)
	assert.False(t, pkt.PredHttpError, "only 3 digits starting with 4 or 5")
	assert.False(t, pkt.PredBizError, "body_code 0 and 200 are fine")
	assert.False(t, pkt.PredTraceKeep)
}

func TestPackCompressesWhenSmaller(t *testing.T) {
	var pts []*pointpb.PBPoint
	for i := range 50 {
		pts = append(pts, span("t3", fmt.Sprint(i+1), "0", "ok", 10, 5))
	}
	groups, _ := groupTraces(pts)
	out, err := pack(groups[0], DataTracing, packOptions{MaxRawBodySize: 1 << 20})
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.EqualValues(t, 1, out[0].pkt.PayloadCompression, "50 similar spans compress")
	assert.Len(t, decodePayload(t, out[0].pkt), 50)

	tiny := &pointpb.PBPoint{Name: "x", Fields: []*pointpb.Field{{Key: "trace_id", Val: &pointpb.Field_S{S: "t"}}}}
	out, err = pack(&group{id: "t", points: []*pointpb.PBPoint{tiny}}, DataTracing, packOptions{MaxRawBodySize: 1 << 20})
	require.NoError(t, err)
	assert.EqualValues(t, 0, out[0].pkt.PayloadCompression, "a payload zstd does not shrink stays raw")
	assert.Len(t, decodePayload(t, out[0].pkt), 1)
}

func TestPackSplit(t *testing.T) {
	var pts []*pointpb.PBPoint
	for i := range 40 {
		pts = append(pts, span("t4", fmt.Sprint(i+1), "1", "ok", int64(100+i), 5))
	}
	pts[7] = span("t4", "8", "0", "error", 107, 5)
	one := proto.Size(pts[0]) + 2
	groups, _ := groupTraces(pts)
	limit := 400 + 5*one
	out, err := pack(groups[0], DataTracing, packOptions{Token: "tk", MaxRawBodySize: limit})
	require.NoError(t, err)
	require.Greater(t, len(out), 1)
	var all []*pointpb.PBPoint
	for _, p := range out {
		dec := decodePayload(t, p.pkt)
		assert.EqualValues(t, len(dec), p.pkt.PointCount, "point_count is per part")
		var maxT int64
		for _, d := range dec {
			maxT = max(maxT, d.GetTime())
		}
		assert.Equal(t, maxT, p.pkt.MaxPointTimeUnixNano, "max point time is per part")
		assert.True(t, p.pkt.HasError, "meta fields are the whole trace's")
		assert.EqualValues(t, 5, p.pkt.RootDurationUs)
		assert.Equal(t, out[0].pick, p.pick, "every part keeps the pick key")
		assert.LessOrEqual(t, proto.Size(p.pkt), limit+100)
		all = append(all, dec...)
	}
	assert.Empty(t, cmp.Diff(pts, all, protocmp.Transform()), "split loses and reorders nothing")

	// A single oversize point goes alone.
	out, err = pack(&group{id: "t4", points: pts[:3]}, DataTracing, packOptions{MaxRawBodySize: 10})
	require.NoError(t, err)
	assert.Len(t, out, 3)
}

func logPoint(trace, session, status string) *pointpb.PBPoint {
	p := &pointpb.PBPoint{Name: "nginx", Time: 5, Fields: []*pointpb.Field{{Key: "status", IsTag: true, Val: &pointpb.Field_S{S: status}}}}
	if trace != "" {
		p.Fields = append(p.Fields, &pointpb.Field{Key: "trace_id", Val: &pointpb.Field_S{S: trace}})
	}
	if session != "" {
		p.Fields = append(p.Fields, &pointpb.Field{Key: "session_id", IsTag: true, Val: &pointpb.Field_S{S: session}})
	}
	return p
}

func TestGroupByDimensions(t *testing.T) {
	a1, a2 := logPoint("A", "", "error"), logPoint("A", "s1", "info")
	b := logPoint("", "s1", "info")
	none := logPoint("", "", "info")
	dims := []*GroupDimension{{GroupKey: "trace_id"}, {GroupKey: "session_id"}}
	groups, rest := groupByDimensions([]*pointpb.PBPoint{a1, b, none, a2}, dims)
	require.Len(t, groups, 2)
	assert.Equal(t, "A", groups[0].id)
	assert.Equal(t, "trace_id", groups[0].key)
	assert.Equal(t, []*pointpb.PBPoint{a1, a2}, groups[0].points, "the first dimension a point has wins")
	assert.Equal(t, "s1", groups[1].id)
	assert.Equal(t, "session_id", groups[1].key)
	assert.Equal(t, []*pointpb.PBPoint{b}, groups[1].points)
	assert.Equal(t, []*pointpb.PBPoint{none}, rest)

	out, err := pack(groups[0], DataLogging, packOptions{Token: "tkn_x", Source: "nginx", Version: 3})
	require.NoError(t, err)
	pkt := out[0].pkt
	assert.Equal(t, "logging", pkt.DataType)
	assert.Equal(t, "trace_id", pkt.GroupKey)
	assert.Equal(t, "A", pkt.RawGroupId)
	assert.True(t, pkt.HasError)
	assert.EqualValues(t, 3, pkt.ConfigVersion)
	gid := fnv64a("A")
	assert.Equal(t, gid, pkt.GroupIdHash)
	// HashCombine(HashCombine(HashToken(token, gid), xxhash(data_type)), xxhash(group_key))
	assert.Equal(t, groupPickKey("tkn_x", gid, "logging", "trace_id"), out[0].pick)
	assert.NotEqual(t, groupPickKey("tkn_y", gid, "logging", "trace_id"), out[0].pick, "the token is part of the pick key")
}

func TestHashCombineVector(t *testing.T) {
	// ((seed + 0x9e3779b9) ^ h) * 0x517cc1b727220a95, wrapping.
	seed, h, mul := uint64(1), uint64(2), uint64(0x517cc1b727220a95)
	assert.Equal(t, ((seed+0x9e3779b9)^h)*mul, hashCombine(1, 2))
	assert.Equal(t, uint64(0x31bb37fb737b0818), hashCombine(0xffffffffffffffff, 0), "overflow wraps")
	// FNV-1a 64 of "a" (published vector).
	assert.Equal(t, uint64(0xaf63dc4c8601ec8c), fnv64a("a"))
}
