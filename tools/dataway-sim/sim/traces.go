package sim

import (
	"container/list"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
)

// The trace viewer's store: tracing points (from /v1/write/tracing and from tracing
// /v1/tail_sampling packets) grouped by their trace_id field. It is separate from the point
// ring because a trace must be kept or evicted whole: the ring evicts point by point and
// would leave half traces on the page.

const (
	// DefaultMaxTraces is the number of traces the viewer keeps when Options.MaxTraces is 0.
	DefaultMaxTraces = 1000
	// maxSpansPerTrace bounds one trace, so that a runaway trace id cannot take all memory
	// within the trace bound.
	maxSpansPerTrace = 10_000
	// recentEvictions is how many evicted traces the page can name.
	recentEvictions = 20
)

// Where a span reached the simulator.
const (
	ViaWrite        = "write"
	ViaTailSampling = "tail_sampling"
)

type storedSpan struct {
	p        Point
	via      string
	received int64 // unix ns
}

type storedTrace struct {
	id       string
	spans    []storedSpan
	received int64
	elem     *list.Element
}

// traceStore keeps the last max traces, least recently updated evicted first. Its own
// mutex: it is fed while Server.mu may be held, and never takes Server.mu itself.
type traceStore struct {
	mu       sync.Mutex
	max      int
	byID     map[string]*storedTrace
	lru      *list.List // front: most recently updated
	spans    int
	evicted  int64
	evSpans  int64
	dropped  int64 // spans past maxSpansPerTrace
	untraced int64 // tracing points without a trace_id field
	lastEv   []TraceSummary
}

func newTraceStore(maxTraces int) *traceStore {
	if maxTraces <= 0 {
		maxTraces = DefaultMaxTraces
	}
	return &traceStore{max: maxTraces, byID: map[string]*storedTrace{}, lru: list.New()}
}

// add stores the tracing points of pts (other categories are ignored).
func (ts *traceStore) add(pts []Point, via string, received int64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, p := range pts {
		if p.Category != "tracing" {
			continue
		}
		id := fieldString(p.Fields, "trace_id")
		if id == "" {
			ts.untraced++
			continue
		}
		tr := ts.byID[id]
		if tr == nil {
			tr = &storedTrace{id: id}
			tr.elem = ts.lru.PushFront(tr)
			ts.byID[id] = tr
		} else {
			ts.lru.MoveToFront(tr.elem)
		}
		tr.received = received
		if len(tr.spans) >= maxSpansPerTrace {
			ts.dropped++
			continue
		}
		tr.spans = append(tr.spans, storedSpan{p: p, via: via, received: received})
		ts.spans++
	}
	for ts.lru.Len() > ts.max {
		old := ts.lru.Remove(ts.lru.Back()).(*storedTrace)
		delete(ts.byID, old.id)
		ts.spans -= len(old.spans)
		ts.evicted++
		ts.evSpans += int64(len(old.spans))
		ts.lastEv = append(ts.lastEv, summarize(old))
		if len(ts.lastEv) > recentEvictions {
			ts.lastEv = ts.lastEv[len(ts.lastEv)-recentEvictions:]
		}
	}
}

func (ts *traceStore) reset() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.byID, ts.lru, ts.lastEv = map[string]*storedTrace{}, list.New(), nil
	ts.spans, ts.evicted, ts.evSpans, ts.dropped, ts.untraced = 0, 0, 0, 0, 0
}

// TraceSummary is one row of the trace list (GET /v1/_sim/traces).
type TraceSummary struct {
	TraceID       string `json:"trace_id"`
	RootService   string `json:"root_service"`
	RootResource  string `json:"root_resource"`
	RootOperation string `json:"root_operation,omitempty"`
	Spans         int    `json:"spans"`
	ErrorSpans    int    `json:"error_spans"`
	Error         bool   `json:"error"`
	// Source is the root span's source (the protocol: ddtrace, opentelemetry, ...).
	Source   string   `json:"source"`
	Services []string `json:"services"`
	Sources  []string `json:"sources"`
	// Via says which Dataway APIs carried the spans: write (/v1/write/tracing) and/or
	// tail_sampling.
	Via []string `json:"via"`
	// Start is the earliest span start and DurationUS the span of time the trace covers
	// (latest end minus Start), both µs as in the points' start and duration fields.
	Start      int64 `json:"start"`
	DurationUS int64 `json:"duration_us"`
	// Received is when the last span of the trace arrived (unix ns).
	Received int64 `json:"received"`
}

