package translator

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// DecodeV2Proto decodes a proto3 ListOfSpans. Unlike zipkin_proto3.ParseSpans it accepts
// 8-byte (64-bit) trace ids, which zipkin.proto allows.
func DecodeV2Proto(data []byte) ([]*model.SpanModel, error) {
	list, err := unmarshalListOfSpans(data)
	if err != nil {
		return nil, fmt.Errorf("invalid zipkin v2 protobuf: %w", err)
	}
	out := make([]*model.SpanModel, 0, len(list))
	for i, s := range list {
		m, err := protoToModel(s)
		if err != nil {
			return nil, fmt.Errorf("invalid zipkin v2 protobuf: span[%d]: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func protoToModel(s *zipkin_proto3.Span) (*model.SpanModel, error) {
	var m protoModel
	if err := m.set(s); err != nil {
		return nil, err
	}
	out := m.span
	if m.span.ParentID != nil {
		p := *m.span.ParentID
		out.ParentID = &p
	}
	out.LocalEndpoint = cloneEndpoint(m.span.LocalEndpoint)
	out.RemoteEndpoint = cloneEndpoint(m.span.RemoteEndpoint)
	if len(m.span.Annotations) > 0 {
		out.Annotations = slices.Clone(m.span.Annotations)
	} else {
		out.Annotations = nil
	}
	return &out, nil
}

func cloneEndpoint(e *model.Endpoint) *model.Endpoint {
	if e == nil {
		return nil
	}
	c := *e
	return &c
}

// protoModel is the model.SpanModel of one proto span, reused from span to span of a
// payload: V2ProtoToTraces converts each span through it without allocating one (and its
// endpoints, parent id and annotations) a span. Nothing of it outlives the conversion but
// its strings and the tag map, which are the proto span's.
type protoModel struct {
	span          model.SpanModel
	parent        model.ID
	local, remote model.Endpoint
	annotations   []model.Annotation
}

// set makes m.span what DecodeV2Proto gives for s.
func (m *protoModel) set(s *zipkin_proto3.Span) error {
	var tid model.TraceID
	switch len(s.TraceId) {
	case 16:
		tid.High = binary.BigEndian.Uint64(s.TraceId[:8])
		tid.Low = binary.BigEndian.Uint64(s.TraceId[8:])
	case 8:
		tid.Low = binary.BigEndian.Uint64(s.TraceId)
	default:
		return fmt.Errorf("trace_id has %d bytes, want 8 or 16", len(s.TraceId))
	}
	if tid.Empty() {
		return model.ErrValidTraceIDRequired
	}
	if len(s.Id) != 8 {
		return fmt.Errorf("id has %d bytes, want 8", len(s.Id))
	}
	m.span = model.SpanModel{
		SpanContext: model.SpanContext{TraceID: tid, ID: model.ID(binary.BigEndian.Uint64(s.Id))},
		Name:        s.Name,
		Kind:        model.Kind(kindName(s.Kind)),
		Shared:      s.Shared,
		Tags:        s.Tags,
		Duration:    time.Duration(s.Duration) * time.Microsecond,
	}
	switch len(s.ParentId) {
	case 0:
	case 8:
		m.parent = model.ID(binary.BigEndian.Uint64(s.ParentId))
		m.span.ParentID = &m.parent
	default:
		return fmt.Errorf("parent_id has %d bytes, want 8", len(s.ParentId))
	}
	if s.Timestamp != 0 {
		m.span.Timestamp = microsToTime(s.Timestamp)
	}
	m.span.LocalEndpoint = endpoint(&m.local, s.LocalEndpoint)
	m.span.RemoteEndpoint = endpoint(&m.remote, s.RemoteEndpoint)
	m.annotations = m.annotations[:0]
	for _, a := range s.Annotations {
		if a != nil {
			m.annotations = append(m.annotations, model.Annotation{Timestamp: microsToTime(a.Timestamp), Value: a.Value})
		}
	}
	if len(m.annotations) > 0 {
		m.span.Annotations = m.annotations
	}
	return nil
}

// V2ProtoToTraces decodes a proto3 ListOfSpans as DecodeV2Proto does and converts it as
// V2ToTraces does, without building the model.SpanModels in between: each span is
// converted from its decoded fields as soon as it is read (its tags straight from the
// wire, no map), and the next is read into the same structs. The errors are
// DecodeV2Proto's: a wire-format error anywhere wins over a span the model refuses.
func V2ProtoToTraces(data []byte, opt Options) ([]*spanv1.DatakitTrace, error) {
	// The bytes fields (ids, addresses) are only looked at during the conversion: they can
	// be slices of data itself; the strings are slices of the one copy they need.
	d := protoDecoder{str: string(data), raw: data, direct: true}
	c := newV2Converter(opt, d.countField(1, 0, len(d.raw)))
	d.pairs = c.scr.pairs
	defer func() {
		c.scr.pairs = d.pairs
		c.release()
	}()
	var (
		m      protoModel
		s      zipkin_proto3.Span
		n      int
		setErr error
	)
	err := d.eachSpan(func() *zipkin_proto3.Span {
		d.resetDirect(&s)
		return &s
	}, func(s *zipkin_proto3.Span) {
		if setErr == nil {
			if err := m.set(s); err != nil {
				setErr = fmt.Errorf("span[%d]: %w", n, err)
			} else {
				c.addTags(&m.span, sortTagPairs(d.pairs))
			}
		}
		n++
	})
	if err == nil {
		err = setErr
	}
	if err != nil {
		return nil, fmt.Errorf("invalid zipkin v2 protobuf: %w", err)
	}
	return c.traces(), nil
}

func kindName(k zipkin_proto3.Span_Kind) string {
	if k == zipkin_proto3.Span_SPAN_KIND_UNSPECIFIED {
		return ""
	}
	return k.String()
}

func microsToTime(us uint64) time.Time {
	return time.Unix(0, 0).Add(time.Duration(us) * time.Microsecond).UTC()
}

// endpoint fills m from e; nil when there is none (or it is empty).
func endpoint(m *model.Endpoint, e *zipkin_proto3.Endpoint) *model.Endpoint {
	if e == nil {
		return nil
	}
	*m = model.Endpoint{ServiceName: e.ServiceName, Port: uint16(e.Port)}
	// zipkin-go's own proto encoder writes the ipv4 field as it holds it, often the
	// 16-byte IPv4-in-IPv6 form net.ParseIP returns; anything else of another length is
	// not an IPv4 address and is left out.
	if ip := net.IP(e.Ipv4).To4(); ip != nil && (len(e.Ipv4) == net.IPv4len || len(e.Ipv4) == net.IPv6len) {
		m.IPv4 = ip
	}
	if len(e.Ipv6) == net.IPv6len {
		m.IPv6 = net.IP(e.Ipv6)
	}
	if m.Empty() {
		return nil
	}
	return m
}

// V2ToTraces converts decoded v2 spans of one payload. The spans come from shared blocks
// and their ids and messages from one string (spanmodel.TextBatch): a few allocations for
// the payload where there were four per span.
func V2ToTraces(spans []*model.SpanModel, opt Options) []*spanv1.DatakitTrace {
	c := newV2Converter(opt, len(spans))
	defer c.release()
	for _, s := range spans {
		c.add(s)
	}
	return c.traces()
}

// v2Converter converts the spans of one payload.
type v2Converter struct {
	opt   Options
	out   []*spanv1.DatakitSpan
	block []spanv1.DatakitSpan
	tb    *spanmodel.TextBatch
	sc    scratch
	tags  []tagPair // the span's tags, sorted
	scr   *v2Scratch
}

func newV2Converter(opt Options, n int) *v2Converter {
	return &v2Converter{opt: opt, out: make([]*spanv1.DatakitSpan, 0, n), block: make([]spanv1.DatakitSpan, 0, n), tb: spanmodel.GetTextBatch(), scr: getV2Scratch()}
}

// release hands back what the conversion borrowed; the spans' strings are flushed then.
func (c *v2Converter) release() {
	c.tb.Release()
	c.scr.release()
}

// reserve makes room for n more spans (a guess) before the first is added.
func (c *v2Converter) reserve(n int) {
	n = min(n+1, 256)
	if cap(c.block) < n {
		c.block = make([]spanv1.DatakitSpan, 0, n)
	}
	if cap(c.out) < n {
		c.out = make([]*spanv1.DatakitSpan, 0, n)
	}
}

func (c *v2Converter) add(s *model.SpanModel) { c.addSpan(s, nil, false) }

// addTags converts s, whose tags are tags (sorted by key, no key twice) and not s.Tags.
func (c *v2Converter) addTags(s *model.SpanModel, tags []tagPair) { c.addSpan(s, tags, true) }

func (c *v2Converter) addSpan(s *model.SpanModel, tags []tagPair, sorted bool) {
	if len(c.block) == cap(c.block) {
		c.block = make([]spanv1.DatakitSpan, 0, min(max(16, 2*cap(c.block)), 256))
	}
	c.block = c.block[:len(c.block)+1]
	ds := &c.block[len(c.block)-1]
	c.span(ds, s, tags, sorted)
	c.out = append(c.out, ds)
}

// traces gives the spans their strings and groups them.
func (c *v2Converter) traces() []*spanv1.DatakitTrace {
	c.tb.Flush()
	return group(c.out)
}

func (c *v2Converter) span(ds *spanv1.DatakitSpan, s *model.SpanModel, tags []tagPair, sorted bool) {
	opt, tb := c.opt, c.tb
	ds.Service = UnknownServiceV2
	ds.Resource = s.Name
	ds.Source = Source
	ds.SourceType = spanmodel.SourceTypeCustom
	ds.DurationNano = int64(s.Duration)

	start := len(tb.Buf)
	if s.TraceID.High != 0 {
		tb.Buf = spanmodel.AppendHex128(tb.Buf, s.TraceID.High, s.TraceID.Low)
	} else {
		tb.Buf = spanmodel.AppendSpanIDByBase(tb.Buf, s.TraceID.Low, 16)
	}
	tb.Set(&ds.TraceId, start)
	start = len(tb.Buf)
	tb.Buf = spanmodel.AppendSpanIDByBase(tb.Buf, uint64(s.ID), 16)
	tb.Set(&ds.SpanId, start)
	if s.ParentID != nil {
		start = len(tb.Buf)
		tb.Buf = spanmodel.AppendSpanIDByBase(tb.Buf, uint64(*s.ParentID), 16)
		tb.Set(&ds.ParentId, start)
	} else {
		ds.ParentId = "0"
	}

	if s.LocalEndpoint != nil && s.LocalEndpoint.ServiceName != "" {
		ds.Service = s.LocalEndpoint.ServiceName
	}
	if !s.Timestamp.IsZero() {
		ds.StartUnixNano = s.Timestamp.UnixNano()
	}
	var memo []tagMemo
	if !sorted {
		_, isErr := s.Tags["error"]
		ds.Status = statusOf(isErr)
		ds.Tags = spanmodel.NewTags(opt.Tags, len(s.Tags))
		if opt.DelMessage {
			for k, v := range s.Tags {
				c.sc.keys.Put(ds.Tags, opt.IgnoreTags, k, v)
			}
			return
		}
		// One pass over the map, sorted for the message too.
		c.tags = sortedTags(c.tags[:0], s.Tags)
		tags = c.tags
	} else {
		isErr := false
		for _, t := range tags {
			isErr = isErr || t.key == "error"
		}
		ds.Status = statusOf(isErr)
		ds.Tags = spanmodel.NewTags(opt.Tags, len(tags))
	}
	memo = c.memoFor(tags)
	for i, t := range tags {
		if m := &memo[i]; !m.ignored {
			ds.Tags[m.point] = t.value
		}
	}
	if !opt.DelMessage {
		start = len(tb.Buf)
		if b, ok := appendV2MessageMemo(tb.Buf, s, tags, memo); ok {
			tb.Buf = b
			tb.Set(&ds.Message, start)
		} else {
			tb.Buf = b[:start]
		}
	}
}

// tagMemo is what is known of the key at one position of a span's sorted tags: a
// payload's spans mostly carry the same keys in the same order, so comparing the key
// with the last span's replaces the lookups of its point key, of ignore_tags and the
// escaping of its JSON.
type tagMemo struct {
	set        bool
	key, point string
	ignored    bool
	json       []byte // the key as a JSON string, made when the message first needs it
}

// memoFor makes the memo at each position of tags be that key's.
func (c *v2Converter) memoFor(tags []tagPair) []tagMemo {
	sc := c.scr
	if n := len(tags) - len(sc.memo); n > 0 {
		sc.memo = append(sc.memo, make([]tagMemo, n)...)
	}
	memo := sc.memo[:len(tags)]
	for i := range tags {
		m, key := &memo[i], tags[i].key
		if m.set && m.key == key {
			continue
		}
		m.set, m.key, m.json = true, key, m.json[:0]
		m.ignored = len(c.opt.IgnoreTags) > 0 && c.opt.IgnoreTags.Match(key)
		m.point = c.sc.keys.Key(key)
	}
	return memo
}
