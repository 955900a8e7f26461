// Package translator converts Pinpoint v1 gRPC span messages (PSpan, PSpanChunk) into
// DatakitSpans (datakit-spec §1.7). It is pure: the metadata the agent sent earlier (API, SQL
// and string tables) comes in through a Resolver, and the agent's identity through Agent.
//
// Where tracekit differs from DataKit, on purpose:
//   - Span events get span ids derived from (span id, async id, async sequence, sequence), so
//     a resent span gives the same points; an event that calls another process (its next
//     event names nextSpanId) gets LinkID(span id, nextSpanId) instead, and the called
//     process's PSpan takes that as its parent_id. Cross-process links therefore need no
//     span cache on the receiver (DataKit holds child spans for a minute to stitch them).
//   - Event start times and depths are decoded as Pinpoint agents encode them (start elapsed
//     relative to the previous event, depth 0 meaning "same as the previous event").
//   - source_type is DataKit's vocabulary (web, db, cache, ...) derived from the service type
//     code; the Pinpoint type name is the tag service_type.
//   - Metadata that has not arrived leaves a placeholder (the id in decimal, as DataKit
//     writes it) and is counted by the caller through Result.Unresolved.
package translator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/pinpoint-apm/pinpoint-go-agent/protobuf"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Source is the measurement and source tag DataKit writes for Pinpoint.
const Source = "pinpointV2"

// Kind is the kind of a metadata table.
type Kind uint8

// Metadata tables an agent fills with the Metadata service.
const (
	KindAPI Kind = iota + 1
	KindSQL
	KindSQLUID
	KindString
)

func (k Kind) String() string {
	switch k {
	case KindAPI:
		return "api"
	case KindSQL:
		return "sql"
	case KindSQLUID:
		return "sql_uid"
	case KindString:
		return "string"
	}
	return "unknown"
}

// Ref names one metadata entry a span refers to (UID for KindSQLUID, ID otherwise).
type Ref struct {
	Kind Kind
	ID   int32
	UID  string
}

// Resolver looks up the reporting agent's metadata.
type Resolver interface {
	Lookup(ref Ref) (string, bool)
}

// Agent is the reporting agent as its gRPC metadata and AgentInfo describe it.
type Agent struct {
	AgentID         string
	ApplicationName string
	// Info holds the agent-info tags (hostname, ip, pid, ports, container, agentVersion).
	Info map[string]string
}

// Options are the per-input settings the conversion applies.
type Options struct {
	// Tags are the input's [inputs.pinpoint.tags], added to every span without overriding.
	Tags       map[string]string
	DelMessage bool
}

// Result is what one span message becomes.
type Result struct {
	Spans []*spanv1.DatakitSpan
	// Unresolved counts metadata references left as placeholders, per kind.
	Unresolved map[Kind]int
}

// ErrEmpty is returned for a PSpanMessage carrying neither a span nor a chunk.
var ErrEmpty = errors.New("pinpoint span message carries neither span nor spanChunk")

// Convert turns one PSpanMessage into spans. Errors name what is wrong with the message.
func Convert(msg *v1.PSpanMessage, agent Agent, r Resolver, o Options) (Result, error) {
	c := &conv{agent: agent, r: r, o: o}
	c.sc = scratchPool.Get().(*scratch)
	c.sc.msg.reset()
	defer c.release()
	c.commonTags()
	switch {
	case msg.GetSpan() != nil:
		if err := c.span(msg.GetSpan()); err != nil {
			return Result{}, err
		}
	case msg.GetSpanChunk() != nil:
		if err := c.chunk(msg.GetSpanChunk()); err != nil {
			return Result{}, err
		}
	default:
		return Result{}, ErrEmpty
	}
	if !o.DelMessage {
		c.sc.msg.setMessages(c.out)
	}
	return Result{Spans: c.out, Unresolved: c.unresolved}, nil
}

