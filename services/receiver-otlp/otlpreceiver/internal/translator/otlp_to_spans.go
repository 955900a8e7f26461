package translator

import (
	"encoding/binary"
	"encoding/hex"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Keys the conversion reads or writes.
const (
	attrServiceName  = "service.name"
	attrRuntimeID    = "runtime_id"
	attrTraceID      = "trace_id"
	attrDBSystem     = "db.system"
	attrRPCSystem    = "rpc.system"
	attrMsgSystem    = "messaging.system"
	defaultService   = "unknown_service"
	eventException   = "exception"
	tagHTTPStatus    = "http_status_code"
	tagSpanKind      = "span_kind"
	tagBaseService   = "base_service"
	tagRemoteIP      = "remote_ip"
	tagDBHost        = "db_host"
	fieldRuntimeID   = "runtime_id"
	fieldRuntimeIDDD = "runtime-id"
)

var exceptionFields = [...]struct{ attr, field string }{
	{"exception.type", "error_type"},
	{"exception.message", "error_message"},
	{"exception.stacktrace", "error_stack"},
}

// spanKinds is the span_kind tag by SpanKind (an array: a map lookup per span showed).
var spanKinds = [...]string{
	ptrace.SpanKindUnspecified: "unspecified",
	ptrace.SpanKindInternal:    "internal",
	ptrace.SpanKindServer:      "server",
	ptrace.SpanKindClient:      "client",
	ptrace.SpanKindProducer:    "producer",
	ptrace.SpanKindConsumer:    "consumer",
}

// enumName is names[v], "" when v is out of range.
func enumName[E ~int32](names []string, v E) string {
	if v >= 0 && int64(v) < int64(len(names)) {
		return names[v]
	}
	return ""
}

// reservedFields are point keys the sender writes from dedicated span fields; a promoted
// attribute of that name would collide with them, so it is dropped.
var reservedFields = map[string]struct{}{
	"trace_id": {}, "span_id": {}, "parent_id": {}, "resource": {}, "start": {}, "duration": {},
	"message": {}, "service": {}, "source": {}, "status": {}, "span_type": {}, "source_type": {},
}

// kv is one promoted attribute, kept apart from any span so resource and scope attributes
// are scanned once per payload and applied to each of their spans.
type kv struct {
	promoteTarget
	tag bool // only an int http_status_code
	typ pcommon.ValueType
	val pcommon.Value
}

// attrSet is what a resource's or scope's attributes contribute to each of their spans.
type attrSet struct {
	promoted []kv
	// nfields bounds how many fields promoted adds (sizes each span's map).
	nfields int
	// need is how many field values of each kind promoted carves for each span.
	need fieldNeed
	// frag is the JSON of the attributes left for the message, each followed by a comma.
	frag []byte
}

// Spans converts td into spans (not grouped), with span_type assigned over the whole
// payload as DataKit does (single-server rule). The spans are read-only: alike neighbours
// share their Tags and Fields maps and FieldValues (see cloneMaps), so a write into one
// span's map would change others; copy a span's maps before editing them.
func (t *Translator) Spans(td ptrace.Traces, m Meta) []*spanv1.DatakitSpan {
	spans := make([]*spanv1.DatakitSpan, 0, td.SpanCount())
	c := conv{t: t, scratch: getScratch()}
	defer putScratch(c.scratch)
	c.nspans = cap(spans)
	c.left = c.nspans
	c.remoteIP = spanmodel.ValidString(m.RemoteIP)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := c.resource(rs.Resource().Attributes())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := c.attrSet(ss.Scope().Attributes(), "")
			// Spans of another resource or scope never reuse the maps of the ones before.
			c.gen++
			sl := ss.Spans()
			for k := 0; k < sl.Len(); k++ {
				spans = append(spans, c.span(sl.At(k), &res, &scope))
				c.left--
			}
		}
	}
	c.finish(spans)
	if len(c.spanIDs) == len(spans) {
		// Every span's ids are the plain hex of their bytes: the numbers decide alike.
		spanmodel.AssignSpanTypesByID(spans, c.spanIDs, c.parentIDs)
	} else {
		spanmodel.AssignSpanTypes(spans, false)
	}
	return spans
}

// ToTraceBatch converts td into a batch grouped by trace id. The transport sets Input and
// ReceivedUnixNano.
func (t *Translator) ToTraceBatch(td ptrace.Traces, m Meta) *spanv1.TraceBatch {
	return &spanv1.TraceBatch{Source: Source, Traces: spanmodel.GroupByTrace(t.Spans(td, m))}
}

