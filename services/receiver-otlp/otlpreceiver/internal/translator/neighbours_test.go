package translator

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/testing/protocmp"
)

// The conversion reuses work from span to span (the promotion memo, slabs sized from the
// spans before): a span must still convert exactly as it does alone in its payload.

// randTraces is a payload mixing the keys, value types and shapes the conversion treats
// apart: promoted and reserved keys, runtime_id, exception events, invalid UTF-8, zero ids.
func randTraces(r *rand.Rand) ptrace.Traces {
	keys := []string{"http.request.method", "http.method", "http.response.status_code", "http.status_code", "url.path", "db.system", "db.name",
		"rpc.system", "messaging.system", "server.address", "net.peer.name", "runtime_id", "service.name", "trace_id", "error.type",
		"exception.type", "exception.message", "exception.stacktrace", "env", "project", "version", "operation", "x", "user.id", "a.b",
		"remote_ip", "span_kind", "http_status_code", "span_id", "message", "status", "\xffbad", "host", "process.pid"}
	putVal := func(m pcommon.Map, k string) {
		switch r.IntN(9) {
		case 0, 1, 2:
			strs := []string{"", "GET", "mysql", "v\xff", "a\"b\n", "checkout", "200"}
			m.PutStr(k, strs[r.IntN(len(strs))])
		case 3:
			m.PutInt(k, int64(r.IntN(2000))-500)
		case 4:
			m.PutDouble(k, r.Float64()*100)
		case 5:
			m.PutBool(k, r.IntN(2) == 0)
		case 6:
			m.PutEmptyBytes(k).FromRaw([]byte{byte(r.IntN(256)), 'a'})
		case 7:
			mm := m.PutEmptyMap(k)
			if r.IntN(2) == 0 {
				mm.PutStr("k", "v")
			}
		case 8:
			sl := m.PutEmptySlice(k)
			if r.IntN(2) == 0 {
				sl.AppendEmpty().SetInt(3)
			}
		}
	}
	attrs := func(m pcommon.Map, n int) {
		for range n {
			putVal(m, keys[r.IntN(len(keys))])
		}
	}
	td := ptrace.NewTraces()
	for range 1 + r.IntN(3) {
		rs := td.ResourceSpans().AppendEmpty()
		attrs(rs.Resource().Attributes(), r.IntN(6))
		for range 1 + r.IntN(2) {
			ss := rs.ScopeSpans().AppendEmpty()
			attrs(ss.Scope().Attributes(), r.IntN(3))
			for range r.IntN(12) {
				sp := ss.Spans().AppendEmpty()
				if r.IntN(10) > 0 {
					sp.SetTraceID(pcommon.TraceID{byte(r.IntN(3)), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
				}
				if r.IntN(10) > 0 {
					sp.SetSpanID(pcommon.SpanID{byte(r.IntN(8)), 1, 2, 3, 4, 5, 6, 7})
				}
				if r.IntN(3) > 0 {
					sp.SetParentSpanID(pcommon.SpanID{byte(r.IntN(8)), 1, 2, 3, 4, 5, 6, 7})
				}
				sp.SetName([]string{"", "GET /x", "q\xff"}[r.IntN(3)])
				sp.SetKind(ptrace.SpanKind(r.IntN(7)))
				sp.SetStartTimestamp(pcommon.Timestamp(r.Uint64() >> uint(r.IntN(64))))
				sp.SetEndTimestamp(pcommon.Timestamp(r.Uint64() >> uint(r.IntN(64))))
				sp.Status().SetCode(ptrace.StatusCode(r.IntN(4)))
				if r.IntN(3) == 0 {
					sp.Status().SetMessage("boom")
				}
				if r.IntN(4) == 0 {
					sp.TraceState().FromRaw("a=b")
				}
				sp.SetFlags(uint32(r.IntN(3)))
				sp.SetDroppedAttributesCount(uint32(r.IntN(2)))
				attrs(sp.Attributes(), r.IntN(14))
				for range r.IntN(3) {
					ev := sp.Events().AppendEmpty()
					ev.SetName([]string{"exception", "log", ""}[r.IntN(3)])
					ev.SetTimestamp(pcommon.Timestamp(r.IntN(5)))
					attrs(ev.Attributes(), r.IntN(4))
				}
				for range r.IntN(2) {
					l := sp.Links().AppendEmpty()
					l.SetSpanID(pcommon.SpanID{1})
					attrs(l.Attributes(), r.IntN(2))
				}
			}
		}
	}
	return td
}

// checkNeighbours asserts that every span of td converts as it does alone (span_type
// aside: it is decided over the whole payload).
func checkNeighbours(t *testing.T, tr *Translator, td ptrace.Traces, m Meta) {
	t.Helper()
	all := tr.Spans(td, m)
	n := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				one := ptrace.NewTraces()
				ors := one.ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(ors.Resource())
				oss := ors.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(oss.Scope())
				ss.Spans().At(k).CopyTo(oss.Spans().AppendEmpty())
				alone := tr.Spans(one, m)
				if len(alone) != 1 || n >= len(all) {
					t.Fatalf("span %d: %d spans alone, %d in the payload", n, len(alone), len(all))
				}
				if d := cmp.Diff(alone[0], all[n], protocmp.Transform(), protocmp.IgnoreFields(&spanv1.DatakitSpan{}, "span_type")); d != "" {
					t.Fatalf("span %d differs in its payload (-alone +payload):\n%s", n, d)
				}
				n++
			}
		}
	}
	if n != len(all) {
		t.Fatalf("%d spans in, %d out", n, len(all))
	}
}

// neighbourOptions take the paths the reuse depends on: clean_message (runtime_id
// consumed), customer_tags_all and reg: entries (targets made per key), input tags.
func neighbourOptions() []Options {
	return []Options{
		defaultOptions(),
		{},
		{CustomerTagsAll: true, CleanMessage: true, Tags: map[string]string{"env": "e", "remote_ip": "x"}},
		{CompatibleZhaoShang: true, CustomerTags: []string{"reg:^a", "runtime_id", "error_type"}, DelMessage: true},
	}
}

func TestSpansIndependentOfNeighbours(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var trs []*Translator
	for _, o := range neighbourOptions() {
		tr, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		trs = append(trs, tr)
	}
	for range 300 {
		td := randTraces(r)
		for _, tr := range trs {
			checkNeighbours(t, tr, td, Meta{RemoteIP: "10.0.0.1"})
		}
	}
	// The benchmark payload: alike spans, where the memo always hits.
	for _, tr := range trs {
		checkNeighbours(t, tr, benchTraces(50), Meta{})
	}
}
