package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/proto"
)

// span is a tracing point as the sender writes it (datakit-spec §1.8).
type span struct {
	trace, id, parent, service, resource, source, status string
	start, dur                                           int64 // µs
	extra                                                map[string]string
}

func (s span) point() *pointpb.PBPoint {
	tag := func(k, v string) *pointpb.Field {
		return &pointpb.Field{Key: k, IsTag: true, Val: &pointpb.Field_S{S: v}}
	}
	str := func(k, v string) *pointpb.Field { return &pointpb.Field{Key: k, Val: &pointpb.Field_S{S: v}} }
	num := func(k string, v int64) *pointpb.Field { return &pointpb.Field{Key: k, Val: &pointpb.Field_I{I: v}} }
	status := s.status
	if status == "" {
		status = "ok"
	}
	p := &pointpb.PBPoint{Name: s.source, Time: s.start * 1000, Fields: []*pointpb.Field{
		tag("service", s.service), tag("source", s.source), tag("status", status), tag("span_type", "entry"),
		str("trace_id", s.trace), str("span_id", s.id), str("parent_id", s.parent), str("resource", s.resource),
		num("start", s.start), num("duration", s.dur),
	}}
	for k, v := range s.extra {
		p.Fields = append(p.Fields, tag(k, v))
	}
	return p
}

func writeSpans(t *testing.T, base string, spans ...span) {
	t.Helper()
	pts := make([]*pointpb.PBPoint, len(spans))
	for i, s := range spans {
		pts[i] = s.point()
	}
	code, body := post(t, base+"/v1/write/tracing?token=tkn", "application/x-protobuf", "gzip", gz(t, pbBody(t, pts...)))
	require.Equal(t, http.StatusOK, code, body)
}

// getBody returns a GET's status and body.
func getBody(t *testing.T, u string) (int, []byte) {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, b
}

func traceIDs(ts []TraceSummary) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.TraceID
	}
	return out
}

// Three traces, oldest first: an OpenTelemetry one with an error in a non-root service, a
// DDTrace one, and a Zipkin one written as line protocol (the sender's v1 encoding).
func seedTraces(t *testing.T, base string) {
	t.Helper()
	writeSpans(t, base,
		span{trace: "aaaa1111", id: "a1", parent: "0", service: "checkout", resource: "GET /cart", source: "opentelemetry", start: 1000, dur: 500},
		span{trace: "aaaa1111", id: "a2", parent: "a1", service: "cart-db", resource: "SELECT cart", source: "opentelemetry", status: "error", start: 1100, dur: 700})
	writeSpans(t, base, span{trace: "bbbb2222", id: "b1", parent: "0", service: "web", resource: "GET /users", source: "ddtrace", start: 5000, dur: 100})
	line := `zipkin,service=auth,source=zipkin,status=ok trace_id="cccc3333",span_id="c1",parent_id="0",resource="POST /login",start=9000i,duration=42i 9000000000` + "\n"
	code, body := post(t, base+"/v1/write/tracing?token=tkn", "text/plain", "", []byte(line))
	require.Equal(t, http.StatusOK, code, body)
}