// conv is the state of one conversion: scratch buffers reused span after span, and slabs
// the payload's field values are carved from (a payload's spans live and die together, and
// two allocations per promoted attribute dominated the conversion cost).
type conv struct {
	t *Translator
	// remoteIP is Meta.RemoteIP made valid UTF-8 once for all spans.
	remoteIP string
	*scratch
	strs []strSlot
	ints []intSlot
	flts []fltSlot
	// need is what the current span carves, which sizes a slab refill for the spans left.
	need fieldNeed

	// nspans is the payload's span count, left how many of them are still to convert.
	nspans, left int
	spans        []spanv1.DatakitSpan

	// gen counts the resources and scopes seen; prev is the last span converted without
	// events, the one the next span may clone its maps from (nil: none).
	gen     int
	prev    *spanv1.DatakitSpan
	prevKey reuseKey
	// slowIDs: some span's ids are not plain hex (scratch.spanIDs is then empty).
	slowIDs bool
	// lastTrace is the last trace id written to the arena, at lastTraceOff (haveTrace).
	lastTrace    pcommon.TraceID
	lastTraceOff int
	haveTrace    bool
}

// A field value and its oneof wrapper share one slab element: one allocation per payload
// instead of two per value, and the pair sits together in memory.
type (
	strSlot struct {
		f spanv1.FieldValue
		w spanv1.FieldValue_S
	}
	intSlot struct {
		f spanv1.FieldValue
		w spanv1.FieldValue_I
	}
	fltSlot struct {
		f spanv1.FieldValue
		w spanv1.FieldValue_F
	}
)

// fieldNeed counts the slab-carved field values of each kind (bool fields are rare and
// allocated one by one).
type fieldNeed struct{ s, i, f int }

func (n *fieldNeed) add(o fieldNeed) { n.s, n.i, n.f = n.s+o.s, n.i+o.i, n.f+o.f }

// count adds what fieldOf carves for a value of type t.
func (n *fieldNeed) count(t pcommon.ValueType) {
	switch t {
	case pcommon.ValueTypeStr, pcommon.ValueTypeBytes, pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		n.s++
	case pcommon.ValueTypeInt:
		n.i++
	case pcommon.ValueTypeDouble:
		n.f++
	}
}

// maxSlab bounds one slab so that a huge payload is carved in pieces.
const maxSlab = 4096

// refill is the size of a new slab when the current span needs perSpan values of its
// kind: enough for every span left when they are alike, as a payload's spans mostly are.
// The first span is not taken as the pattern: the spans after it mostly clone its maps
// and carve only the values that differ (cloneMaps sets need to those).
func (c *conv) refill(perSpan int) int {
	if c.left == c.nspans {
		return max(perSpan, 8)
	}
	return min(max(perSpan*c.left, 8), maxSlab)
}

