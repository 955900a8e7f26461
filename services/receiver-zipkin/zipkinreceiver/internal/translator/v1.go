package translator

import (
	"encoding/json"
	"fmt"
	"strconv"

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
	// text is Value as a tag value (appendJSONScalar), a string of the payload, where
	// ParseV1JSON's v1Scan read it.
	text string
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
}

type v1Annotation struct {
	ts      int64
	service string
}

type v1Binary struct {
	key, value, service string
}

// v1IDs prints s's ids into tb for ds (they are set at tb.Flush): the payload's ids share
// one string instead of being three allocations a span.
func v1IDs(tb *spanmodel.TextBatch, ds *spanv1.DatakitSpan, s *v1Span) {
	start := len(tb.Buf)
	if s.traceHigh != 0 {
		tb.Buf = spanmodel.AppendHex128(tb.Buf, s.traceHigh, s.traceLow)
	} else {
		tb.Buf = spanmodel.AppendSpanIDByBase(tb.Buf, s.traceLow, 16)
	}
	tb.Set(&ds.TraceId, start)
	start = len(tb.Buf)
	tb.Buf = spanmodel.AppendSpanIDByBase(tb.Buf, s.id, 16)
	tb.Set(&ds.SpanId, start)
	if s.parent == 0 {
		ds.ParentId = "0" // FormatSpanIDByBase(0, 16)
		return
	}
	start = len(tb.Buf)
	tb.Buf = spanmodel.AppendSpanIDByBase(tb.Buf, s.parent, 16)
	tb.Set(&ds.ParentId, start)
}

// v1ToSpan fills in everything of ds but the ids (v1IDs) and the message.
func v1ToSpan(ds *spanv1.DatakitSpan, s *v1Span, opt Options, keys *v1Keys) {
	ds.Resource = s.name
	ds.Operation = s.name
	ds.Source = Source
	ds.SourceType = spanmodel.SourceTypeCustom
	ds.Status = spanmodel.StatusOK
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
	for j, b := range s.binary {
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
		if len(opt.IgnoreTags) == 0 || !opt.IgnoreTags.Match(b.key) {
			ds.Tags[keys.key(j, b.key)] = b.value
		}
	}
	if ds.Service == "" {
		ds.Service = s.unknownService
	}
}

// v1Keys is spanmodel.TagKeys (TagKey memoized) that first looks at the key the previous
// span had at the same position: a payload's spans mostly repeat one list of keys, and
// comparing two short strings is cheaper than hashing one.
type v1Keys struct {
	keys spanmodel.TagKeys
	pos  []v1Key
}

type v1Key struct{ raw, key string }

// key is spanmodel.TagKey(raw) for the j-th binary annotation of a span.
func (k *v1Keys) key(j int, raw string) string {
	if j < len(k.pos) && k.pos[j].raw == raw {
		return k.pos[j].key
	}
	key := k.keys.Key(raw)
	if k.pos == nil {
		k.pos = make([]v1Key, 0, 16)
	}
	if j < len(k.pos) {
		k.pos[j] = v1Key{raw, key}
	} else if j == len(k.pos) && j < 64 {
		k.pos = append(k.pos, v1Key{raw, key})
	}
	return key
}

func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
