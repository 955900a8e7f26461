package translator

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// V1Span is one span of Zipkin's v1 JSON API (zipkin-go has only the v2 model).
type V1Span struct {
	TraceID           string               `json:"traceId"`
	Name              string               `json:"name"`
	ID                string               `json:"id"`
	ParentID          V1ID                 `json:"parentId,omitempty"`
	Timestamp         int64                `json:"timestamp,omitempty"`
	Duration          int64                `json:"duration,omitempty"`
	Debug             bool                 `json:"debug,omitempty"`
	Annotations       []V1Annotation       `json:"annotations,omitempty"`
	BinaryAnnotations []V1BinaryAnnotation `json:"binaryAnnotations,omitempty"`
}

// V1ID is a v1 parentId: a hex string, or a JSON number (0 meaning root) as some tracers
// write it.
type V1ID string

// UnmarshalJSON accepts a string, a number or null.
func (id *V1ID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = V1ID(s)
		return nil
	}
	if string(b) == "null" {
		*id = ""
		return nil
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("parentId %s is neither a hex string nor an unsigned integer", b)
	}
	*id = V1ID(strconv.FormatUint(n, 16))
	return nil
}

// V1Annotation is a v1 timed annotation ("cs", "sr", ...).
type V1Annotation struct {
	Timestamp int64       `json:"timestamp"`
	Value     string      `json:"value"`
	Endpoint  *V1Endpoint `json:"endpoint,omitempty"`
}

// V1BinaryAnnotation is a v1 tag; Value is any JSON scalar.
type V1BinaryAnnotation struct {
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	Type     string          `json:"type,omitempty"`
	Endpoint *V1Endpoint     `json:"endpoint,omitempty"`
}

// V1Endpoint is a v1 host.
type V1Endpoint struct {
	ServiceName string `json:"serviceName"`
	IPv4        string `json:"ipv4,omitempty"`
	IPv6        string `json:"ipv6,omitempty"`
	Port        int    `json:"port,omitempty"`
}

// v1Span is the common form of a JSON or thrift v1 span.
type v1Span struct {
	traceHigh, traceLow, id, parent uint64
	name                            string
	timestamp, duration             int64 // µs; 0 = not set
	annotations                     []v1Annotation
	binary                          []v1Binary
	unknownService                  string
	message                         func() string
}

type v1Annotation struct {
	ts      int64
	service string
}

type v1Binary struct {
	key, value, service string
}

// DecodeV1JSON decodes a v1 JSON array of spans and checks its ids.
func DecodeV1JSON(data []byte) ([]V1Span, error) {
	var spans []V1Span
	if err := json.Unmarshal(data, &spans); err != nil {
		return nil, fmt.Errorf("invalid zipkin v1 JSON: %w", err)
	}
	for i := range spans {
		if _, err := fromJSON(&spans[i]); err != nil {
			return nil, fmt.Errorf("invalid zipkin v1 JSON: span[%d]: %w", i, err)
		}
	}
	return spans, nil
}

func fromJSON(s *V1Span) (v1Span, error) {
	out := v1Span{name: s.Name, timestamp: s.Timestamp, duration: s.Duration, unknownService: UnknownServiceV1JSON}
	tid, err := model.TraceIDFromHex(s.TraceID)
	if err != nil || tid.Empty() {
		return out, fmt.Errorf("traceId %q is not a 64 or 128-bit hex id", s.TraceID)
	}
	out.traceHigh, out.traceLow = tid.High, tid.Low
	if out.id, err = strconv.ParseUint(s.ID, 16, 64); err != nil || out.id == 0 {
		return out, fmt.Errorf("id %q is not a non-zero 64-bit hex id", s.ID)
	}
	if s.ParentID != "" {
		if out.parent, err = strconv.ParseUint(string(s.ParentID), 16, 64); err != nil {
			return out, fmt.Errorf("parentId %q is not a 64-bit hex id", s.ParentID)
		}
	}
	out.annotations = make([]v1Annotation, len(s.Annotations))
	for i, a := range s.Annotations {
		out.annotations[i] = v1Annotation{ts: a.Timestamp, service: a.Endpoint.service()}
	}
	out.binary = make([]v1Binary, len(s.BinaryAnnotations))
	for i, a := range s.BinaryAnnotations {
		out.binary[i] = v1Binary{key: a.Key, value: jsonScalar(a.Value), service: a.Endpoint.service()}
	}
	return out, nil
}