// Refs lists the metadata a message refers to, so a caller can wait briefly for entries an
// agent sent on another connection a moment before the span.
func Refs(msg *v1.PSpanMessage) []Ref {
	var refs []Ref
	add := func(apiID int32, annos []*v1.PAnnotation, exc *v1.PIntStringValue) {
		if apiID > 0 {
			refs = append(refs, Ref{Kind: KindAPI, ID: apiID})
		}
		for _, a := range annos {
			switch a.GetKey() {
			case annoSQLID:
				if v := a.GetValue().GetIntStringStringValue(); v != nil {
					refs = append(refs, Ref{Kind: KindSQL, ID: v.GetIntValue()})
				}
			case annoSQLUID:
				if v := a.GetValue().GetBytesStringStringValue(); v != nil {
					refs = append(refs, Ref{Kind: KindSQLUID, UID: string(v.GetBytesValue())})
				}
			}
		}
		if exc != nil && exc.GetIntValue() > 0 {
			refs = append(refs, Ref{Kind: KindString, ID: exc.GetIntValue()})
		}
	}
	var events []*v1.PSpanEvent
	if s := msg.GetSpan(); s != nil {
		add(s.GetApiId(), s.GetAnnotation(), s.GetExceptionInfo())
		events = s.GetSpanEvent()
	} else {
		events = msg.GetSpanChunk().GetSpanEvent()
	}
	for _, e := range events {
		add(e.GetApiId(), e.GetAnnotation(), e.GetExceptionInfo())
	}
	return refs
}

// AgentInfoTags are the tags DataKit copies from an agent's AgentInfo onto its spans.
func AgentInfoTags(info *v1.PAgentInfo) map[string]string {
	if info == nil {
		return nil
	}
	tags := map[string]string{"container": strconv.FormatBool(info.GetContainer())}
	if v := info.GetHostname(); v != "" {
		tags["hostname"] = v
	}
	if v := info.GetIp(); v != "" {
		tags["ip"] = v
	}
	if v := info.GetPid(); v != 0 {
		tags["pid"] = strconv.Itoa(int(v))
	}
	if v := info.GetPorts(); v != "" {
		tags["ports"] = v
	}
	if v := info.GetAgentVersion(); v != "" {
		tags["agentVersion"] = v
	}
	return tags
}

// EventID is the span id of a span event: a hash of where the event sits in its span, kept
// positive so it prints like Pinpoint's own decimal ids.
func EventID(spanID int64, asyncID, asyncSeq, sequence int32) int64 {
	return hashIDs('e', uint64(spanID), uint64(uint32(asyncID))<<32|uint64(uint32(asyncSeq)), uint64(uint32(sequence)))
}

// LinkID is the span id of the event that called another process, shared by the caller's
// event and the callee's PSpan (whose parentSpanId and spanId are the two inputs).
func LinkID(parentSpanID, childSpanID int64) int64 {
	return hashIDs('l', uint64(parentSpanID), uint64(childSpanID), 0)
}

// hashIDs is FNV-1a (64 bit) over the domain byte and a, b, c little-endian, computed inline
// rather than through hash/fnv to keep it off the heap and out of a byte buffer.
func hashIDs(domain byte, a, b, c uint64) int64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	h = (h ^ uint64(domain)) * prime64
	for _, v := range [3]uint64{a, b, c} {
		for j := 0; j < 8; j++ {
			h = (h ^ (v >> (8 * j) & 0xff)) * prime64
		}
	}
	id := int64(h & math.MaxInt64)
	if id == 0 {
		id = 1
	}
	return id
}

type conv struct {
	agent      Agent
	r          Resolver
	o          Options
	out        []*spanv1.DatakitSpan
	unresolved map[Kind]int
	// slab holds the spans of the message, allocated together.
	slab []spanv1.DatakitSpan
	// common are the agent-info tags, then the input tags the agent info does not shadow.
	common []tag
	sc     *scratch
	// firstEvent is the index in sc.ids of the first event's span id.
	firstEvent int
	// inlineAPI is the API annotation of the span being converted.
	inlineAPI string
}

type tag struct{ k, v string }