func TestTraceList(t *testing.T) {
	_, base := start(t, Options{Token: "tkn"})
	seedTraces(t, base)
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"all newest first", "", []string{"cccc3333", "bbbb2222", "aaaa1111"}},
		{"service of a child span", "service=cart-db", []string{"aaaa1111"}},
		{"root service", "service=web", []string{"bbbb2222"}},
		{"unknown service", "service=nope", []string{}},
		{"status error", "status=error", []string{"aaaa1111"}},
		{"status ok", "status=ok", []string{"cccc3333", "bbbb2222"}},
		{"exact span status", "status=warning", []string{}},
		{"source", "source=ddtrace", []string{"bbbb2222"}},
		{"source from line protocol", "source=zipkin", []string{"cccc3333"}},
		{"resource text of a child", "q=select", []string{"aaaa1111"}},
		{"resource text, case-insensitive", "q=get", []string{"bbbb2222", "aaaa1111"}},
		{"trace id prefix", "q=BBBB", []string{"bbbb2222"}},
		{"filters combine", "service=checkout&status=ok", []string{}},
		{"limit", "limit=2", []string{"cccc3333", "bbbb2222"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := getBody(t, base+"/v1/_sim/traces?"+tc.query)
			require.Equal(t, http.StatusOK, code, string(body))
			var got []TraceSummary
			require.NoError(t, json.Unmarshal(body, &got))
			assert.Equal(t, tc.want, traceIDs(got))
		})
	}

	t.Run("summary", func(t *testing.T) {
		var got []TraceSummary
		get(t, base+"/v1/_sim/traces?q=aaaa", &got)
		require.Len(t, got, 1)
		s := got[0]
		assert.Equal(t, "checkout", s.RootService)
		assert.Equal(t, "GET /cart", s.RootResource)
		assert.Equal(t, 2, s.Spans)
		assert.Equal(t, 1, s.ErrorSpans)
		assert.True(t, s.Error)
		assert.Equal(t, "opentelemetry", s.Source)
		assert.Equal(t, int64(1000), s.Start)
		assert.Equal(t, int64(800), s.DurationUS, "from the earliest start to the latest end, a child may outlive its root")
		assert.Equal(t, []string{"cart-db", "checkout"}, s.Services)
		assert.Equal(t, []string{ViaWrite}, s.Via)
		assert.NotZero(t, s.Received)
	})

	for _, q := range []string{"limit=0", "limit=x", "limit=100001"} {
		t.Run("bad "+q, func(t *testing.T) {
			code, body := getBody(t, base+"/v1/_sim/traces?"+q)
			assert.Equal(t, http.StatusBadRequest, code)
			assert.Contains(t, string(body), "limit")
		})
	}
}

func TestTraceDetail(t *testing.T) {
	_, base := start(t, Options{Token: "tkn"})
	// Sent out of order, with a span whose parent never arrived and a resent span.
	writeSpans(t, base,
		span{trace: "agent^1700^7", id: "3", parent: "2", service: "db", resource: "SELECT 1", source: "pinpoint", start: 130, dur: 10, status: "error"},
		span{trace: "agent^1700^7", id: "1", parent: "0", service: "front", resource: "GET /", source: "pinpoint", start: 100, dur: 100, extra: map[string]string{"http_method": "GET"}},
		span{trace: "agent^1700^7", id: "4", parent: "1", service: "front", resource: "render", source: "pinpoint", start: 160, dur: 30},
		span{trace: "agent^1700^7", id: "2", parent: "1", service: "api", resource: "GET /api", source: "pinpoint", start: 120, dur: 40},
		span{trace: "agent^1700^7", id: "9", parent: "8", service: "late", resource: "lost parent", source: "pinpoint", start: 150, dur: 5})
	writeSpans(t, base, span{trace: "agent^1700^7", id: "4", parent: "1", service: "front", resource: "render", source: "pinpoint", start: 160, dur: 30})

	code, body := getBody(t, base+"/v1/_sim/traces/"+url.PathEscape("agent^1700^7"))
	require.Equal(t, http.StatusOK, code, string(body))
	var d TraceDetail
	require.NoError(t, json.Unmarshal(body, &d))
	assert.Equal(t, "front", d.Summary.RootService)
	assert.Equal(t, 6, d.Summary.Spans)

	type row struct {
		ID        string
		Depth     int
		Offset    int64
		Error     bool
		Orphan    bool
		Duplicate bool
	}
	var got []row
	for _, s := range d.Spans {
		got = append(got, row{s.SpanID, s.Depth, s.OffsetUS, s.Error, s.Orphan, s.Duplicate})
	}
	assert.Equal(t, []row{
		{ID: "1", Depth: 0, Offset: 0},
		{ID: "2", Depth: 1, Offset: 20},
		{ID: "3", Depth: 2, Offset: 30, Error: true},
		{ID: "4", Depth: 1, Offset: 60},
		{ID: "4", Depth: 1, Offset: 60, Duplicate: true},
		{ID: "9", Depth: 0, Offset: 50, Orphan: true},
	}, got, "depth-first from the roots, children by start")

	root := d.Spans[0]
	assert.Equal(t, "0", root.ParentID)
	assert.Equal(t, "GET /", root.Resource)
	assert.Equal(t, int64(100), root.StartUS)
	assert.Equal(t, int64(100), root.DurationUS)
	assert.Equal(t, "GET", root.Tags["http_method"], "every tag reaches the page")
	assert.Equal(t, "1", root.Fields["span_id"])
	assert.EqualValues(t, 100, root.Fields["duration"])
	assert.Equal(t, "pinpoint", root.Measurement)
	assert.Equal(t, ViaWrite, root.Via)
	assert.Equal(t, "2", d.Spans[2].ParentID)

	for _, id := range []string{"nope", url.PathEscape("agent^1700^8")} {
		code, body = getBody(t, base+"/v1/_sim/traces/"+id)
		assert.Equal(t, http.StatusNotFound, code)
		assert.Contains(t, string(body), "sim.traceNotFound")
	}
}

