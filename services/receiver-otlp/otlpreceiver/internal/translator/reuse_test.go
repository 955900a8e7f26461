package translator

import (
	"encoding/hex"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"
)

func TestAppendHex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 200 {
		id := make([]byte, n%18)
		for i := range id {
			id[i] = byte(r.IntN(256))
		}
		if n < 2 {
			for i := range id {
				id[i] = byte(0xf0 + n*0x0f) // every digit 0 or f, then f0 0f
			}
		}
		got, want := string(appendHex([]byte("x"), id)), "x"+hex.EncodeToString(id)
		if got != want {
			t.Fatalf("appendHex(%x) = %q, want %q", id, got, want)
		}
	}
}

func TestAppendIDsHex(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := range 100 {
		var trace [16]byte
		var span, parent [8]byte
		for _, b := range [][]byte{trace[:], span[:], parent[:]} {
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
		}
		want := hex.EncodeToString(trace[:]) + hex.EncodeToString(span[:]) + hex.EncodeToString(parent[:])
		zero := n%2 == 0
		if zero {
			want = want[:48] + string(make([]byte, 16))
		}
		got := appendSpanIDsHex(appendTraceIDHex([]byte("x"), &trace), &span, &parent, zero)
		if string(got) != "x"+want {
			t.Fatalf("appendTraceIDHex+appendSpanIDsHex = %q, want %q", got, "x"+want)
		}
	}
}

// alikeTraces is a payload whose spans share their attribute keys in order, as one
// instrumentation's spans do, with values drawn from few so that neighbours often agree:
// the case where a span clones its neighbour's maps and writes only what differs.
func alikeTraces(r *rand.Rand) ptrace.Traces {
	keys := []string{"http.request.method", "http.method", "http.response.status_code", "http.status_code", "url.path", "db.system",
		"rpc.system", "server.address", "net.peer.name", "runtime_id", "trace_id", "env", "operation", "x", "remote_ip", "span_kind",
		"http_status_code", "status", "host", "db_host", "base_service", "project", "k"}
	strs := []string{"", "GET", "mysql", "v\xff", "a\"b", "200"}
	putVal := func(m pcommon.Map, k string, typ int) {
		switch typ {
		case 0:
			m.PutStr(k, strs[r.IntN(len(strs))])
		case 1:
			m.PutInt(k, int64(r.IntN(3))+199)
		case 2:
			m.PutDouble(k, float64(r.IntN(2))/2)
		case 3:
			m.PutBool(k, r.IntN(2) == 0)
		case 4:
			m.PutEmptyBytes(k).FromRaw([]byte{byte(r.IntN(2))})
		case 5:
			m.PutEmptyMap(k).PutInt("k", int64(r.IntN(2)))
		case 6:
			m.PutEmpty(k)
		}
	}
	td := ptrace.NewTraces()
	for range 1 + r.IntN(2) {
		rs := td.ResourceSpans().AppendEmpty()
		if r.IntN(2) == 0 {
			rs.Resource().Attributes().PutStr("service.name", "svc")
		}
		if r.IntN(3) == 0 {
			putVal(rs.Resource().Attributes(), keys[r.IntN(len(keys))], r.IntN(7))
		}
		for range 1 + r.IntN(2) {
			ss := rs.ScopeSpans().AppendEmpty()
			// The scope's key layout, now and then changed by one span.
			layout := make([]string, r.IntN(8))
			types := make([]int, len(layout))
			for i := range layout {
				layout[i], types[i] = keys[r.IntN(len(keys))], r.IntN(7)
			}
			for range r.IntN(10) {
				sp := ss.Spans().AppendEmpty()
				sp.SetTraceID(pcommon.TraceID{byte(r.IntN(2)), 1})
				sp.SetSpanID(pcommon.SpanID{byte(r.IntN(8)), 1})
				sp.SetKind(ptrace.SpanKind(r.IntN(3)))
				for i, k := range layout {
					typ := types[i]
					if r.IntN(8) == 0 {
						typ = r.IntN(7)
					}
					putVal(sp.Attributes(), k, typ)
				}
				if r.IntN(8) == 0 {
					putVal(sp.Attributes(), keys[r.IntN(len(keys))], r.IntN(7))
				}
				if r.IntN(10) == 0 {
					ev := sp.Events().AppendEmpty()
					ev.SetName("exception")
					ev.Attributes().PutStr("exception.type", "E")
				}
			}
		}
	}
	return td
}