// scratch is the conversion's working memory, pooled across payloads: nothing a span
// keeps points into it.
type scratch struct {
	tmp []byte
	// memo is the promotion of the previous span's attribute keys, by position: the spans
	// of a payload mostly carry the same keys in the same order, and comparing a key with
	// the one before is cheaper than resolving it again. Valid for one conversion only (it
	// depends on the Translator).
	memo []memoKey
	// keyJSON holds the memo's message prefixes.
	keyJSON []byte
	// arena holds the hex ids and messages of all the payload's spans; finish turns it
	// into one string the spans' strings are cut from (one allocation, not two per span).
	arena   []byte
	pending []pendingSpan
	// prevKV is the promoted attributes of conv.prev, diff the positions whose values the
	// current span writes over the clone.
	prevKV []kv
	diff   []int
	// spanIDs and parentIDs (0: none) are the spans' ids as numbers, for
	// spanmodel.AssignSpanTypesByID, while every span's ids so far are plain hex.
	spanIDs, parentIDs []uint64
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// maxPooledArena keeps one huge payload from pinning its arena in the pool.
const maxPooledArena = 4 << 20

func putScratch(s *scratch) {
	if cap(s.arena) > maxPooledArena || cap(s.keyJSON) > maxPooledArena || cap(s.spanIDs) > 1<<16 {
		return
	}
	s.tmp, s.arena, s.keyJSON = s.tmp[:0], s.arena[:0], s.keyJSON[:0]
	// Drop the references into the payload (pdata values) before pooling.
	clear(s.memo[:cap(s.memo)])
	clear(s.prevKV[:cap(s.prevKV)])
	s.pending, s.memo, s.prevKV, s.diff = s.pending[:0], s.memo[:0], s.prevKV[:0], s.diff[:0]
	s.spanIDs, s.parentIDs = s.spanIDs[:0], s.parentIDs[:0]
	scratchPool.Put(s)
}

// memoKey is one attribute key and where it is promoted to (ok false: it is not); for a
// key left in the message, keyJSON[pre:preEnd] is its `{"key":...,"value":` prefix, and
// keyJSON[val:valEnd] the JSON of the last value written for it (vtyp Empty: none),
// reused while the spans repeat the value.
type memoKey struct {
	key         string
	t           promoteTarget
	ok          bool
	class       keyClass
	pre, preEnd int

	vtyp        pcommon.ValueType
	vstr        string
	vnum        uint64
	val, valEnd int
}

// maxMemo bounds the memo: a span with more attributes resolves the rest one by one.
const maxMemo = 64

// maxValueMemo bounds what the memo's values add to keyJSON in one conversion (values
// that change from span to span are copied there each time).
const maxValueMemo = 64 << 10

// memoAt is the memo of the i-th attribute of a span, key k; nil past maxMemo.
func (c *conv) memoAt(i int, k string) *memoKey {
	if i < len(c.memo) {
		m := &c.memo[i]
		if m.key != k {
			*m = c.memoize(k)
		}
		return m
	}
	if i == len(c.memo) && i < maxMemo {
		c.memo = append(c.memo, c.memoize(k))
		return &c.memo[i]
	}
	return nil
}

func (c *conv) memoize(k string) memoKey {
	t, ok := c.t.target(k)
	m := memoKey{key: k, t: t, ok: ok, class: classOf(k), pre: len(c.keyJSON)}
	if !ok {
		c.keyJSON = appendKeyPrefix(c.keyJSON, k)
	}
	m.preEnd = len(c.keyJSON)
	return m
}

// appendMemoKeyValue is appendKeyValue (and the list's comma) for the unpromoted key of m.
func (c *conv) appendMemoKeyValue(b []byte, m *memoKey, v pcommon.Value) []byte {
	b = append(b, c.keyJSON[m.pre:m.preEnd]...)
	var str string
	var num uint64
	typ := v.Type()
	switch typ {
	case pcommon.ValueTypeStr:
		str = v.Str()
	case pcommon.ValueTypeInt:
		num = uint64(v.Int())
	case pcommon.ValueTypeDouble:
		num = math.Float64bits(v.Double())
	case pcommon.ValueTypeBool:
		if v.Bool() {
			num = 1
		}
	default:
		return append(appendAnyValue(b, v), '}', ',')
	}
	if m.vtyp == typ && m.vnum == num && m.vstr == str {
		b = append(b, c.keyJSON[m.val:m.valEnd]...)
		return append(b, '}', ',')
	}
	start := len(b)
	b = appendAnyValue(b, v)
	if len(c.keyJSON) < maxValueMemo {
		m.vtyp, m.vstr, m.vnum = typ, str, num
		m.val = len(c.keyJSON)
		c.keyJSON = append(c.keyJSON, b[start:]...)
		m.valEnd = len(c.keyJSON)
	}
	return append(b, '}', ',')
}

// pendingSpan is where a span's arena strings are: traceOff its trace id's hex, idOff its
// span and parent ids' (idOff < 0 when its ids are already set), msgOff its message (< 0:
// none). It holds no pointer (the span is the one of the
// same index), so appending one costs no write barrier while the collector runs.
type pendingSpan struct {
	traceOff, idOff int
	msgOff, msgEnd  int
}

// finish sets the arena strings of spans, the payload's spans in conversion order.
func (c *conv) finish(spans []*spanv1.DatakitSpan) {
	if len(c.arena) == 0 {
		return
	}
	all := string(c.arena)
	for i, p := range c.pending {
		s := spans[i]
		if p.idOff >= 0 {
			ids := all[p.idOff : p.idOff+32]
			s.TraceId, s.SpanId = all[p.traceOff:p.traceOff+32], ids[:16]
			if ids[16] == 0 {
				s.ParentId = "0"
			} else {
				s.ParentId = ids[16:]
			}
		}
		if p.msgOff >= 0 {
			s.Message = all[p.msgOff:p.msgEnd]
		}
	}
}

// carve takes the next element of slab, refilling it with n fresh ones when used up.
func carve[T any](slab *[]T, n int) *T {
	if len(*slab) == 0 {
		*slab = make([]T, n)
	}
	p := &(*slab)[0]
	*slab = (*slab)[1:]
	return p
}

func (c *conv) newSpan() *spanv1.DatakitSpan {
	return carve(&c.spans, min(max(c.left, 1), maxSlab))
}

func (c *conv) float(v float64) *spanv1.FieldValue {
	p := carve(&c.flts, c.refill(c.need.f))
	p.w.F = v
	p.f.Kind = &p.w
	return &p.f
}

func (c *conv) str(v string) *spanv1.FieldValue {
	p := carve(&c.strs, c.refill(c.need.s))
	p.w.S = v
	p.f.Kind = &p.w
	return &p.f
}

func (c *conv) int(v int64) *spanv1.FieldValue {
	p := carve(&c.ints, c.refill(c.need.i))
	p.w.I = v
	p.f.Kind = &p.w
	return &p.f
}

type resourceSet struct {
	attrSet
	service   string
	runtimeID string
}

func (c *conv) resource(attrs pcommon.Map) resourceSet {
	r := resourceSet{service: defaultService}
	if v, ok := attrs.Get(attrServiceName); ok && v.Type() == pcommon.ValueTypeStr && v.Str() != "" {
		r.service = spanmodel.ValidString(v.Str())
	}
	if v, ok := attrs.Get(attrRuntimeID); ok && v.Type() == pcommon.ValueTypeStr {
		r.runtimeID = spanmodel.ValidString(v.Str())
	}
	skip := ""
	if c.t.opts.CleanMessage {
		// DataKit removes both from the resource before promotion: they are consumed.
		skip = "resource"
	}
	r.attrSet = c.attrSet(attrs, skip)
	return r
}

// attrSet splits attrs into promoted values and the message fragment. With skip ==
// "resource", service.name and runtime_id are consumed (clean_message).
func (c *conv) attrSet(attrs pcommon.Map, skip string) attrSet {
	var s attrSet
	for k, v := range attrs.All() {
		if skip != "" && (k == attrServiceName || k == attrRuntimeID) {
			continue
		}
		if p, ok := c.kvOf(k, v); ok {
			s.promoted = append(s.promoted, p)
			if !p.tag {
				s.nfields++
				s.need.count(p.typ)
			}
			continue
		}
		s.frag = appendKeyValue(s.frag, k, v)
		s.frag = append(s.frag, ',')
	}
	return s
}

// kvOf resolves attribute k, if it is promoted.
func (c *conv) kvOf(k string, v pcommon.Value) (kv, bool) {
	t, ok := c.t.target(k)
	if !ok {
		return kv{}, false
	}
	return newKV(t, v), true
}

func newKV(t promoteTarget, v pcommon.Value) kv {
	typ := v.Type()
	return kv{promoteTarget: t, tag: t.key == tagHTTPStatus && typ == pcommon.ValueTypeInt, typ: typ, val: v}
}

func (c *conv) span(sp ptrace.Span, res *resourceSet, scope *attrSet) *spanv1.DatakitSpan {
	o := &c.t.opts
	traceID := sp.TraceID()
	spanID, parentID := sp.SpanID(), sp.ParentSpanID()
	attrs := sp.Attributes()
	start, end := int64(sp.StartTimestamp()), int64(sp.EndTimestamp())
	dur := end - start
	if dur < 0 || end < 0 || start < 0 {
		dur = 0
	}
	s := c.newSpan()
	pend := pendingSpan{traceOff: -1, idOff: -1, msgOff: -1}
	fast := c.t.fastIDs(traceID, spanID)
	if !fast {
		// A span's ids printed otherwise: spanmodel.AssignSpanTypes decides for all.
		c.spanIDs, c.parentIDs = c.spanIDs[:0], c.parentIDs[:0]
		c.slowIDs = true
	} else if !c.slowIDs {
		c.spanIDs = append(c.spanIDs, binary.BigEndian.Uint64(spanID[:]))
		c.parentIDs = append(c.parentIDs, binary.BigEndian.Uint64(parentID[:]))
	}
	// traceIDHex is the trace id as the message's trace_id attribute shows it.
	var traceIDHex []byte
	if fast {
		// A payload's spans mostly come trace by trace: a span of the same trace as the
		// one before shares that span's trace id hex, and so its string.
		if !c.haveTrace || traceID != c.lastTrace {
			c.lastTrace, c.lastTraceOff, c.haveTrace = traceID, len(c.arena), true
			c.arena = appendTraceIDHex(c.arena, (*[16]byte)(&traceID))
		}
		pend.traceOff = c.lastTraceOff
		pend.idOff = len(c.arena)
		// finish prints a zero parent (left zero bytes here) as "0"; a zero byte never
		// occurs in hex.
		c.arena = appendSpanIDsHex(c.arena, (*[8]byte)(&spanID), (*[8]byte)(&parentID), allZero(parentID[:]))
		traceIDHex = c.arena[pend.traceOff : pend.traceOff+32]
	} else {
		s.TraceId, s.SpanId, s.ParentId = c.t.formatID(traceID[:]), c.t.formatID(spanID[:]), c.t.formatID(parentID[:])
	}
	s.Service = res.service
	s.Resource = spanmodel.ValidString(sp.Name())
	s.Source = Source
	s.StartUnixNano = start
	s.DurationNano = dur
	s.Status = status(sp.Status())

	// Without a resource runtime_id the span's own (its first) is used, and consumed with
	// clean_message; it is found in the pass over the attributes below.
	runtimeID := res.runtimeID
	spanRuntimeID, seenRuntimeID := runtimeID == "", false

	events := sp.Events()
	exception := -1
	for i := 0; i < events.Len(); i++ {
		if events.At(i).Name() == eventException {
			exception = i
			break
		}
	}

	// The span's own promoted attributes are resolved first to size the field map.
	nfields := res.nfields + scope.nfields
	need := res.need
	need.add(scope.need)
	// On the stack: no write barriers while the collector runs, and no pooled references.
	var kvBuf [16]kv
	spanKV := kvBuf[:0]
	c.tmp = c.tmp[:0]
	var facts attrFacts
	i := -1
	for k, v := range attrs.All() {
		i++
		m := c.memoAt(i, k)
		if m != nil {
			facts.add(m.class, v)
		} else {
			facts.scan(k, v)
		}
		if spanRuntimeID && k == attrRuntimeID {
			if !seenRuntimeID {
				seenRuntimeID = true
				if v.Type() == pcommon.ValueTypeStr {
					runtimeID = spanmodel.ValidString(v.Str())
				}
			}
			if o.CleanMessage {
				continue
			}
		}
		var t promoteTarget
		var ok bool
		if m != nil {
			t, ok = m.t, m.ok
		} else {
			t, ok = c.t.target(k)
		}
		if ok {
			p := newKV(t, v)
			spanKV = append(spanKV, p)
			if !p.tag {
				nfields++
				need.count(p.typ)
			}
			continue
		}
		if m != nil {
			c.tmp = c.appendMemoKeyValue(c.tmp, m, v)
			continue
		}
		c.tmp = appendKeyValue(c.tmp, k, v)
		c.tmp = append(c.tmp, ',')
	}
	if runtimeID != "" {
		nfields += 2
		need.s += 2
	}
	if exception >= 0 {
		// error_* and the exception_* promoted from the event.
		nfields += 2 * len(exceptionFields)
		need.s += 2 * len(exceptionFields)
	}
	c.need = need
	removedEvent := -1
	if o.CleanMessage {
		removedEvent = exception
	}

	// DataKit appends the converted trace id as an attribute, for text search in message.
	if c.t.traceIDKey == "" {
		if traceIDHex != nil {
			// Hex needs no JSON escaping.
			c.tmp = append(c.tmp, `{"key":"trace_id","value":{"stringValue":"`...)
			c.tmp = append(c.tmp, traceIDHex...)
			c.tmp = append(c.tmp, `"}},`...)
		} else {
			c.tmp = appendStringKeyValue(c.tmp, attrTraceID, s.TraceId)
			c.tmp = append(c.tmp, ',')
		}
	}

	key := reuseKey{gen: c.gen, runtimeID: runtimeID, system: o.SplitServiceName && facts.system != "", dbHost: facts.dbHost(), kind: sp.Kind()}
	switch {
	case events.Len() == 0 && c.reusable(&key, spanKV):
		c.cloneMaps(s, spanKV)
		// The key is the same and prevKV's other values are equal to the span's (a
		// reserved one is never compared): only the differing ones are copied.
		c.prev = s
		for _, i := range c.diff {
			c.prevKV[i] = spanKV[i]
		}
	case events.Len() == 0:
		c.buildMaps(s, sp, res, scope, spanKV, runtimeID, nfields, exception, removedEvent, &facts)
		c.remember(s, &key, spanKV)
	default:
		c.buildMaps(s, sp, res, scope, spanKV, runtimeID, nfields, exception, removedEvent, &facts)
		c.prev = nil
	}
	if o.SplitServiceName {
		if sys := facts.system; sys != "" {
			s.Service = spanmodel.ValidString(sys)
		}
	}
	for _, d := range c.t.dedicated {
		setDedicated(s, d.key, d.val)
	}
	if s.SourceType == "" {
		s.SourceType = facts.sourceType()
	}

	if !o.DelMessage {
		pend.msgOff = len(c.arena)
		if len(c.pending) == 0 && c.nspans > 1 {
			// Most spans of a payload are alike: room for all of them, grown once.
			c.arena = c.appendMessage(c.arena, sp, res, scope, removedEvent, pend.traceOff, pend.idOff)
			c.arena = slices.Grow(c.arena, (len(c.arena)+64)*(c.nspans-1))
		} else {
			c.arena = c.appendMessage(c.arena, sp, res, scope, removedEvent, pend.traceOff, pend.idOff)
		}
		pend.msgEnd = len(c.arena)
	}
	c.pending = append(c.pending, pend)
	return s
}

// buildMaps writes the span's tags and fields from scratch. Promotion, later sources
// winning: resource, scope, span, events; then the receiver's own tags and the input's.
func (c *conv) buildMaps(s *spanv1.DatakitSpan, sp ptrace.Span, res *resourceSet, scope *attrSet, spanKV []kv,
	runtimeID string, nfields, exception, removedEvent int, facts *attrFacts,
) {
	o := &c.t.opts
	s.Tags = make(map[string]string, 4+len(o.Tags))
	s.Fields = make(map[string]*spanv1.FieldValue, nfields)
	if runtimeID != "" {
		s.Fields[fieldRuntimeIDDD] = c.str(runtimeID)
		s.Fields[fieldRuntimeID] = c.str(runtimeID)
	}
	events := sp.Events()
	if exception >= 0 {
		ev := events.At(exception)
		for _, ef := range exceptionFields {
			if v, ok := ev.Attributes().Get(ef.attr); ok {
				s.Fields[ef.field] = c.str(spanmodel.ValidString(v.AsString()))
			}
		}
	}
	for i := range res.promoted {
		c.put(s, &res.promoted[i])
	}
	for i := range scope.promoted {
		c.put(s, &scope.promoted[i])
	}
	for i := range spanKV {
		c.put(s, &spanKV[i])
	}
	for i := 0; i < events.Len(); i++ {
		if i == removedEvent {
			continue
		}
		for k, v := range events.At(i).Attributes().All() {
			if p, ok := c.kvOf(k, v); ok {
				c.put(s, &p)
				continue
			}
			c.tmp = appendKeyValue(c.tmp, k, v)
			c.tmp = append(c.tmp, ',')
		}
	}

	// The receiver's own tags go on after promotion so that a promoted field of the same
	// name cannot displace them; only the input's tags override them.
	if c.remoteIP != "" {
		setTag(s, tagRemoteIP, c.remoteIP)
	}
	if o.SplitServiceName && facts.system != "" {
		// s.Service is still the resource's: the system replaces it after.
		setTag(s, tagBaseService, s.Service)
	}
	if kind := enumName(spanKinds[:], sp.Kind()); kind != "" {
		setTag(s, tagSpanKind, kind)
	}
	if host := facts.dbHost(); host != "" {
		setTag(s, tagDBHost, spanmodel.ValidString(host))
	}
	for _, t := range c.t.plainTags {
		setTag(s, t.key, t.val)
	}
	for _, k := range c.t.fieldDeletes {
		delete(s.Fields, k)
	}
}

// reuseKey is what, besides its promoted attributes, decides a span's tags and fields
// when it has no events.
type reuseKey struct {
	// gen names the resource and scope.
	gen       int
	runtimeID string
	// system is whether split_service_name moves the service to base_service.
	system bool
	dbHost string
	kind   ptrace.SpanKind
}

// reusable reports whether the span's maps can be the previous span's, cloned, with only
// the values in c.diff written again. The spans of a payload mostly carry the same keys
// in the same order: a clone copies the maps' memory without hashing a key.
func (c *conv) reusable(k *reuseKey, kvs []kv) bool {
	if c.prev == nil || *k != c.prevKey || len(kvs) != len(c.prevKV) {
		return false
	}
	c.diff = c.diff[:0]
	for i := range kvs {
		a, b := &kvs[i], &c.prevKV[i]
		// The key and the value type decide what put does apart from the value.
		if a.key != b.key || a.typ != b.typ {
			return false
		}
		if a.reserved || sameValue(a.typ, a.val, b.val) {
			continue
		}
		// Writing the value again is right only if nothing after it writes the key.
		if slices.Contains(c.t.laterKeys, a.key) {
			return false
		}
		for j := i + 1; j < len(kvs); j++ {
			if kvs[j].key == a.key {
				return false
			}
		}
		c.diff = append(c.diff, i)
	}
	return true
}

// cloneMaps gives s the previous span's maps and writes the values that differ. The
// spans then share the FieldValue messages of equal values: nothing mutates a span's
// FieldValue once converted.
//
// A map no differing value writes is shared with the previous span, not cloned: a clone
// costs about as many bytes as the span's message, and every byte allocated makes the
// collector (which pdata's decoding keeps busy) run sooner. Nothing writes a converted
// span's maps: the batch goes to the bus, which only marshals it.
func (c *conv) cloneMaps(s *spanv1.DatakitSpan, kvs []kv) {
	var need fieldNeed
	tags, fields := false, false
	for _, i := range c.diff {
		p := &kvs[i]
		// put writes a tag's key in both maps, a field's in Fields and, for
		// http_status_code, deletes it from Tags.
		if p.tag || p.key == tagHTTPStatus {
			tags = true
		}
		fields = true
		if !p.tag {
			need.count(p.typ)
		}
	}
	s.Tags, s.Fields = c.prev.Tags, c.prev.Fields
	if tags {
		s.Tags = maps.Clone(s.Tags)
	}
	if fields {
		s.Fields = maps.Clone(s.Fields)
	}
	c.need = need
	for _, i := range c.diff {
		c.put(s, &kvs[i])
	}
}

// remember makes s the span the next one may clone.
func (c *conv) remember(s *spanv1.DatakitSpan, k *reuseKey, kvs []kv) {
	c.prev, c.prevKey = s, *k
	c.prevKV = append(c.prevKV[:0], kvs...)
}

// sameValue reports whether a and b, of the same type, convert alike; bytes, maps and
// slices are not compared (they are converted again).
func sameValue(typ pcommon.ValueType, a, b pcommon.Value) bool {
	switch typ {
	case pcommon.ValueTypeStr:
		return a.Str() == b.Str()
	case pcommon.ValueTypeInt:
		return a.Int() == b.Int()
	case pcommon.ValueTypeDouble:
		return math.Float64bits(a.Double()) == math.Float64bits(b.Double())
	case pcommon.ValueTypeBool:
		return a.Bool() == b.Bool()
	case pcommon.ValueTypeEmpty:
		return true
	}
	return false
}

// put stores a promoted value as a tag or a typed field, removing the other kind.
// A reserved key's field is dropped, but it still removes a tag of that name.
func (c *conv) put(s *spanv1.DatakitSpan, p *kv) {
	if p.tag {
		s.Tags[p.key] = intString(p.val.Int())
		delete(s.Fields, p.key)
		return
	}
	f := c.fieldOf(p.val)
	if f == nil {
		return
	}
	// Until the receiver's own tags go on, the only tag a span can hold is this one.
	if p.key == tagHTTPStatus {
		delete(s.Tags, p.key)
	}
	if !p.reserved {
		s.Fields[p.key] = f
	}
}

// smallInts are the strings of 0..999, so a status code tag costs no allocation.
var smallInts = func() (a [1000]string) {
	for i := range a {
		a[i] = strconv.Itoa(i)
	}
	return a
}()

func intString(v int64) string {
	if v >= 0 && v < int64(len(smallInts)) {
		return smallInts[v]
	}
	return strconv.FormatInt(v, 10)
}

// fieldOf types a value as DataKit does: bytes as a string, maps and slices as their JSON;
// an empty value is nil (dropped).
func (c *conv) fieldOf(v pcommon.Value) *spanv1.FieldValue {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return c.str(spanmodel.ValidString(v.Str()))
	case pcommon.ValueTypeBytes:
		return c.str(spanmodel.ValidString(string(v.Bytes().AsRaw())))
	case pcommon.ValueTypeDouble:
		return c.float(v.Double())
	case pcommon.ValueTypeInt:
		return c.int(v.Int())
	case pcommon.ValueTypeBool:
		return &spanv1.FieldValue{Kind: &spanv1.FieldValue_B{B: v.Bool()}}
	case pcommon.ValueTypeMap:
		return c.str(string(appendValues(nil, v)))
	case pcommon.ValueTypeSlice:
		return c.str(string(appendValues(nil, v)))
	}
	return nil
}

