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
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

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

func hashIDs(domain byte, a, b, c uint64) int64 {
	h := fnv.New64a()
	var buf [25]byte
	buf[0] = domain
	for i, v := range [3]uint64{a, b, c} {
		for j := 0; j < 8; j++ {
			buf[1+i*8+j] = byte(v >> (8 * j))
		}
	}
	_, _ = h.Write(buf[:])
	id := int64(h.Sum64() & math.MaxInt64)
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

func (c *conv) traceID(tx *v1.PTransactionId, startMs, spanID int64) string {
	if tx == nil {
		// DataKit numbers these from the clock; the span's own start and id keep it stable.
		return "empty-transid^" + strconv.FormatInt(startMs, 10) + "^" + strconv.FormatInt(spanID, 10)
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
	return agentID + "^" + strconv.FormatInt(tx.GetAgentStartTime(), 10) + "^" + strconv.FormatInt(tx.GetSequence(), 10)
}

func (c *conv) service() string {
	if c.agent.ApplicationName != "" {
		return c.agent.ApplicationName
	}
	return c.agent.AgentID
}

func (c *conv) newSpan(traceID string, spanID int64, parentID string, serviceType int32) *spanv1.DatakitSpan {
	s := &spanv1.DatakitSpan{
		TraceId:    traceID,
		SpanId:     strconv.FormatInt(spanID, 10),
		ParentId:   parentID,
		Service:    c.service(),
		Source:     Source,
		SourceType: sourceTypeOf(serviceType),
		Status:     spanmodel.StatusOK,
		Tags:       make(map[string]string, 8+len(c.agent.Info)+len(c.o.Tags)),
	}
	s.Tags["service_type"] = serviceTypeName(serviceType)
	return s
}

// finish adds what every span carries last, so protocol tags win over agent and input tags.
func (c *conv) finish(s *spanv1.DatakitSpan) {
	for k, v := range c.agent.Info {
		if _, ok := s.Tags[k]; !ok {
			s.Tags[k] = v
		}
	}
	for k, v := range c.o.Tags {
		if _, ok := s.Tags[k]; !ok {
			s.Tags[k] = v
		}
	}
	c.out = append(c.out, s)
}

func (c *conv) span(p *v1.PSpan) error {
	if p.GetSpanId() == 0 {
		return errors.New("pspan: spanId is 0")
	}
	if p.GetElapsed() < 0 {
		return fmt.Errorf("pspan %d: negative elapsed %d", p.GetSpanId(), p.GetElapsed())
	}
	traceID := c.traceID(p.GetTransactionId(), p.GetStartTime(), p.GetSpanId())
	parent := "0"
	if ps := p.GetParentSpanId(); ps != -1 && ps != 0 {
		parent = strconv.FormatInt(LinkID(ps, p.GetSpanId()), 10)
	}
	root := c.newSpan(traceID, p.GetSpanId(), parent, p.GetServiceType())
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
		api = root.Tags["API"]
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
		shallow := *p // only marshaled to JSON: the events have their own messages
		shallow.SpanEvent = nil
		root.Message = jsonString(&shallow)
	}
	c.finish(root)
	return c.events(p.GetSpanEvent(), traceID, root.SpanId, p.GetSpanId(), p.GetStartTime(), nil)
}

func (c *conv) chunk(ch *v1.PSpanChunk) error {
	if ch.GetSpanId() == 0 {
		return errors.New("pspanchunk: spanId is 0")
	}
	traceID := c.traceID(ch.GetTransactionId(), ch.GetKeyTime(), ch.GetSpanId())
	rootID := strconv.FormatInt(ch.GetSpanId(), 10)
	return c.events(ch.GetSpanEvent(), traceID, rootID, ch.GetSpanId(), ch.GetKeyTime(), ch.GetLocalAsyncId())
}

// events converts span events. Agents sort them by sequence and compress them: the first
// start is relative to baseMs, each later one to the previous event's start, and depth 0
// repeats the previous depth. The parent of an event at depth d is the latest event at depth
// d-1; depth 1 (or a parent outside this message) hangs off the span itself.
func (c *conv) events(events []*v1.PSpanEvent, traceID, rootID string, spanID, baseMs int64, async *v1.PLocalAsyncId) error {
	if len(events) == 0 {
		return nil
	}
	if !slices.IsSortedFunc(events, func(a, b *v1.PSpanEvent) int { return int(a.GetSequence()) - int(b.GetSequence()) }) {
		events = slices.Clone(events)
		slices.SortStableFunc(events, func(a, b *v1.PSpanEvent) int { return int(a.GetSequence()) - int(b.GetSequence()) })
	}
	var stack []string // stack[i]: latest span id at depth i+1
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
		id := EventID(spanID, async.GetAsyncId(), async.GetSequence(), e.GetSequence())
		next := e.GetNextEvent().GetMessageEvent()
		if next != nil && next.GetNextSpanId() != 0 {
			id = LinkID(spanID, next.GetNextSpanId())
		}
		s := c.newSpan(traceID, id, parent, e.GetServiceType())
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
			s.Operation = s.Tags["API"]
		}
		if s.Resource == "" {
			s.Resource = s.Operation
		}
		if e.GetExceptionInfo() != nil {
			s.Status = spanmodel.StatusError
			c.exception(s, e.GetExceptionInfo())
		}
		if !c.o.DelMessage {
			s.Message = jsonString(e)
		}
		c.finish(s)
		stack = append(stack, s.SpanId)
	}
	return nil
}

// annotations become tags; an SQL annotation also makes the statement the resource.
func (c *conv) annotations(s *spanv1.DatakitSpan, annos []*v1.PAnnotation) {
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
		s.Tags[annotationName(a.GetKey())] = annotationText(v)
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

func setField(s *spanv1.DatakitSpan, key, val string) {
	if s.Fields == nil {
		s.Fields = map[string]*spanv1.FieldValue{}
	}
	s.Fields[key] = &spanv1.FieldValue{Kind: &spanv1.FieldValue_S{S: val}}
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

// jsonString is DataKit's message: the wire struct as JSON.
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