// Cloning a neighbour's maps must give what converting the span alone gives, over the
// option combinations that write keys after the span's attributes.
func TestAlikeSpansIndependentOfNeighbours(t *testing.T) {
	trs := newTranslators(t, append(neighbourOptions(),
		Options{SplitServiceName: true, Tags: map[string]string{"k": "v", "project": "p", "operation": "", "status": "s"}},
		Options{CustomerTags: []string{"runtime_id", "remote_ip", "span_kind", "db_host", "base_service", "k", "status"}, SplitServiceName: true},
	))
	r := rand.New(rand.NewPCG(5, 6))
	for range 150 {
		td := alikeTraces(r)
		for _, tr := range trs {
			checkNeighbours(t, tr, td, Meta{RemoteIP: "10.0.0.1"})
		}
	}
}

// idTraces is a payload of few distinct span and parent ids (zero among them, repeated
// ids, parents inside and outside the payload), now and then a span with zero ids.
func idTraces(r *rand.Rand) ptrace.Traces {
	td := ptrace.NewTraces()
	sl := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for range r.IntN(30) {
		sp := sl.AppendEmpty()
		if r.IntN(40) > 0 {
			sp.SetTraceID(pcommon.TraceID{byte(r.IntN(3)), 1})
		}
		if r.IntN(40) > 0 {
			sp.SetSpanID(pcommon.SpanID{byte(r.IntN(12)), 0, 0, 0, 0, 0, 0, byte(r.IntN(2))})
		}
		if r.IntN(4) > 0 {
			sp.SetParentSpanID(pcommon.SpanID{byte(r.IntN(16)), 0, 0, 0, 0, 0, 0, byte(r.IntN(2))})
		}
	}
	return td
}

// checkSpanTypes asserts that the payload's span types are spanmodel.AssignSpanTypes'.
func checkSpanTypes(t testing.TB, tr *Translator, td ptrace.Traces) {
	t.Helper()
	got := tr.Spans(td, Meta{})
	want := make([]*spanv1.DatakitSpan, len(got))
	for i, s := range got {
		w := proto.Clone(s).(*spanv1.DatakitSpan)
		if tr.opts.Tags["span_type"] == "" {
			w.SpanType = ""
		}
		want[i] = w
	}
	spanmodel.AssignSpanTypes(want, false)
	for i := range got {
		if got[i].SpanType != want[i].SpanType {
			t.Fatalf("span %d (id %s parent %s): span_type %q, AssignSpanTypes says %q", i, got[i].SpanId, got[i].ParentId, got[i].SpanType, want[i].SpanType)
		}
	}
}

func TestSpanTypesMatchAssignSpanTypes(t *testing.T) {
	trs := newTranslators(t, append(neighbourOptions(), Options{CompatibleDDTrace: true}, Options{Tags: map[string]string{"span_type": "x"}}))
	r := rand.New(rand.NewPCG(11, 12))
	for range 300 {
		for _, td := range []ptrace.Traces{idTraces(r), randTraces(r)} {
			for _, tr := range trs {
				checkSpanTypes(t, tr, td)
			}
		}
	}
	for _, tr := range trs {
		checkSpanTypes(t, tr, benchTraces(100))
	}
}

func newTranslators(t *testing.T, opts []Options) []*Translator {
	t.Helper()
	var trs []*Translator
	for _, o := range opts {
		tr, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		trs = append(trs, tr)
	}
	return trs
}

// Alike spans share the maps no differing value writes (no clone): a later span writing
// into a shared map would change the spans before it, which checkNeighbours catches.
func TestAlikeSpansShareMaps(t *testing.T) {
	same := func(a, b any) bool { return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer() }
	for _, tr := range newTranslators(t, append(neighbourOptions(), Options{SplitServiceName: true})) {
		for _, td := range []ptrace.Traces{benchTraces(30), variedTraces(30)} {
			checkNeighbours(t, tr, td, Meta{RemoteIP: "10.0.0.1"})
		}
	}
	tr := newTranslators(t, []Options{defaultOptions()})[0]
	spans := tr.Spans(benchTraces(3), Meta{RemoteIP: "10.0.0.1"})
	if !same(spans[0].Tags, spans[2].Tags) || !same(spans[0].Fields, spans[2].Fields) {
		t.Error("alike spans do not share their maps")
	}
	// Spans 0 and 1 differ in http.response.status_code (a tag) and url.path (a field).
	spans = tr.Spans(variedTraces(2), Meta{RemoteIP: "10.0.0.1"})
	if same(spans[0].Tags, spans[1].Tags) || same(spans[0].Fields, spans[1].Fields) {
		t.Error("spans differing in a tag and a field share a map")
	}
}