func TestTraceEviction(t *testing.T) {
	s, base := start(t, Options{Token: "tkn", MaxTraces: 2})
	one := func(trace string) span {
		return span{trace: trace, id: trace + "-1", parent: "0", service: "svc-" + trace, resource: "op", source: "zipkin", start: 1, dur: 1}
	}
	writeSpans(t, base, one("t1"), one("t2"))
	// t1 gets a new span, so t2 is now the least recently updated.
	writeSpans(t, base, span{trace: "t1", id: "t1-2", parent: "t1-1", service: "svc-t1", resource: "child", source: "zipkin", start: 1, dur: 1})
	writeSpans(t, base, one("t3"))

	assert.Equal(t, []string{"t3", "t1"}, traceIDs(s.Traces(TraceFilter{})))
	var st TraceStoreStats
	get(t, base+"/v1/_sim/trace_store", &st)
	assert.Equal(t, 2, st.MaxTraces)
	assert.Equal(t, 2, st.Traces)
	assert.Equal(t, 3, st.Spans)
	assert.Equal(t, int64(1), st.EvictedTraces)
	assert.Equal(t, int64(1), st.EvictedSpans)
	require.Len(t, st.LastEvicted, 1)
	assert.Equal(t, "t2", st.LastEvicted[0].TraceID)
	assert.Equal(t, "svc-t2", st.LastEvicted[0].RootService)
	assert.Equal(t, []string{"svc-t1", "svc-t3"}, st.Services)
	assert.Equal(t, []string{"zipkin"}, st.Sources)
	code, _ := getBody(t, base+"/v1/_sim/traces/t2")
	assert.Equal(t, http.StatusNotFound, code)

	// A tracing point without a trace id cannot be shown: it is counted.
	code, body := post(t, base+"/v1/write/tracing?token=tkn", "", "", []byte("m f=1i 1\n"))
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, int64(1), s.TraceStore().UntracedPoints)

	code, _ = post(t, base+"/v1/_sim/reset", "", "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, s.Traces(TraceFilter{}))
	assert.Equal(t, TraceStoreStats{MaxTraces: 2, MaxSpansPerTrace: maxSpansPerTrace, LastEvicted: []TraceSummary{}, Services: []string{}, Sources: []string{}}, s.TraceStore())
}