// SpanView is one span of GET /v1/_sim/traces/{trace_id}.
type SpanView struct {
	SpanID      string `json:"span_id"`
	ParentID    string `json:"parent_id"`
	Service     string `json:"service"`
	Resource    string `json:"resource"`
	Operation   string `json:"operation,omitempty"`
	Source      string `json:"source"`
	Status      string `json:"status"`
	SpanType    string `json:"span_type,omitempty"`
	SourceType  string `json:"source_type,omitempty"`
	Measurement string `json:"measurement"`
	Error       bool   `json:"error"`
	StartUS     int64  `json:"start_us"`
	DurationUS  int64  `json:"duration_us"`
	// OffsetUS is StartUS minus the trace start: the bar's left edge in the waterfall.
	OffsetUS int64 `json:"offset_us"`
	// Depth is the nesting level under the span's root (roots are 0); spans come in
	// depth-first order, children by start, so the list reads as the waterfall.
	Depth int `json:"depth"`
	// Orphan marks a span whose parent is not in the trace (not received, or evicted).
	Orphan bool `json:"orphan,omitempty"`
	// Duplicate marks a second copy of a span id (a resent body).
	Duplicate bool              `json:"duplicate,omitempty"`
	Via       string            `json:"via"`
	Received  int64             `json:"received"`
	Time      int64             `json:"time"`
	Tags      map[string]string `json:"tags"`
	Fields    map[string]any    `json:"fields"`
}

// TraceDetail is the JSON of GET /v1/_sim/traces/{trace_id}.
type TraceDetail struct {
	Summary TraceSummary `json:"summary"`
	Spans   []SpanView   `json:"spans"`
}

// TraceStoreStats is the JSON of GET /v1/_sim/trace_store: what the viewer keeps and
// what it evicted.
type TraceStoreStats struct {
	MaxTraces      int   `json:"max_traces"`
	Traces         int   `json:"traces"`
	Spans          int   `json:"spans"`
	EvictedTraces  int64 `json:"evicted_traces"`
	EvictedSpans   int64 `json:"evicted_spans"`
	DroppedSpans   int64 `json:"dropped_spans"`
	UntracedPoints int64 `json:"untraced_points"`
	// MaxSpansPerTrace is the bound past which spans of one trace are dropped.
	MaxSpansPerTrace int `json:"max_spans_per_trace"`
	// LastEvicted names the most recently evicted traces, newest last.
	LastEvicted []TraceSummary `json:"last_evicted"`
	// Services and Sources are the values the list filters offer.
	Services []string `json:"services"`
	Sources  []string `json:"sources"`
}

// TraceFilter selects traces for the list. Empty fields match everything.
type TraceFilter struct {
	// Service matches a trace with at least one span of that service.
	Service string
	// Status "error" matches traces with an error span, "ok" those without; any other
	// value matches a trace with a span of exactly that status.
	Status string
	// Source matches a trace with a span of that source.
	Source string
	// Query matches (case-insensitively) a substring of any span's resource, or a
	// trace id prefix.
	Query string
	Limit int
}

func (f TraceFilter) match(tr *storedTrace, sum TraceSummary) bool {
	if f.Service != "" && !slices.Contains(sum.Services, f.Service) {
		return false
	}
	if f.Source != "" && !slices.Contains(sum.Sources, f.Source) {
		return false
	}
	switch f.Status {
	case "":
	case "error":
		if !sum.Error {
			return false
		}
	case "ok":
		if sum.Error {
			return false
		}
	default:
		if !slices.ContainsFunc(tr.spans, func(s storedSpan) bool { return s.p.Tags["status"] == f.Status }) {
			return false
		}
	}
	if f.Query != "" {
		q := strings.ToLower(f.Query)
		if !strings.HasPrefix(strings.ToLower(tr.id), q) &&
			!slices.ContainsFunc(tr.spans, func(s storedSpan) bool {
				return strings.Contains(strings.ToLower(fieldString(s.p.Fields, "resource")), q)
			}) {
			return false
		}
	}
	return true
}

