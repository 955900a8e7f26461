package ddwire

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
)

// The decoders against refSpan, the Go-map model that Meta and Metrics replaced, decoded
// by the code msgp generates for maps and by encoding/json into maps: every body must give
// the same spans (a map's entries sorted by key) or fail as the reference fails.

// cmpKV treats nil and empty alike (no decoder distinguishes "meta": nil from {}), and
// NaN metrics as equal to themselves.
var cmpKV = []cmp.Option{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b Float64) bool { return a == b || (math.IsNaN(float64(a)) && math.IsNaN(float64(b))) }),
}

func fromRef(r *refSpan) *Span {
	if r == nil {
		return nil
	}
	return &Span{
		Service: r.Service, Name: r.Name, Resource: r.Resource, TraceID: r.TraceID, SpanID: r.SpanID, ParentID: r.ParentID,
		Start: r.Start, Duration: r.Duration, Error: r.Error, Type: r.Type,
		Meta: MetaOf(r.Meta), Metrics: MetricsOf(r.Metrics),
	}
}

func fromRefSpans(rs []*refSpan) []*Span {
	if rs == nil {
		return nil
	}
	out := make([]*Span, len(rs))
	for i, r := range rs {
		out[i] = fromRef(r)
	}
	return out
}

func fromRefTraces(rt refTraces) Traces {
	if rt == nil {
		return nil
	}
	out := make(Traces, len(rt))
	for i, tr := range rt {
		out[i] = fromRefSpans(tr)
	}
	return out
}

// sameOutcome fails unless got and want both succeeded with equal values or both failed;
// with prefix set, the error text must also be want's behind the prefix (except for the
// entry limit, whose error now names the field).
func sameOutcome(t *testing.T, what string, got, want any, err, wantErr error, prefix string) {
	t.Helper()
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%s: error %v, map model error %v", what, err, wantErr)
	}
	if err != nil {
		if prefix != "" && msgp.Cause(wantErr) != msgp.ErrLimitExceeded && err.Error() != prefix+wantErr.Error() {
			t.Fatalf("%s: error %q, map model error %q", what, err, wantErr)
		}
		return
	}
	if diff := cmp.Diff(want, got, cmpKV...); diff != "" {
		t.Fatalf("%s differs from the map model (-map +ours):\n%s", what, diff)
	}
}

func checkMsgpackAgainstMaps(t *testing.T, body []byte) {
	t.Helper()
	// DecodeTraces validated every body first; now only those it fails to decode or
	// that have unknown fields. The outcome, error text included, must be the same.
	got, err := DecodeTraces(body, MsgPack)
	if verr := validate(body); verr != nil {
		if err == nil || err.Error() != "decode msgpack traces: "+verr.Error() {
			t.Fatalf("v0.4 traces: error %v, validation error %v", err, verr)
		}
		return // no other decoder decodes such a body
	}
	var ref refTraces
	_, refErr := ref.UnmarshalMsg(body)
	sameOutcome(t, "v0.4 traces", got, fromRefTraces(ref), err, refErr, "decode msgpack traces: ")

	// The generated codec (v0.1 spans, v0.7 chunks) reads Meta and Metrics through their
	// UnmarshalMsg, not the string-sharing decoder.
	var refSs refSpans
	_, refErr = refSs.UnmarshalMsg(body)
	var ss Spans
	_, err = ss.UnmarshalMsg(body)
	sameOutcome(t, "v0.1 spans", []*Span(ss), fromRefSpans(refSs), err, refErr, "")
}

func checkJSONAgainstMaps(t *testing.T, body []byte) {
	t.Helper()
	var ref refTraces
	refErr := json.Unmarshal(body, &ref)
	got, err := DecodeTraces(body, JSON)
	sameOutcome(t, "JSON traces", got, fromRefTraces(ref), err, refErr, "")

	var refSs refSpans
	refErr = json.Unmarshal(body, &refSs)
	var ss Spans
	err = json.Unmarshal(body, &ss)
	sameOutcome(t, "JSON spans", []*Span(ss), fromRefSpans(refSs), err, refErr, "")
}

// checkV05AgainstMaps compares the resolved meta and metrics with the Go maps the
// resolver built before (the last of a repeated key wins).
func checkV05AgainstMaps(t *testing.T, body []byte) {
	t.Helper()
	ts, err := DecodeV05(body)
	if err != nil {
		return // the resolver's errors did not change
	}
	var p V05Payload
	_, err = p.UnmarshalMsg(body)
	require.NoError(t, err)
	k := 0
	for _, tr := range p.Traces {
		got := ts[k]
		k++
		i := 0
		for _, s := range tr {
			if s == nil {
				continue
			}
			var meta map[string]Str
			if len(s.Meta) > 0 {
				meta = map[string]Str{}
				for _, kv := range s.Meta {
					meta[string(p.Strings[kv.Key])] = p.Strings[kv.Value]
				}
			}
			var metrics map[string]Float64
			if len(s.Metrics) > 0 {
				metrics = map[string]Float64{}
				for _, kv := range s.Metrics {
					metrics[string(p.Strings[kv.Key])] = Float64(kv.Value)
				}
			}
			if diff := cmp.Diff(MetaOf(meta), got[i].Meta, cmpKV...); diff != "" {
				t.Fatalf("v0.5 meta differs from the map model:\n%s", diff)
			}
			if diff := cmp.Diff(MetricsOf(metrics), got[i].Metrics, cmpKV...); diff != "" {
				t.Fatalf("v0.5 metrics differs from the map model:\n%s", diff)
			}
			i++
		}
	}
}