// scratch is what a conversion needs only while it runs, reused across messages.
type scratch struct {
	msg    msgWriter
	ids    ids
	common []tag
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (c *conv) release() {
	clear(c.common)
	c.sc.common = c.common[:0]
	c.sc.ids.s = ""
	// An outsized message would otherwise pin its buffers in the pool.
	if cap(c.sc.msg.buf) <= 256<<10 && cap(c.sc.ids.buf) <= 64<<10 && max(cap(c.sc.ids.ends), cap(c.sc.msg.ends)) <= 4<<10 {
		scratchPool.Put(c.sc)
	}
	c.sc = nil
}

// ids builds the trace id and the decimal span ids of one message into a single string, so
// they cost one allocation instead of one each.
type ids struct {
	buf  []byte
	ends []int
	s    string
}

func (b *ids) reset() { b.buf, b.ends, b.s = b.buf[:0], b.ends[:0], "" }

// end closes the id being appended and returns its index.
func (b *ids) end() int {
	b.ends = append(b.ends, len(b.buf))
	return len(b.ends) - 1
}

func (b *ids) int(v int64) int {
	b.buf = strconv.AppendInt(b.buf, v, 10)
	return b.end()
}

func (b *ids) done() { b.s = string(b.buf) }

func (b *ids) get(i int) string {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.s[start:b.ends[i]]
}

func (c *conv) commonTags() {
	c.common = c.sc.common[:0]
	for k, v := range c.agent.Info {
		c.common = append(c.common, tag{k, v})
	}
	for k, v := range c.o.Tags {
		if _, ok := c.agent.Info[k]; !ok {
			c.common = append(c.common, tag{k, v})
		}
	}
}

// alloc makes room for n spans at once.
func (c *conv) alloc(n int) {
	c.slab = make([]spanv1.DatakitSpan, n)
	c.out = make([]*spanv1.DatakitSpan, 0, n)
}

func (c *conv) lookup(ref Ref) (string, bool) {
	if c.r != nil {
		if v, ok := c.r.Lookup(ref); ok {
			return v, true
		}
	}
	if c.unresolved == nil {
		c.unresolved = map[Kind]int{}
	}
	c.unresolved[ref.Kind]++
	return "", false
}

// traceID appends the trace id to c.sc.ids and returns its index there.
func (c *conv) traceID(tx *v1.PTransactionId, startMs, spanID int64) int {
	b := &c.sc.ids
	if tx == nil {
		// DataKit numbers these from the clock; the span's own start and id keep it stable.
		b.buf = append(b.buf, "empty-transid^"...)
		b.buf = strconv.AppendInt(b.buf, startMs, 10)
		b.buf = append(b.buf, '^')
		return b.int(spanID)
	}
	agentID := tx.GetAgentId()
	if agentID == "" {
		agentID = c.agent.AgentID
	}
	if agentID == "" {
		agentID = c.agent.ApplicationName
	}
	if agentID == "" {
		agentID = "unknown-pp-agent"
	}
	b.buf = append(b.buf, agentID...)
	b.buf = append(b.buf, '^')
	b.buf = strconv.AppendInt(b.buf, tx.GetAgentStartTime(), 10)
	b.buf = append(b.buf, '^')
	return b.int(tx.GetSequence())
}

func (c *conv) service() string {
	if c.agent.ApplicationName != "" {
		return c.agent.ApplicationName
	}
	return c.agent.AgentID
}

// tagMap returns a span's tag map holding the common tags, with room for nTags more.
// Protocol tags are set after, so they win over agent and input tags without a lookup each.
func (c *conv) tagMap(nTags int) map[string]string {
	m := make(map[string]string, nTags+len(c.common))
	for _, t := range c.common {
		m[t.k] = t.v
	}
	return m
}

// newSpan starts a span whose protocol tags other than service_type number at most nTags;
// sizing its map for them and the common tags keeps a span with up to 8 tags in one small
// map group.
func (c *conv) newSpan(traceID, spanID, parentID string, serviceType int32, nTags int) *spanv1.DatakitSpan {
	var s *spanv1.DatakitSpan
	if i := len(c.out); i < len(c.slab) {
		s = &c.slab[i]
	} else {
		s = &spanv1.DatakitSpan{}
	}
	s.TraceId = traceID
	s.SpanId = spanID
	s.ParentId = parentID
	s.Service = c.service()
	s.Source = Source
	s.SourceType = sourceTypeOf(serviceType)
	s.Status = spanmodel.StatusOK
	s.Tags = c.tagMap(1 + nTags)
	s.Tags["service_type"] = serviceTypeName(serviceType)
	return s
}

func (c *conv) finish(s *spanv1.DatakitSpan) {
	c.out = append(c.out, s)
}

// annotationTags bounds the tags annotations add (an SQL annotation sets up to four).
func annotationTags(annos []*v1.PAnnotation) int {
	n := 0
	for _, a := range annos {
		switch a.GetKey() {
		case annoSQLID, annoSQLUID:
			n += 4
		case annoHTTPStatusCode:
			n += 2
		default:
			n++
		}
	}
	return n
}

func (c *conv) span(p *v1.PSpan) error {
	if p.GetSpanId() == 0 {
		return errors.New("pspan: spanId is 0")
	}
	if p.GetElapsed() < 0 {
		return fmt.Errorf("pspan %d: negative elapsed %d", p.GetSpanId(), p.GetElapsed())
	}
	events := p.GetSpanEvent()
	c.alloc(1 + len(events))
	b := &c.sc.ids
	b.reset()
	iTrace := c.traceID(p.GetTransactionId(), p.GetStartTime(), p.GetSpanId())
	iRoot := b.int(p.GetSpanId())
	iParent := -1
	if ps := p.GetParentSpanId(); ps != -1 && ps != 0 {
		iParent = b.int(LinkID(ps, p.GetSpanId()))
	}
	events = c.eventIDs(events, p.GetSpanId(), nil)
	b.done()
	traceID, parent := b.get(iTrace), "0"
	if iParent >= 0 {
		parent = b.get(iParent)
	}
	// service_type, remote_ip, parent_application, api
	root := c.newSpan(traceID, b.get(iRoot), parent, p.GetServiceType(), 3+annotationTags(p.GetAnnotation()))
	root.SpanType = spanmodel.SpanTypeEntry
	root.StartUnixNano = p.GetStartTime() * 1e6
	root.DurationNano = int64(p.GetElapsed()) * 1e6
	api := ""
	if id := p.GetApiId(); id > 0 {
		if v, ok := c.lookup(Ref{Kind: KindAPI, ID: id}); ok {
			api = v
		} else {
			api = strconv.Itoa(int(id))
		}
	}
	if ae := p.GetAcceptEvent(); ae != nil {
		root.Resource = ae.GetRpc()
		root.Operation = ae.GetEndPoint()
		if ra := ae.GetRemoteAddr(); ra != "" {
			root.Tags["remote_ip"] = ra
		}
		if pi := ae.GetParentInfo(); pi.GetParentApplicationName() != "" {
			root.Tags["parent_application"] = pi.GetParentApplicationName()
		}
	}
	c.annotations(root, p.GetAnnotation())
	if api == "" {
		// Agents send the name inline when they did not register it as metadata.
		api = c.inlineAPI
	}
	if api != "" {
		root.Tags["api"] = api
	}
	if root.Resource == "" {
		root.Resource = api
	}
	if root.Operation == "" {
		root.Operation = api
	}
	if p.GetErr() != 0 || p.GetExceptionInfo() != nil {
		root.Status = spanmodel.StatusError
		c.exception(root, p.GetExceptionInfo())
	}
	if !c.o.DelMessage {
		// Without the events: they have their own messages.
		c.sc.msg.span(p)
	}
	c.finish(root)
	return c.events(events, traceID, root.SpanId, p.GetSpanId(), p.GetStartTime())
}

func (c *conv) chunk(ch *v1.PSpanChunk) error {
	if ch.GetSpanId() == 0 {
		return errors.New("pspanchunk: spanId is 0")
	}
	events := ch.GetSpanEvent()
	c.alloc(len(events))
	b := &c.sc.ids
	b.reset()
	iTrace := c.traceID(ch.GetTransactionId(), ch.GetKeyTime(), ch.GetSpanId())
	iRoot := b.int(ch.GetSpanId())
	events = c.eventIDs(events, ch.GetSpanId(), ch.GetLocalAsyncId())
	b.done()
	return c.events(events, b.get(iTrace), b.get(iRoot), ch.GetSpanId(), ch.GetKeyTime())
}

// eventIDs sorts the events by sequence (agents already do) and appends their span ids to
// c.sc.ids in that order, for events to take back one by one.
func (c *conv) eventIDs(events []*v1.PSpanEvent, spanID int64, async *v1.PLocalAsyncId) []*v1.PSpanEvent {
	if len(events) == 0 {
		return events
	}
	if !slices.IsSortedFunc(events, func(a, b *v1.PSpanEvent) int { return int(a.GetSequence()) - int(b.GetSequence()) }) {
		events = slices.Clone(events)
		slices.SortStableFunc(events, func(a, b *v1.PSpanEvent) int { return int(a.GetSequence()) - int(b.GetSequence()) })
	}
	c.firstEvent = len(c.sc.ids.ends)
	for _, e := range events {
		id := EventID(spanID, async.GetAsyncId(), async.GetSequence(), e.GetSequence())
		if next := e.GetNextEvent().GetMessageEvent(); next != nil && next.GetNextSpanId() != 0 {
			id = LinkID(spanID, next.GetNextSpanId())
		}
		c.sc.ids.int(id)
	}
	return events
}

// events converts span events. Agents sort them by sequence and compress them: the first
// start is relative to baseMs, each later one to the previous event's start, and depth 0
// repeats the previous depth. The parent of an event at depth d is the latest event at depth
// d-1; depth 1 (or a parent outside this message) hangs off the span itself.
func (c *conv) events(events []*v1.PSpanEvent, traceID, rootID string, spanID, baseMs int64) error {
	if len(events) == 0 {
		return nil
	}
	var stackBuf [8]string
	stack := stackBuf[:0] // stack[i]: latest span id at depth i+1
	start := baseMs
	depth := int32(1)
	for i, e := range events {
		if e == nil {
			return fmt.Errorf("span %d: event %d is empty", spanID, i)
		}
		if e.GetDepth() < 0 {
			return fmt.Errorf("span %d: event sequence %d has negative depth %d", spanID, e.GetSequence(), e.GetDepth())
		}
		if e.GetEndElapsed() < 0 {
			return fmt.Errorf("span %d: event sequence %d has negative endElapsed %d", spanID, e.GetSequence(), e.GetEndElapsed())
		}
		start += int64(e.GetStartElapsed())
		if d := e.GetDepth(); d != 0 {
			depth = d
		}
		parent := rootID
		d := int(depth)
		switch {
		case d <= 1:
			stack = stack[:0]
		case d-1 <= len(stack):
			parent = stack[d-2]
			stack = stack[:d-1]
		case len(stack) > 0:
			// A gap in depths (the parent is in an earlier chunk): the deepest known event.
			parent = stack[len(stack)-1]
		}
		next := e.GetNextEvent().GetMessageEvent()
		// sequence, depth, endpoint, destination_id
		nTags := 2 + annotationTags(e.GetAnnotation())
		if next != nil {
			nTags += 2
		}
		s := c.newSpan(traceID, c.sc.ids.get(c.firstEvent+i), parent, e.GetServiceType(), nTags)
		s.Service = serviceTypeName(e.GetServiceType())
		s.SpanType = spanmodel.SpanTypeLocal
		s.StartUnixNano = start * 1e6
		s.DurationNano = int64(e.GetEndElapsed()) * 1e6
		s.Tags["sequence"] = strconv.Itoa(int(e.GetSequence()))
		s.Tags["depth"] = strconv.Itoa(int(depth))
		if next != nil {
			s.SpanType = spanmodel.SpanTypeExit
			if v := next.GetEndPoint(); v != "" {
				s.Tags["endpoint"] = v
			}
			if v := next.GetDestinationId(); v != "" {
				s.Tags["destination_id"] = v
			}
		}
		if id := e.GetApiId(); id > 0 {
			if v, ok := c.lookup(Ref{Kind: KindAPI, ID: id}); ok {
				s.Operation = v
			} else {
				s.Operation = strconv.Itoa(int(id))
			}
		}
		c.annotations(s, e.GetAnnotation())
		if s.Operation == "" {
			s.Operation = c.inlineAPI
		}
		if s.Resource == "" {
			s.Resource = s.Operation
		}
		if e.GetExceptionInfo() != nil {
			s.Status = spanmodel.StatusError
			c.exception(s, e.GetExceptionInfo())
		}
		if !c.o.DelMessage {
			c.sc.msg.event(e)
		}
		c.finish(s)
		stack = append(stack, s.SpanId)
	}
	return nil
}

// annotations become tags; an SQL annotation also makes the statement the resource.
func (c *conv) annotations(s *spanv1.DatakitSpan, annos []*v1.PAnnotation) {
	c.inlineAPI = ""
	for _, a := range annos {
		v := a.GetValue()
		switch a.GetKey() {
		case annoSQLID:
			if iss := v.GetIntStringStringValue(); iss != nil {
				c.sql(s, Ref{Kind: KindSQL, ID: iss.GetIntValue()}, strconv.Itoa(int(iss.GetIntValue())),
					iss.GetStringValue1().GetValue(), iss.GetStringValue2().GetValue())
				continue
			}
		case annoSQLUID:
			if bss := v.GetBytesStringStringValue(); bss != nil {
				c.sql(s, Ref{Kind: KindSQLUID, UID: string(bss.GetBytesValue())}, fmt.Sprintf("%x", bss.GetBytesValue()),
					bss.GetStringValue1().GetValue(), bss.GetStringValue2().GetValue())
				continue
			}
		case annoHTTPStatusCode:
			code := annotationText(v)
			s.Tags["http_status_code"] = code
			if class := spanmodel.HTTPStatusClass(code); class != "" {
				s.Tags["http_status_class"] = class
			}
			continue
		}
		text := annotationText(v)
		if a.GetKey() == annoAPI {
			c.inlineAPI = text
		}
		s.Tags[annotationName(a.GetKey())] = text
	}
}

func (c *conv) sql(s *spanv1.DatakitSpan, ref Ref, id, params, binds string) {
	s.Tags["sql_id"] = id
	if params != "" {
		s.Tags["sql_params"] = params
	}
	if binds != "" {
		s.Tags["sql_bind"] = binds
	}
	if stmt, ok := c.lookup(ref); ok {
		s.Resource = stmt
		s.Tags["sql"] = stmt
	} else {
		s.Resource = id
	}
}

func (c *conv) exception(s *spanv1.DatakitSpan, e *v1.PIntStringValue) {
	if e == nil {
		return
	}
	if id := e.GetIntValue(); id > 0 {
		class, ok := c.lookup(Ref{Kind: KindString, ID: id})
		if !ok {
			class = strconv.Itoa(int(id))
		}
		setField(s, "error_type", class)
	}
	if msg := e.GetStringValue().GetValue(); msg != "" {
		setField(s, "error_message", msg)
	}
}

// stringField is a string FieldValue and its oneof wrapper in one allocation.
type stringField struct {
	v spanv1.FieldValue
	s spanv1.FieldValue_S
}

func setField(s *spanv1.DatakitSpan, key, val string) {
	if s.Fields == nil {
		s.Fields = make(map[string]*spanv1.FieldValue, 2) // error_type, error_message
	}
	f := &stringField{s: spanv1.FieldValue_S{S: val}}
	f.v.Kind = &f.s
	s.Fields[key] = &f.v
}

// annotationText prints an annotation value the way a person reads it.
func annotationText(v *v1.PAnnotationValue) string {
	switch f := v.GetField().(type) {
	case *v1.PAnnotationValue_StringValue:
		return f.StringValue
	case *v1.PAnnotationValue_BoolValue:
		return strconv.FormatBool(f.BoolValue)
	case *v1.PAnnotationValue_IntValue:
		return strconv.Itoa(int(f.IntValue))
	case *v1.PAnnotationValue_LongValue:
		return strconv.FormatInt(f.LongValue, 10)
	case *v1.PAnnotationValue_ShortValue:
		return strconv.Itoa(int(f.ShortValue))
	case *v1.PAnnotationValue_DoubleValue:
		return strconv.FormatFloat(f.DoubleValue, 'g', -1, 64)
	case *v1.PAnnotationValue_BinaryValue:
		return fmt.Sprintf("%x", f.BinaryValue)
	case *v1.PAnnotationValue_ByteValue:
		return strconv.Itoa(int(f.ByteValue))
	case *v1.PAnnotationValue_IntStringValue:
		return joinNonEmpty(strconv.Itoa(int(f.IntStringValue.GetIntValue())), f.IntStringValue.GetStringValue().GetValue())
	case *v1.PAnnotationValue_StringStringValue:
		return joinNonEmpty(f.StringStringValue.GetStringValue1().GetValue(), f.StringStringValue.GetStringValue2().GetValue())
	case *v1.PAnnotationValue_IntStringStringValue:
		x := f.IntStringStringValue
		return joinNonEmpty(strconv.Itoa(int(x.GetIntValue())), x.GetStringValue1().GetValue(), x.GetStringValue2().GetValue())
	case *v1.PAnnotationValue_LongIntIntByteByteStringValue:
		x := f.LongIntIntByteByteStringValue
		return joinNonEmpty(strconv.FormatInt(x.GetLongValue(), 10), strconv.Itoa(int(x.GetIntValue1())),
			strconv.Itoa(int(x.GetIntValue2())), x.GetStringValue().GetValue())
	case *v1.PAnnotationValue_IntBooleanIntBooleanValue:
		x := f.IntBooleanIntBooleanValue
		return joinNonEmpty(strconv.Itoa(int(x.GetIntValue1())), strconv.FormatBool(x.GetBoolValue1()),
			strconv.Itoa(int(x.GetIntValue2())), strconv.FormatBool(x.GetBoolValue2()))
	case *v1.PAnnotationValue_BytesStringStringValue:
		x := f.BytesStringStringValue
		return joinNonEmpty(fmt.Sprintf("%x", x.GetBytesValue()), x.GetStringValue1().GetValue(), x.GetStringValue2().GetValue())
	}
	return ""
}

func joinNonEmpty(parts ...string) string {
	n := 0
	for _, p := range parts {
		if p != "" {
			parts[n] = p
			n++
		}
	}
	return strings.Join(parts[:n], " ")
}