// list returns the matching traces, most recently updated first.
func (ts *traceStore) list(f TraceFilter) []TraceSummary {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := []TraceSummary{}
	for e := ts.lru.Front(); e != nil && (f.Limit <= 0 || len(out) < f.Limit); e = e.Next() {
		tr := e.Value.(*storedTrace)
		sum := summarize(tr)
		if f.match(tr, sum) {
			out = append(out, sum)
		}
	}
	return out
}

func (ts *traceStore) detail(id string) (TraceDetail, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	tr := ts.byID[id]
	if tr == nil {
		return TraceDetail{}, false
	}
	return TraceDetail{Summary: summarize(tr), Spans: waterfall(tr)}, true
}

func (ts *traceStore) stats() TraceStoreStats {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	services, sources := map[string]bool{}, map[string]bool{}
	for _, tr := range ts.byID {
		for _, s := range tr.spans {
			if v := s.p.Tags["service"]; v != "" {
				services[v] = true
			}
			if v := spanSource(s.p); v != "" {
				sources[v] = true
			}
		}
	}
	return TraceStoreStats{MaxTraces: ts.max, Traces: len(ts.byID), Spans: ts.spans,
		EvictedTraces: ts.evicted, EvictedSpans: ts.evSpans, DroppedSpans: ts.dropped,
		UntracedPoints: ts.untraced, MaxSpansPerTrace: maxSpansPerTrace,
		LastEvicted: append([]TraceSummary{}, ts.lastEv...),
		Services:    sortedKeys(services), Sources: sortedKeys(sources)}
}

// spanTimes returns a span's start and duration in µs: the start and duration fields
// DataKit writes, or the point time when a point has no start.
func spanTimes(p Point) (start, dur int64) {
	start, ok := fieldInt(p.Fields, "start")
	if !ok {
		start = p.Time / 1000
	}
	dur, _ = fieldInt(p.Fields, "duration")
	return start, max(dur, 0)
}

func spanSource(p Point) string {
	if v := p.Tags["source"]; v != "" {
		return v
	}
	return p.Measurement
}

func isErrorStatus(s string) bool { return s == "error" || s == "critical" }

// isRootParent reports whether parent_id says "no parent" (DataKit writes "0"; some
// sources leave it empty).
func isRootParent(id string) bool { return id == "" || id == "0" }

// rootIndex picks the span that names the trace: the earliest span with no parent, else
// the earliest span whose parent is not in the trace, else the earliest span.
func rootIndex(tr *storedTrace, ids map[string]bool) int {
	best, bestRank := -1, 3
	var bestStart int64
	for i, s := range tr.spans {
		rank := 2
		switch parent := fieldString(s.p.Fields, "parent_id"); {
		case isRootParent(parent):
			rank = 0
		case !ids[parent]:
			rank = 1
		}
		start, _ := spanTimes(s.p)
		if rank < bestRank || (rank == bestRank && start < bestStart) {
			best, bestRank, bestStart = i, rank, start
		}
	}
	return best
}

func spanIDs(tr *storedTrace) map[string]bool {
	ids := make(map[string]bool, len(tr.spans))
	for _, s := range tr.spans {
		if id := fieldString(s.p.Fields, "span_id"); id != "" {
			ids[id] = true
		}
	}
	return ids
}

