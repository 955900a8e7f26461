package translator

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// DecodeV2JSON decodes a v2 JSON array of spans. Ids may be upper- or lower-case hex; trace
// ids may be 64 or 128 bits; parentId may be absent.
func DecodeV2JSON(data []byte) ([]*model.SpanModel, error) {
	var spans []*model.SpanModel
	if err := json.Unmarshal(data, &spans); err != nil {
		return nil, fmt.Errorf("invalid zipkin v2 JSON: %w", err)
	}
	for i, s := range spans {
		if s == nil {
			return nil, fmt.Errorf("invalid zipkin v2 JSON: span[%d] is null", i)
		}
		if s.TraceID.Empty() {
			return nil, fmt.Errorf("invalid zipkin v2 JSON: span[%d]: %w", i, model.ErrValidTraceIDRequired)
		}
	}
	return spans, nil
}

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
	var tid model.TraceID
	switch len(s.TraceId) {
	case 16:
		tid.High = binary.BigEndian.Uint64(s.TraceId[:8])
		tid.Low = binary.BigEndian.Uint64(s.TraceId[8:])
	case 8:
		tid.Low = binary.BigEndian.Uint64(s.TraceId)
	default:
		return nil, fmt.Errorf("trace_id has %d bytes, want 8 or 16", len(s.TraceId))
	}
	if tid.Empty() {
		return nil, model.ErrValidTraceIDRequired
	}
	if len(s.Id) != 8 {
		return nil, fmt.Errorf("id has %d bytes, want 8", len(s.Id))
	}
	m := &model.SpanModel{
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
		p := model.ID(binary.BigEndian.Uint64(s.ParentId))
		m.ParentID = &p
	default:
		return nil, fmt.Errorf("parent_id has %d bytes, want 8", len(s.ParentId))
	}
	if s.Timestamp != 0 {
		m.Timestamp = microsToTime(s.Timestamp)
	}
	m.LocalEndpoint = endpoint(s.LocalEndpoint)
	m.RemoteEndpoint = endpoint(s.RemoteEndpoint)
	for _, a := range s.Annotations {
		if a != nil {
			m.Annotations = append(m.Annotations, model.Annotation{Timestamp: microsToTime(a.Timestamp), Value: a.Value})
		}
	}
	return m, nil
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

func endpoint(e *zipkin_proto3.Endpoint) *model.Endpoint {
	if e == nil {
		return nil
	}
	m := &model.Endpoint{ServiceName: e.ServiceName, Port: uint16(e.Port)}
	if len(e.Ipv4) == net.IPv4len {
		m.IPv4 = net.IP(e.Ipv4)
	}
	if len(e.Ipv6) == net.IPv6len {
		m.IPv6 = net.IP(e.Ipv6)
	}
	if m.Empty() {
		return nil
	}
	return m
}

// V2ToTraces converts decoded v2 spans of one payload.
func V2ToTraces(spans []*model.SpanModel, opt Options) []*spanv1.DatakitTrace {
	out := make([]*spanv1.DatakitSpan, 0, len(spans))
	var sc scratch
	for _, s := range spans {
		out = append(out, v2Span(s, opt, &sc))
	}
	return group(out)
}

func v2Span(s *model.SpanModel, opt Options, sc *scratch) *spanv1.DatakitSpan {
	ds := &spanv1.DatakitSpan{
		TraceId:      traceID(s.TraceID.High, s.TraceID.Low),
		SpanId:       spanmodel.FormatSpanIDByBase(uint64(s.ID), 16),
		ParentId:     "0",
		Service:      UnknownServiceV2,
		Resource:     s.Name,
		Source:       Source,
		SourceType:   spanmodel.SourceTypeCustom,
		DurationNano: int64(s.Duration),
	}
	if s.ParentID != nil {
		ds.ParentId = spanmodel.FormatSpanIDByBase(uint64(*s.ParentID), 16)
	}
	if s.LocalEndpoint != nil && s.LocalEndpoint.ServiceName != "" {
		ds.Service = s.LocalEndpoint.ServiceName
	}
	if !s.Timestamp.IsZero() {
		ds.StartUnixNano = s.Timestamp.UnixNano()
	}
	_, isErr := s.Tags["error"]
	ds.Status = statusOf(isErr)
	ds.Tags = spanmodel.NewTags(opt.Tags, len(s.Tags))
	for k, v := range s.Tags {
		sc.keys.Put(ds.Tags, opt.IgnoreTags, k, v)
	}
	if !opt.DelMessage {
		if b, ok := appendV2Message(sc.msg[:0], s); ok {
			ds.Message = string(b)
			sc.msg = b
		}
	}
	return ds
}
