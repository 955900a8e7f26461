// Package translator converts SkyWalking v3 trace segments into DatakitSpans the way
// DataKit's skywalking input does (datakit-spec §1.4). It is pure: no I/O, no clock, no
// config package; the receiver passes its settings as Options.
package translator

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	commonv3 "skywalking.apache.org/repo/goapi/collect/common/v3"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
)

// Source is the measurement and `source` tag of SkyWalking spans.
const Source = "skywalking"

// Tag keys the converter sets besides the span's own tags.
const (
	TagServiceInstance = "service_instance"
	TagEndpoint        = "endpoint"
	tagDBStatement     = "db.statement"
)

const msPerNano = int64(1_000_000)

// Options are the per-input settings that shape a span.
type Options struct {
	// Plugins are span tag keys (e.g. "db.type") whose non-empty value becomes the span's
	// service, turning the span into an entry of that virtual service.
	Plugins []string
	// IgnoreTags drop span tags whose original key matches.
	IgnoreTags spanmodel.TagMatcher
	// InputTags are the input's `tags`; span tags override them.
	InputTags map[string]string
	// DelMessage omits the JSON copy of the native span.
	DelMessage bool
}

// ErrInvalidSegment is wrapped by every error about a segment's content.
var ErrInvalidSegment = errors.New("invalid segment")

// Convert appends the spans of seg to dst. A segment without traceId or traceSegmentId is
// refused: its span ids could not be told apart from another segment's.
func Convert(dst []*spanv1.DatakitSpan, seg *agentv3.SegmentObject, opt *Options) ([]*spanv1.DatakitSpan, error) {
	c := newConverter(opt, len(seg.GetSpans()))
	defer c.done()
	return c.convert(dst, seg)
}

// ConvertAll converts several segments, naming the failing one by its index.
func ConvertAll(segs []*agentv3.SegmentObject, opt *Options) ([]*spanv1.DatakitSpan, error) {
	n := 0
	for _, s := range segs {
		n += len(s.GetSpans())
	}
	c := newConverter(opt, n)
	defer c.done()
	out := make([]*spanv1.DatakitSpan, 0, n)
	for i, s := range segs {
		var err error
		if out, err = c.convert(out, s); err != nil {
			return nil, fmt.Errorf("segments[%d]: %w", i, err)
		}
	}
	return out, nil
}

// converter is what one payload's conversion shares: the spans come from one block, their
// ids and messages from one string (spanmodel.TextBatch), tag keys from one cache.
type converter struct {
	opt   *Options
	block []spanv1.DatakitSpan
	tb    *spanmodel.TextBatch
	keys  spanmodel.TagKeys
}

func newConverter(opt *Options, spans int) *converter {
	if opt == nil {
		opt = &Options{}
	}
	return &converter{opt: opt, block: make([]spanv1.DatakitSpan, 0, spans), tb: spanmodel.GetTextBatch()}
}

// done gives the spans their strings.
func (c *converter) done() { c.tb.Release() }

func (c *converter) convert(dst []*spanv1.DatakitSpan, seg *agentv3.SegmentObject) ([]*spanv1.DatakitSpan, error) {
	if seg == nil {
		return dst, fmt.Errorf("%w: null segment", ErrInvalidSegment)
	}
	if seg.TraceId == "" {
		return dst, fmt.Errorf("%w: traceId is empty (segment %q)", ErrInvalidSegment, seg.TraceSegmentId)
	}
	if seg.TraceSegmentId == "" {
		return dst, fmt.Errorf("%w: traceSegmentId is empty (trace %q)", ErrInvalidSegment, seg.TraceId)
	}
	for _, span := range seg.Spans {
		if span == nil {
			continue
		}
		if len(c.block) == cap(c.block) {
			c.block = make([]spanv1.DatakitSpan, 0, max(8, cap(c.block)))
		}
		c.block = c.block[:len(c.block)+1]
		ds := &c.block[len(c.block)-1]
		c.convertSpan(ds, seg, span)
		dst = append(dst, ds)
	}
	return dst, nil
}

// setSpanID gives *dst the id DataKit gives a span: its segment id and its number.
func (c *converter) setSpanID(dst *string, segmentID string, id int32) {
	start := len(c.tb.Buf)
	c.tb.Buf = strconv.AppendInt(append(c.tb.Buf, segmentID...), int64(id), 10)
	c.tb.Set(dst, start)
}

