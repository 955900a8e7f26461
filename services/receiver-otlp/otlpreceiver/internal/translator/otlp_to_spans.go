package translator

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

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

var spanKinds = map[ptrace.SpanKind]string{
	ptrace.SpanKindUnspecified: "unspecified",
	ptrace.SpanKindInternal:    "internal",
	ptrace.SpanKindServer:      "server",
	ptrace.SpanKindClient:      "client",
	ptrace.SpanKindProducer:    "producer",
	ptrace.SpanKindConsumer:    "consumer",
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
	key string
	tag bool // only an int http_status_code
	val pcommon.Value
}

// attrSet is what a resource's or scope's attributes contribute to each of their spans.
type attrSet struct {
	promoted []kv
	// frag is the JSON of the attributes left for the message, each followed by a comma.
	frag []byte
}

// Spans converts td into spans (not grouped), with span_type assigned over the whole
// payload as DataKit does (single-server rule).
func (t *Translator) Spans(td ptrace.Traces, m Meta) []*spanv1.DatakitSpan {
	spans := make([]*spanv1.DatakitSpan, 0, td.SpanCount())
	var c conv
	c.t, c.meta = t, m
	c.slab = min(max(4*cap(spans), 8), 256)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := c.resource(rs.Resource().Attributes())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := c.attrSet(ss.Scope().Attributes(), "")
			sl := ss.Spans()
			for k := 0; k < sl.Len(); k++ {
				spans = append(spans, c.span(sl.At(k), &res, &scope))
			}
		}
	}
	spanmodel.AssignSpanTypes(spans, false)
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
	t    *Translator
	meta Meta
	msg  []byte
	tmp  []byte
	fv   []spanv1.FieldValue
	fvS  []spanv1.FieldValue_S
	fvI  []spanv1.FieldValue_I
	slab int
}

func (c *conv) str(v string) *spanv1.FieldValue {
	if len(c.fvS) == 0 {
		c.fvS = make([]spanv1.FieldValue_S, c.slab)
	}
	w := &c.fvS[0]
	c.fvS = c.fvS[1:]
	w.S = v
	f := c.newField()
	f.Kind = w
	return f
}

func (c *conv) int(v int64) *spanv1.FieldValue {
	if len(c.fvI) == 0 {
		c.fvI = make([]spanv1.FieldValue_I, c.slab)
	}
	w := &c.fvI[0]
	c.fvI = c.fvI[1:]
	w.I = v
	f := c.newField()
	f.Kind = w
	return f
}

func (c *conv) newField() *spanv1.FieldValue {
	if len(c.fv) == 0 {
		c.fv = make([]spanv1.FieldValue, c.slab)
	}
	f := &c.fv[0]
	c.fv = c.fv[1:]
	return f
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
		if key, ok := c.t.target(k); ok {
			s.promoted = append(s.promoted, kv{key: key, tag: isTagValue(key, v), val: v})
			continue
		}
		s.frag = appendKeyValue(s.frag, k, v)
		s.frag = append(s.frag, ',')
	}
	return s
}

func isTagValue(key string, v pcommon.Value) bool {
	return key == tagHTTPStatus && v.Type() == pcommon.ValueTypeInt
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
	ids := c.t.formatIDs(traceID, spanID, parentID)
	s := &spanv1.DatakitSpan{
		TraceId:       ids[0],
		SpanId:        ids[1],
		ParentId:      ids[2],
		Service:       res.service,
		Resource:      spanmodel.ValidString(sp.Name()),
		Source:        Source,
		StartUnixNano: start,
		DurationNano:  dur,
		Status:        status(sp.Status()),
		Tags:          make(map[string]string, 4+len(o.Tags)),
		Fields:        make(map[string]*spanv1.FieldValue, 2+len(res.promoted)+len(scope.promoted)+attrs.Len()),
	}

	runtimeID, consumedRuntimeID := res.runtimeID, false
	if runtimeID == "" {
		if v, ok := attrs.Get(attrRuntimeID); ok {
			if v.Type() == pcommon.ValueTypeStr {
				runtimeID = spanmodel.ValidString(v.Str())
			}
			consumedRuntimeID = o.CleanMessage
		}
	}
	if runtimeID != "" {
		s.Fields[fieldRuntimeIDDD] = c.str(runtimeID)
		s.Fields[fieldRuntimeID] = c.str(runtimeID)
	}

	events := sp.Events()
	exception := -1
	for i := 0; i < events.Len(); i++ {
		ev := events.At(i)
		if ev.Name() != eventException {
			continue
		}
		exception = i
		for _, ef := range exceptionFields {
			if v, ok := ev.Attributes().Get(ef.attr); ok {
				s.Fields[ef.field] = c.str(spanmodel.ValidString(v.AsString()))
			}
		}
		break
	}
	removedEvent := -1
	if o.CleanMessage {
		removedEvent = exception
	}

	// Promotion, later sources winning: resource, scope, span (+ trace_id), events.
	for _, p := range res.promoted {
		c.put(s, p.key, p.tag, p.val)
	}
	for _, p := range scope.promoted {
		c.put(s, p.key, p.tag, p.val)
	}
	c.tmp = c.tmp[:0]
	for k, v := range attrs.All() {
		if consumedRuntimeID && k == attrRuntimeID {
			continue
		}
		if key, ok := c.t.target(k); ok {
			c.put(s, key, isTagValue(key, v), v)
			continue
		}
		c.tmp = appendKeyValue(c.tmp, k, v)
		c.tmp = append(c.tmp, ',')
	}
	// DataKit appends the converted trace id as an attribute, for text search in message.
	if c.t.traceIDKey == "" {
		c.tmp = appendStringKeyValue(c.tmp, attrTraceID, s.TraceId)
		c.tmp = append(c.tmp, ',')
	}
	for i := 0; i < events.Len(); i++ {
		if i == removedEvent {
			continue
		}
		for k, v := range events.At(i).Attributes().All() {
			if key, ok := c.t.target(k); ok {
				c.put(s, key, isTagValue(key, v), v)
				continue
			}
			c.tmp = appendKeyValue(c.tmp, k, v)
			c.tmp = append(c.tmp, ',')
		}
	}

	// The receiver's own tags go on after promotion so that a promoted field of the same
	// name cannot displace them; only the input's tags override them.
	if c.meta.RemoteIP != "" {
		setTag(s, tagRemoteIP, spanmodel.ValidString(c.meta.RemoteIP))
	}
	if o.SplitServiceName {
		if sys := systemOf(attrs); sys != "" {
			setTag(s, tagBaseService, s.Service)
			s.Service = spanmodel.ValidString(sys)
		}
	}
	if kind, ok := spanKinds[sp.Kind()]; ok {
		setTag(s, tagSpanKind, kind)
	}
	if host := dbHost(attrs); host != "" {
		setTag(s, tagDBHost, spanmodel.ValidString(host))
	}
	for k, v := range o.Tags {
		setInputTag(s, k, v)
	}
	if s.SourceType == "" {
		s.SourceType = sourceTypeOf(attrs)
	}
	for k := range s.Fields {
		if _, ok := reservedFields[k]; ok {
			delete(s.Fields, k)
		}
	}
	for _, dedicated := range [...]struct{ key, val string }{{"env", s.Env}, {"project", s.Project}, {"version", s.Version}, {"operation", s.Operation}} {
		if dedicated.val != "" {
			delete(s.Fields, dedicated.key)
		}
	}

	if !o.DelMessage {
		c.msg = c.appendMessage(c.msg[:0], sp, res, scope, removedEvent)
		s.Message = string(c.msg)
	}
	return s
}