func (e *V1Endpoint) service() string {
	if e == nil {
		return ""
	}
	return e.ServiceName
}

// jsonScalar is a binary annotation value as text: strings unquoted, anything else as
// written.
func jsonScalar(raw json.RawMessage) string {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

// V1JSONToTraces converts decoded v1 JSON spans of one payload.
func V1JSONToTraces(spans []V1Span, opt Options) []*spanv1.DatakitTrace {
	out := make([]*spanv1.DatakitSpan, 0, len(spans))
	var sc scratch
	for i := range spans {
		s := &spans[i]
		c, err := fromJSON(s)
		if err != nil {
			continue // DecodeV1JSON already refused the payload
		}
		c.message = func() string { return marshal(s) }
		out = append(out, v1ToSpan(&c, opt, &sc))
	}
	return group(out)
}

// DecodeV1Thrift decodes a TBinaryProtocol list<zipkincore.Span>, the body of Zipkin's v1
// thrift API.
func DecodeV1Thrift(data []byte) ([]*zipkincore.Span, error) {
	ctx := context.Background()
	// A list can't hold more elements than the payload has bytes: bounding the message
	// size by the payload keeps a forged length from allocating gigabytes.
	p := thrift.NewTBinaryProtocolConf(&thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(data)},
		&thrift.TConfiguration{MaxMessageSize: int32(min(max(len(data), 1), math.MaxInt32))})
	et, n, err := p.ReadListBegin(ctx)
	if err != nil {
		return nil, fmt.Errorf("invalid zipkin v1 thrift: list header: %w", err)
	}
	if et != thrift.STRUCT {
		return nil, fmt.Errorf("invalid zipkin v1 thrift: list of %v, want list of Span structs", et)
	}
	spans := make([]*zipkincore.Span, 0, n)
	for i := 0; i < n; i++ {
		s := zipkincore.NewSpan()
		if err := s.Read(ctx, p); err != nil {
			return nil, fmt.Errorf("invalid zipkin v1 thrift: span[%d]: %w", i, err)
		}
		spans = append(spans, s)
	}
	if err := p.ReadListEnd(ctx); err != nil {
		return nil, fmt.Errorf("invalid zipkin v1 thrift: %w", err)
	}
	return spans, nil
}

// V1ThriftToTraces converts decoded v1 thrift spans of one payload.
func V1ThriftToTraces(spans []*zipkincore.Span, opt Options) []*spanv1.DatakitTrace {
	out := make([]*spanv1.DatakitSpan, 0, len(spans))
	var sc scratch
	for _, s := range spans {
		c := fromThrift(s)
		out = append(out, v1ToSpan(&c, opt, &sc))
	}
	return group(out)
}

func fromThrift(s *zipkincore.Span) v1Span {
	out := v1Span{
		traceHigh:      uint64(s.GetTraceIDHigh()),
		traceLow:       uint64(s.TraceID),
		id:             uint64(s.ID),
		parent:         uint64(s.GetParentID()),
		name:           spanmodel.ValidString(s.Name),
		timestamp:      s.GetTimestamp(),
		duration:       s.GetDuration(),
		unknownService: UnknownServiceV1Thrift,
		message:        func() string { return marshal(s) },
	}
	out.annotations = make([]v1Annotation, 0, len(s.Annotations))
	for _, a := range s.Annotations {
		if a != nil {
			out.annotations = append(out.annotations, v1Annotation{ts: a.Timestamp, service: hostService(a.Host)})
		}
	}
	out.binary = make([]v1Binary, 0, len(s.BinaryAnnotations))
	for _, a := range s.BinaryAnnotations {
		if a != nil {
			out.binary = append(out.binary, v1Binary{
				key:     spanmodel.ValidString(a.Key),
				value:   spanmodel.ValidString(thriftValue(a)),
				service: hostService(a.Host),
			})
		}
	}
	return out
}