// setDedicated applies one of the input's tags that sets a dedicated span field.
func setDedicated(s *spanv1.DatakitSpan, k, v string) {
	switch k {
	case "service":
		s.Service = v
	case "status":
		s.Status = v
	case "span_type":
		s.SpanType = v
	case "source_type":
		s.SourceType = v
	case "env":
		s.Env = v
	case "project":
		s.Project = v
	case "version":
		s.Version = v
	case "operation":
		s.Operation = v
	}
}

// isDedicated reports whether input tag k sets a dedicated span field, not a tag.
func isDedicated(k string) bool {
	switch k {
	case "service", "status", "span_type", "source_type", "env", "project", "version", "operation":
		return true
	}
	return false
}

func setTag(s *spanv1.DatakitSpan, k, v string) {
	s.Tags[k] = v
	delete(s.Fields, k)
}

// fastIDs reports whether the ids are plain hex (a zero parent aside, which is "0"), the
// case the conversion prints into its arena.
func (t *Translator) fastIDs(trace pcommon.TraceID, span pcommon.SpanID) bool {
	return !t.opts.CompatibleDDTrace && !t.opts.CompatibleZhaoShang && !allZero(trace[:]) && !allZero(span[:])
}

// formatID prints a raw id; all-zero ids are "0" (pdata turns a missing id into zeros).
func (t *Translator) formatID(id []byte) string {
	switch {
	case t.opts.CompatibleDDTrace:
		return spanmodel.FormatSpanIDByBase(binary.BigEndian.Uint64(id[len(id)-8:]), 10)
	case t.opts.CompatibleZhaoShang && len(id) > 8 && !allZero(id):
		return spanmodel.ValidString(string(id))
	}
	if allZero(id) {
		return "0"
	}
	return hex.EncodeToString(id)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func status(st ptrace.Status) string {
	switch st.Code() {
	case ptrace.StatusCodeError:
		return spanmodel.StatusError
	case ptrace.StatusCodeOk:
		return spanmodel.StatusOK
	case ptrace.StatusCodeUnset:
		// DataKit answers info only when the span carries no Status message at all. Every
		// SDK we know sends one, and pdata keeps no presence bit to tell, so UNSET is ok:
		// what DataKit shows for the same SDK spans.
		return spanmodel.StatusOK
	}
	// A code newer than this receiver: say nothing about it.
	return spanmodel.StatusInfo
}

// attrFacts is what the span's attributes say beyond promotion, gathered in the one pass
// over them: the split_service_name system, the db host and the source_type markers.
type attrFacts struct {
	// system is the first non-empty db/rpc/messaging system.
	system string
	// host is the first of net.peer.name or server.address ("" when not a string).
	host      string
	hostFound bool
	db        bool
	// kind is source_type when a db or messaging system key decides it.
	kind string
	web  bool
}

// keyClass is what attrFacts looks for in an attribute key.
type keyClass uint8

const (
	classOther keyClass = iota
	classDB
	classRPC
	classMsg
	classHost
	classWeb
)

func classOf(k string) keyClass {
	switch k {
	case attrDBSystem:
		return classDB
	case attrRPCSystem:
		return classRPC
	case attrMsgSystem:
		return classMsg
	case "net.peer.name", "server.address":
		return classHost
	}
	if strings.HasPrefix(k, "http.") || strings.HasPrefix(k, "url.") {
		return classWeb
	}
	return classOther
}

func (f *attrFacts) scan(k string, v pcommon.Value) { f.add(classOf(k), v) }

// add takes in an attribute whose key is of class c.
func (f *attrFacts) add(c keyClass, v pcommon.Value) {
	switch c {
	case classDB, classRPC, classMsg:
		if f.system == "" && v.Type() == pcommon.ValueTypeStr {
			f.system = v.Str()
		}
		switch {
		case f.kind != "":
		case c == classDB:
			f.kind = spanmodel.SourceTypeDB
		case c == classMsg:
			f.kind = spanmodel.SourceTypeMessageQueue
		default:
			f.web = true
		}
		if c == classDB {
			f.db = true
		}
	case classHost:
		if !f.hostFound {
			f.hostFound = true
			if v.Type() == pcommon.ValueTypeStr {
				f.host = v.Str()
			}
		}
	case classWeb:
		f.web = true
	}
}

// dbHost is the peer of a db span.
func (f *attrFacts) dbHost() string {
	if !f.db {
		return ""
	}
	return f.host
}

// sourceType derives source_type from the span's attribute keys (ARCHITECTURE §5): the
// more specific db and messaging systems win over the web markers.
func (f *attrFacts) sourceType() string {
	switch {
	case f.kind != "":
		return f.kind
	case f.web:
		return spanmodel.SourceTypeWeb
	}
	return spanmodel.SourceTypeCustom
}