// put stores a promoted value as a tag or a typed field, removing the other kind.
func (c *conv) put(s *spanv1.DatakitSpan, key string, tag bool, v pcommon.Value) {
	key = spanmodel.ValidString(key)
	if tag {
		s.Tags[key] = strconv.FormatInt(v.Int(), 10)
		delete(s.Fields, key)
		return
	}
	f := c.fieldOf(v)
	if f == nil {
		return
	}
	s.Fields[key] = f
	delete(s.Tags, key)
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
		return &spanv1.FieldValue{Kind: &spanv1.FieldValue_F{F: v.Double()}}
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

// setInputTag applies one of the input's tags, which override what the span carries.
func setInputTag(s *spanv1.DatakitSpan, k, v string) {
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
	default:
		setTag(s, k, v)
	}
}

func setTag(s *spanv1.DatakitSpan, k, v string) {
	s.Tags[k] = v
	delete(s.Fields, k)
}

// formatIDs prints trace, span and parent id. The common hex case costs one allocation for
// the three.
func (t *Translator) formatIDs(trace pcommon.TraceID, span, parent pcommon.SpanID) [3]string {
	if t.opts.CompatibleDDTrace || t.opts.CompatibleZhaoShang || allZero(trace[:]) || allZero(span[:]) || allZero(parent[:]) {
		return [3]string{t.formatID(trace[:]), t.formatID(span[:]), t.formatID(parent[:])}
	}
	var buf [64]byte
	hex.Encode(buf[:32], trace[:])
	hex.Encode(buf[32:48], span[:])
	hex.Encode(buf[48:], parent[:])
	all := string(buf[:])
	return [3]string{all[:32], all[32:48], all[48:]}
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

// systemOf is the first non-empty db/rpc/messaging system of the span (split_service_name).
func systemOf(attrs pcommon.Map) string {
	for k, v := range attrs.All() {
		if (k == attrDBSystem || k == attrRPCSystem || k == attrMsgSystem) && v.Type() == pcommon.ValueTypeStr && v.Str() != "" {
			return v.Str()
		}
	}
	return ""
}

// dbHost is the peer of a db span: the first of net.peer.name or server.address.
func dbHost(attrs pcommon.Map) string {
	if _, ok := attrs.Get(attrDBSystem); !ok {
		return ""
	}
	for k, v := range attrs.All() {
		if k == "net.peer.name" || k == "server.address" {
			if v.Type() == pcommon.ValueTypeStr {
				return v.Str()
			}
			return ""
		}
	}
	return ""
}

// sourceTypeOf derives source_type from the span's attribute keys (ARCHITECTURE §5): the
// more specific db and messaging systems win over the web markers.
func sourceTypeOf(attrs pcommon.Map) string {
	web := false
	for k := range attrs.All() {
		switch {
		case k == attrDBSystem:
			return spanmodel.SourceTypeDB
		case k == attrMsgSystem:
			return spanmodel.SourceTypeMessageQueue
		case k == attrRPCSystem, strings.HasPrefix(k, "http."), strings.HasPrefix(k, "url."):
			web = true
		}
	}
	if web {
		return spanmodel.SourceTypeWeb
	}
	return spanmodel.SourceTypeCustom
}