func (c *converter) setParentID(ds *spanv1.DatakitSpan, seg *agentv3.SegmentObject, span *agentv3.SpanObject) {
	// A reference links the first span of a segment to its parent in another segment
	// (another process or thread); it wins over the in-segment parent.
	switch {
	case len(span.Refs) > 0 && span.Refs[0] != nil:
		c.setSpanID(&ds.ParentId, span.Refs[0].ParentTraceSegmentId, span.Refs[0].ParentSpanId)
	case span.ParentSpanId < 0:
		ds.ParentId = "0"
	default:
		c.setSpanID(&ds.ParentId, seg.TraceSegmentId, span.ParentSpanId)
	}
}

func spanType(t agentv3.SpanType) string {
	switch t {
	case agentv3.SpanType_Local:
		return spanmodel.SpanTypeLocal
	case agentv3.SpanType_Exit:
		return spanmodel.SpanTypeExit
	default:
		return spanmodel.SpanTypeEntry
	}
}

func sourceTypeOfLayer(l agentv3.SpanLayer) string {
	switch l {
	case agentv3.SpanLayer_Database:
		return spanmodel.SourceTypeDB
	case agentv3.SpanLayer_Cache:
		return spanmodel.SourceTypeCache
	case agentv3.SpanLayer_RPCFramework:
		return spanmodel.SourceTypeFramework
	case agentv3.SpanLayer_Http:
		return spanmodel.SourceTypeWeb
	case agentv3.SpanLayer_MQ:
		return spanmodel.SourceTypeMessageQueue
	case agentv3.SpanLayer_FAAS:
		return spanmodel.SourceTypeApp
	default:
		return spanmodel.SourceTypeCustom
	}
}

// tagValue is DataKit's lookup: the first tag with the key, and only when its value is set.
func tagValue(tags []*commonv3.KeyStringValuePair, key string) (string, bool) {
	for _, t := range tags {
		if t != nil && t.Key == key {
			return t.Value, t.Value != ""
		}
	}
	return "", false
}

func (c *converter) convertSpan(ds *spanv1.DatakitSpan, seg *agentv3.SegmentObject, span *agentv3.SpanObject) {
	opt := c.opt
	ds.TraceId = seg.TraceId
	c.setParentID(ds, seg, span)
	c.setSpanID(&ds.SpanId, seg.TraceSegmentId, span.SpanId)
	ds.Service = seg.Service
	ds.Resource = span.OperationName
	ds.Source = Source
	ds.SpanType = spanType(span.SpanType)
	ds.SourceType = spanmodel.SourceTypeCustom
	ds.StartUnixNano = span.StartTime * msPerNano
	ds.DurationNano = (span.EndTime - span.StartTime) * msPerNano
	ds.Status = spanmodel.StatusOK
	if span.IsError {
		ds.Status = spanmodel.StatusError
	}
	for _, p := range opt.Plugins {
		v, ok := tagValue(span.Tags, p)
		if !ok {
			continue
		}
		ds.Service = v
		ds.SpanType = spanmodel.SpanTypeEntry
		ds.SourceType = sourceTypeOfLayer(span.SpanLayer)
		if span.SpanLayer == agentv3.SpanLayer_Database || span.SpanLayer == agentv3.SpanLayer_Cache {
			if stmt, ok := tagValue(span.Tags, tagDBStatement); ok {
				ds.Resource = stmt
			}
		}
	}

	tags := spanmodel.NewTags(opt.InputTags, len(span.Tags)+2)
	for _, t := range span.Tags {
		if t != nil {
			c.keys.Put(tags, opt.IgnoreTags, t.Key, t.Value)
		}
	}
	if seg.ServiceInstance != "" {
		tags[TagServiceInstance] = seg.ServiceInstance
	}
	if span.Peer != "" {
		tags[TagEndpoint] = span.Peer
	}
	if len(tags) > 0 {
		ds.Tags = tags
	}
	if !opt.DelMessage {
		start := len(c.tb.Buf)
		c.tb.Buf = appendSpanJSON(c.tb.Buf, span)
		c.tb.Set(&ds.Message, start)
	}
}