// hostService is the endpoint's service name; thrift strings are not checked for UTF-8,
// and an invalid one would make the batch unpublishable.
func hostService(e *zipkincore.Endpoint) string {
	if e == nil {
		return ""
	}
	return spanmodel.ValidString(e.ServiceName)
}

// thriftValue renders a binary annotation by its declared type; a value too short for its
// type is kept as raw text rather than refused.
func thriftValue(a *zipkincore.BinaryAnnotation) string {
	v := a.Value
	switch a.AnnotationType {
	case zipkincore.AnnotationType_BOOL:
		if len(v) == 1 {
			return strconv.FormatBool(v[0] != 0)
		}
	case zipkincore.AnnotationType_I16:
		if len(v) == 2 {
			return strconv.FormatInt(int64(int16(binary.BigEndian.Uint16(v))), 10)
		}
	case zipkincore.AnnotationType_I32:
		if len(v) == 4 {
			return strconv.FormatInt(int64(int32(binary.BigEndian.Uint32(v))), 10)
		}
	case zipkincore.AnnotationType_I64:
		if len(v) == 8 {
			return strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10)
		}
	case zipkincore.AnnotationType_DOUBLE:
		if len(v) == 8 {
			return strconv.FormatFloat(math.Float64frombits(binary.BigEndian.Uint64(v)), 'f', -1, 64)
		}
	}
	return string(v)
}

func v1ToSpan(s *v1Span, opt Options, sc *scratch) *spanv1.DatakitSpan {
	ds := &spanv1.DatakitSpan{
		TraceId:    traceID(s.traceHigh, s.traceLow),
		SpanId:     spanmodel.FormatSpanIDByBase(s.id, 16),
		ParentId:   spanmodel.FormatSpanIDByBase(s.parent, 16),
		Resource:   s.name,
		Operation:  s.name,
		Source:     Source,
		SourceType: spanmodel.SourceTypeCustom,
		Status:     spanmodel.StatusOK,
	}
	first, last := int64(0), int64(0)
	for _, a := range s.annotations {
		if ds.Service == "" {
			ds.Service = a.service
		}
		if a.ts > 0 && (first == 0 || a.ts < first) {
			first = a.ts
		}
		last = max(last, a.ts)
	}
	// Zipkin's own v1 reader falls back to the annotations when timestamp or duration is
	// missing (older tracers only sent annotations).
	start, dur := s.timestamp, s.duration
	if start <= 0 {
		start = first
	}
	if dur <= 0 && first > 0 {
		dur = last - first
	}
	ds.StartUnixNano = start * 1000
	ds.DurationNano = max(dur, 0) * 1000

	ds.Tags = spanmodel.NewTags(opt.Tags, len(s.binary))
	for _, b := range s.binary {
		if ds.Service == "" {
			ds.Service = b.service
		}
		switch b.key {
		case "error":
			ds.Status = spanmodel.StatusError
		case "path.http":
			ds.Resource = b.value
		case "project":
			ds.Project = b.value
		case "version":
			ds.Version = b.value
		}
		sc.keys.Put(ds.Tags, opt.IgnoreTags, b.key, b.value)
	}
	if ds.Service == "" {
		ds.Service = s.unknownService
	}
	if !opt.DelMessage && s.message != nil {
		ds.Message = s.message()
	}
	return ds
}

func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