// checkV07AgainstMaps holds DecodeV07 against the map model with the chunk handling it
// had: env and the chunk priority injected into Go maps.
func checkV07AgainstMaps(t *testing.T, body []byte) {
	t.Helper()
	got, err := DecodeV07(body)
	if validate(body) != nil {
		require.Error(t, err)
		return
	}
	var p refTracerPayload
	_, refErr := p.UnmarshalMsg(body)
	var want Traces
	if refErr == nil {
		want = Traces{}
		for _, c := range p.Chunks {
			if c == nil {
				continue
			}
			tr := Trace{}
			has := false
			for _, s := range c.Spans {
				if s == nil {
					continue
				}
				if _, ok := s.Metrics[priorityKey]; ok {
					has = true
				}
				if p.Env != "" && s.Meta["env"] == "" {
					if s.Meta == nil {
						s.Meta = map[string]Str{}
					}
					s.Meta["env"] = p.Env
				}
				tr = append(tr, fromRef(s))
			}
			if !has && len(tr) > 0 && c.Priority != nil && *c.Priority != priorityNone {
				tr[0].Metrics.Set(priorityKey, Float64(*c.Priority))
			}
			want = append(want, tr)
		}
	}
	sameOutcome(t, "v0.7 traces", got, want, err, refErr, "")
}

func v07Seeds(t testing.TB) [][]byte {
	b, err := os.ReadFile(filepath.Join("..", "translator", "testdata", "chunks.v07.msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	keep := Int32(1)
	p := TracerPayload{Env: "e", Chunks: []*TraceChunk{
		{Priority: &keep, Spans: []*Span{nil, {Meta: Meta{{"env", ""}, {"z", "1"}}}, {Metrics: Metrics{{"a", 1}}}}},
		nil,
		{Priority: &keep, Spans: []*Span{{Metrics: Metrics{{"_sampling_priority_v1", 0}}}}},
	}}
	more, err := p.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{b, more}
}

func FuzzV07MatchesMapModel(f *testing.F) {
	for _, seed := range v07Seeds(f) {
		f.Add(seed)
	}
	f.Fuzz(checkV07AgainstMaps)
}

// repeatedKeys is a v0.4 body whose meta and metrics repeat keys, out of order.
func repeatedKeys() []byte {
	b := msgp.AppendArrayHeader(nil, 1)
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "meta")
	b = msgp.AppendMapHeader(b, 5)
	for _, kv := range [][2]string{{"b", "1"}, {"a", "2"}, {"b", "3"}, {"c", "4"}, {"a", "5"}} {
		b = msgp.AppendString(b, kv[0])
		b = msgp.AppendString(b, kv[1])
	}
	b = msgp.AppendString(b, "metrics")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "z")
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendString(b, "z")
	b = msgp.AppendFloat64(b, math.NaN())
	b = msgp.AppendString(b, "y")
	b = msgp.AppendUint(b, 2)
	return b
}

// deepUnknown is a v0.4 body whose span has an unknown field nested just within msgp's
// recursion limit when counted from the field, beyond it when counted from the body.
func deepUnknown() []byte {
	b := msgp.AppendArrayHeader(nil, 1)
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "deep")
	const depth = 100000 - 2
	for range depth {
		b = msgp.AppendArrayHeader(b, 1)
	}
	return msgp.AppendNil(b)
}

// badValues are v0.4 bodies whose meta or metrics value has the wrong type, under an
// empty key and a named one: the error names the key as the generated code did.
func badValues() [][]byte {
	var out [][]byte
	for _, field := range []string{"meta", "metrics"} {
		for _, key := range []string{"", "k"} {
			b := msgp.AppendArrayHeader(nil, 1)
			b = msgp.AppendArrayHeader(b, 1)
			b = msgp.AppendMapHeader(b, 1)
			b = msgp.AppendString(b, field)
			b = msgp.AppendMapHeader(b, 1)
			b = msgp.AppendString(b, key)
			b = msgp.AppendArrayHeader(b, 0) // neither a string nor a number
			out = append(out, b)
		}
	}
	return out
}

func jsonSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(`[[{"meta":{"b":"1","a":"2","b":"3"},"metrics":{"x":1,"w":2.5}}]]`),
		[]byte(`[[{"meta":{"a":"1"},"Meta":{"b":"2"},"metrics":null}]]`), // a repeated field merges
		[]byte(`[[{"meta":{"a":"1"},"meta":null}]]`),
		[]byte(`[[{"meta":{"a":null},"metrics":{"m":null}}, null]]`),
		[]byte(`[[{"meta":{"a":1}}]]`), []byte(`[[{"meta":"x"}]]`), []byte(`[[{"metrics":{"m":"1"}}]]`),
		[]byte(`[{"meta":{}, "metrics":{}}]`), []byte(`[{"trace_id":1,"meta":{"k":"v"}}]`),
	}
	for _, name := range []string{"web.v03.json", "flat.v01.json"} {
		b, err := os.ReadFile(filepath.Join("..", "translator", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

func v05Seeds(t testing.TB) [][]byte {
	b, err := os.ReadFile(filepath.Join("..", "translator", "testdata", "dict.v05.msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	// a span whose meta and metrics repeat a key
	p := V05Payload{Strings: []Str{"", "a", "b", "1", "2"}, Traces: []V05Trace{{{
		Meta:    IndexMap{{2, 3}, {1, 4}, {2, 4}},
		Metrics: IndexFloatMap{{2, 1}, {1, 2}, {2, 3}},
	}}}}
	dup, err := p.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{b, dup}
}

func TestDecodersMatchMapModel(t *testing.T) {
	for _, seed := range append(append(traceSeeds(t), repeatedKeys()), badValues()...) {
		checkMsgpackAgainstMaps(t, seed)
		for n := range min(len(seed), 400) {
			checkMsgpackAgainstMaps(t, seed[:n])
		}
	}
	for _, seed := range jsonSeeds(t) {
		checkJSONAgainstMaps(t, seed)
	}
	for _, seed := range v05Seeds(t) {
		checkV05AgainstMaps(t, seed)
	}
	for _, seed := range v07Seeds(t) {
		checkV07AgainstMaps(t, seed)
		for n := range len(seed) {
			checkV07AgainstMaps(t, seed[:n])
		}
	}
}

func FuzzJSONMatchesMapModel(f *testing.F) {
	for _, seed := range jsonSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(checkJSONAgainstMaps)
}

func FuzzV05MatchesMapModel(f *testing.F) {
	for _, seed := range v05Seeds(f) {
		f.Add(seed)
	}
	f.Fuzz(checkV05AgainstMaps)
}

func TestDeepUnknownFieldIsRefusedAsBefore(t *testing.T) {
	body := deepUnknown()
	require.Error(t, validate(body))
	d := strDecoder{body: string(body)}
	_, _, err := d.traces(body)
	require.NoError(t, err, "the decoder alone accepts it")
	_, err = DecodeTraces(body, MsgPack)
	require.ErrorContains(t, err, "malformed msgpack")
	checkMsgpackAgainstMaps(t, body)
}

func TestMetaNormalizedLastWins(t *testing.T) {
	ts, err := DecodeTraces(repeatedKeys(), MsgPack)
	require.NoError(t, err)
	s := ts[0][0]
	assert.Equal(t, Meta{{"a", "5"}, {"b", "3"}, {"c", "4"}}, s.Meta)
	require.Len(t, s.Metrics, 2)
	assert.Equal(t, "y", s.Metrics[0].Key)
	assert.True(t, math.IsNaN(float64(s.Metrics[1].Value)), "the last z wins")
}

func TestMetaGetSet(t *testing.T) {
	var m Meta
	_, ok := m.Get("a")
	assert.False(t, ok)
	m.Set("b", "1")
	m.Set("a", "2")
	m.Set("c", "3")
	m.Set("a", "4")
	assert.Equal(t, Meta{{"a", "4"}, {"b", "1"}, {"c", "3"}}, m)
	v, ok := m.Get("c")
	assert.True(t, ok)
	assert.Equal(t, Str("3"), v)
	i, ok := m.Index("b")
	assert.True(t, ok)
	assert.Equal(t, 1, i)

	// Set on entries carved from a decoder's arena must not write into the next span's.
	ts, err := DecodeTraces(msgpTraces(t,
		map[string]any{"meta": map[string]any{"k": "1"}}, map[string]any{"meta": map[string]any{"x": "2"}}), MsgPack)
	require.NoError(t, err)
	ts[0][0].Meta.Set("l", "new")
	assert.Equal(t, Meta{{"x", "2"}}, ts[0][1].Meta)
	assert.Equal(t, Meta{{"k", "1"}, {"l", "new"}}, ts[0][0].Meta)
}

func TestMetaJSONRoundTrip(t *testing.T) {
	m := Meta{{"a", "1"}, {"b", "<>"}}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	want, err := json.Marshal(map[string]Str{"b": "<>", "a": "1"})
	require.NoError(t, err)
	assert.Equal(t, string(want), string(b), "as encoding/json writes the map")
	var back Meta
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, m, back)
	b, err = json.Marshal(Metrics(nil))
	require.NoError(t, err)
	assert.Equal(t, "null", string(b))
}

func msgpTraces(t *testing.T, spans ...map[string]any) []byte {
	t.Helper()
	b := msgp.AppendArrayHeader(nil, 1)
	b = msgp.AppendArrayHeader(b, uint32(len(spans)))
	for _, s := range spans {
		var err error
		b, err = msgp.AppendMapStrIntf(b, s)
		require.NoError(t, err)
	}
	return b
}