func summarize(tr *storedTrace) TraceSummary {
	sum := TraceSummary{TraceID: tr.id, Spans: len(tr.spans), Received: tr.received}
	if len(tr.spans) == 0 {
		return sum
	}
	services, sources, via := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var end int64 = math.MinInt64
	sum.Start = math.MaxInt64
	for _, s := range tr.spans {
		start, dur := spanTimes(s.p)
		sum.Start = min(sum.Start, start)
		end = max(end, start+dur)
		if isErrorStatus(s.p.Tags["status"]) {
			sum.ErrorSpans++
		}
		if v := s.p.Tags["service"]; v != "" {
			services[v] = true
		}
		if v := spanSource(s.p); v != "" {
			sources[v] = true
		}
		via[s.via] = true
	}
	sum.DurationUS = end - sum.Start
	sum.Error = sum.ErrorSpans > 0
	sum.Services, sum.Sources, sum.Via = sortedKeys(services), sortedKeys(sources), sortedKeys(via)
	root := tr.spans[rootIndex(tr, spanIDs(tr))].p
	sum.RootService = root.Tags["service"]
	sum.RootResource = fieldString(root.Fields, "resource")
	sum.RootOperation = root.Tags["operation"]
	sum.Source = spanSource(root)
	return sum
}

// waterfall orders the spans depth-first from the roots (spans without a parent in the
// trace), children by start time, and sets their depth.
func waterfall(tr *storedTrace) []SpanView {
	ids := spanIDs(tr)
	views := make([]SpanView, len(tr.spans))
	seen := map[string]bool{}
	var traceStart int64 = math.MaxInt64
	for i, s := range tr.spans {
		start, dur := spanTimes(s.p)
		traceStart = min(traceStart, start)
		id := fieldString(s.p.Fields, "span_id")
		parent := fieldString(s.p.Fields, "parent_id")
		views[i] = SpanView{
			SpanID: id, ParentID: parent, Service: s.p.Tags["service"],
			Resource: fieldString(s.p.Fields, "resource"), Operation: s.p.Tags["operation"],
			Source: spanSource(s.p), Status: s.p.Tags["status"], SpanType: s.p.Tags["span_type"],
			SourceType: s.p.Tags["source_type"], Measurement: s.p.Measurement,
			Error: isErrorStatus(s.p.Tags["status"]), StartUS: start, DurationUS: dur,
			Orphan:    !isRootParent(parent) && !ids[parent],
			Duplicate: id != "" && seen[id],
			Via:       s.via, Received: s.received, Time: s.p.Time, Tags: s.p.Tags, Fields: s.p.Fields,
		}
		seen[id] = true
	}
	children := map[string][]int{}
	var roots []int
	for i, v := range views {
		views[i].OffsetUS = v.StartUS - traceStart
		// A span that names itself as parent would loop: treat it as a root.
		if isRootParent(v.ParentID) || v.Orphan || v.ParentID == v.SpanID {
			roots = append(roots, i)
			continue
		}
		children[v.ParentID] = append(children[v.ParentID], i)
	}
	byStart := func(idx []int) {
		sort.SliceStable(idx, func(a, b int) bool { return views[idx[a]].StartUS < views[idx[b]].StartUS })
	}
	byStart(roots)
	out := make([]SpanView, 0, len(views))
	placed := make([]bool, len(views))
	var walk func(i, depth int)
	walk = func(i, depth int) {
		if placed[i] {
			return
		}
		placed[i] = true
		v := views[i]
		v.Depth = depth
		out = append(out, v)
		kids := children[v.SpanID]
		if v.Duplicate {
			kids = nil // the first copy owns the children
		}
		byStart(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	// Spans in a parent cycle are reachable from no root: show them rather than lose them.
	for i := range views {
		walk(i, 0)
	}
	return out
}

func fieldString(f map[string]any, k string) string {
	switch v := f[k].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

func fieldInt(f map[string]any, k string) (int64, bool) {
	switch v := f[k].(type) {
	case int64:
		return v, true
	case uint64:
		if v > math.MaxInt64 {
			return math.MaxInt64, true
		}
		return int64(v), true
	case float64:
		return int64(v), true
	case json.Number:
		i, err := v.Int64()
		return i, err == nil
	}
	return 0, false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