func TestTailSamplingTracesAndGroups(t *testing.T) {
	s, base := start(t, Options{Token: "tkn"})
	packet := func(pkt *aggregatev1.DataPacket, spans ...span) {
		pts := make([]*pointpb.PBPoint, len(spans))
		for i, sp := range spans {
			pts[i] = sp.point()
		}
		pkt.PointsPayload = pbBody(t, pts...)
		pkt.PointCount = int32(len(pts))
		b, err := proto.Marshal(pkt)
		require.NoError(t, err)
		code, body := post(t, base+"/v1/tail_sampling?token=tkn", "application/x-protobuf", "identity", b)
		require.Equal(t, http.StatusOK, code, body)
	}
	packet(&aggregatev1.DataPacket{GroupIdHash: 11, RawGroupId: "ts1", Source: "ddtrace", DataType: "tracing", ConfigVersion: 3, MaxSpanDurationUs: 40, RootDurationUs: 50},
		span{trace: "ts1", id: "1", parent: "0", service: "web", resource: "GET /", source: "ddtrace", start: 10, dur: 50})
	packet(&aggregatev1.DataPacket{GroupIdHash: 11, RawGroupId: "ts1", Source: "ddtrace", DataType: "tracing", ConfigVersion: 3, PredError: true, HasError: true, MaxSpanDurationUs: 30},
		span{trace: "ts1", id: "2", parent: "1", service: "web", resource: "SELECT", source: "ddtrace", status: "error", start: 20, dur: 30})
	packet(&aggregatev1.DataPacket{GroupIdHash: 12, RawGroupId: "req-9", GroupKey: "request_id", DataType: "logging", PredHttpError: true},
		span{trace: "", id: "l", service: "nginx", source: "nginx", start: 5, dur: 0})

	var traces []TraceSummary
	get(t, base+"/v1/_sim/traces", &traces)
	require.Len(t, traces, 1, "logging packets carry no trace")
	assert.Equal(t, "ts1", traces[0].TraceID)
	assert.Equal(t, 2, traces[0].Spans)
	assert.Equal(t, []string{ViaTailSampling}, traces[0].Via)
	assert.True(t, traces[0].Error)

	var groups []TailSamplingGroup
	get(t, base+"/v1/_sim/tail_sampling_groups", &groups)
	require.Len(t, groups, 2)
	byID := map[string]TailSamplingGroup{}
	for _, g := range groups {
		byID[g.RawGroupID] = g
	}
	tr := byID["ts1"]
	assert.Equal(t, TailSamplingGroup{DataType: "tracing", RawGroupID: "ts1", GroupIDHash: "11", Source: "ddtrace", ConfigVersion: 3,
		Packets: 2, Points: 2, HasError: true, PredError: true, MaxSpanDurationUS: 40, RootDurationUS: 50,
		First: tr.First, Last: tr.Last, Measurements: map[string]int{"ddtrace": 2}}, tr, "booleans OR-ed and durations maxed over the packets")
	lg := byID["req-9"]
	assert.Equal(t, "logging", lg.DataType)
	assert.Equal(t, "request_id", lg.GroupKey)
	assert.True(t, lg.PredHTTPError)
	assert.Len(t, s.TailSamplingGroups(1), 1)
}

func TestWrites(t *testing.T) {
	_, base := start(t, Options{Token: "tkn"})
	for _, body := range []string{"cpu,host=a usage=1 1\n", "cpu,host=a usage=2 2\n", "mem,host=a used=3i 3\n"} {
		code, resp := post(t, base+"/v1/write/metric?token=tkn", "", "", []byte(body))
		require.Equal(t, http.StatusOK, code, resp)
	}
	code, resp := post(t, base+"/v1/write/logging?token=tkn", "", "", []byte("nginx message=\"hi\" 4\n"))
	require.Equal(t, http.StatusOK, code, resp)

	for _, tc := range []struct {
		query string
		want  []string // measurement@time
	}{
		{"category=metric", []string{"mem@3", "cpu@2", "cpu@1"}},
		{"category=metric&limit=1", []string{"mem@3"}},
		{"category=logging", []string{"nginx@4"}},
		{"", []string{"nginx@4", "mem@3", "cpu@2", "cpu@1"}},
		{"category=rum", []string{}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var w Writes
			get(t, base+"/v1/_sim/writes?"+tc.query, &w)
			assert.Equal(t, map[string]int{"metric": 3, "logging": 1}, w.Categories)
			got := []string{}
			for _, p := range w.Points {
				got = append(got, fmt.Sprintf("%s@%d", p.Measurement, p.Time))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestViewerPageMounted(t *testing.T) {
	_, base := start(t, Options{Token: "tkn"})
	for _, tc := range []struct {
		path     string
		status   int
		contains string
	}{
		{"/", http.StatusOK, `id="waterfall"`},
		{"/ui/app.js", http.StatusOK, "/v1/_sim/trace_store"},
		{"/nope", http.StatusNotFound, ""},
		{"/healthz", http.StatusOK, "ok"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, body := getBody(t, base+tc.path)
			assert.Equal(t, tc.status, code)
			assert.Contains(t, string(body), tc.contains)
		})
	}
	code, _ := post(t, base+"/", "", "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, code, "the page does not swallow Dataway POSTs")
}
