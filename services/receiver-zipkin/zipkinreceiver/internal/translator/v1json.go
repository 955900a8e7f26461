package translator

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/openzipkin/zipkin-go/model"

	"github.com/tracekit/tracekit/libs/jsonwire"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// DecodeV1JSON decodes a v1 JSON array of spans and checks its ids.
//
// It gives what json.Unmarshal into []V1Span gives (the struct tags, case-insensitive
// names, last duplicate wins, null leaves a value alone, invalid UTF-8 becomes U+FFFD),
// reading tokens with jsontext instead of reflection; FuzzV1JSONMatchesEncodingJSON holds
// the two together.
func DecodeV1JSON(data []byte) ([]V1Span, error) {
	r := jsonwire.NewReader(data, jsonwire.Lenient)
	spans, err := readV1Spans(r)
	r.Release()
	if err != nil {
		return nil, fmt.Errorf("invalid zipkin v1 JSON: %w", err)
	}
	for i := range spans {
		if _, err := checkV1IDs(&spans[i]); err != nil {
			return nil, fmt.Errorf("invalid zipkin v1 JSON: span[%d]: %w", i, err)
		}
	}
	return spans, nil
}

var (
	v1SpanFields = jsonwire.NewFields("traceId", "name", "id", "parentId", "timestamp", "duration",
		"debug", "annotations", "binaryAnnotations")
	v1AnnotationFields       = jsonwire.NewFields("timestamp", "value", "endpoint")
	v1BinaryAnnotationFields = jsonwire.NewFields("key", "value", "type", "endpoint")
	v1EndpointFields         = jsonwire.NewFields("serviceName", "ipv4", "ipv6", "port")
)

func readV1Spans(r *jsonwire.Reader) ([]V1Span, error) {
	switch r.Peek() {
	case 'n':
		if err := r.Skip(); err != nil {
			return nil, err
		}
		return nil, r.End()
	case '[':
	default:
		return nil, skipThen(r, errNotArray)
	}
	if err := r.Open('['); err != nil {
		return nil, err
	}
	var spans []V1Span
	var h v1Hints
	for i := 0; r.More(); i++ {
		spans = append(spans, V1Span{})
		if err := readV1Span(r, &spans[i], &h); err != nil {
			return nil, fmt.Errorf("span[%d]: %w", i, err)
		}
	}
	if err := r.Close(); err != nil {
		return nil, err
	}
	return spans, r.End()
}

// readStruct reads an object into a struct with encoding/json's rules: null leaves it
// alone, anything but an object is an error; member reads one member's value.
func readStruct(r *jsonwire.Reader, fields *jsonwire.Fields, member func(field int) error) error {
	switch r.Peek() {
	case 'n':
		return r.Skip()
	case '{':
	default:
		return skipThen(r, errWantObject)
	}
	return readMembers(r, func(name jsontext.Value) error {
		if f := fields.Lookup(r.Name(name)); f >= 0 {
			return member(f)
		}
		return r.Skip()
	})
}

// readMembers reads the object that comes next, calling member with each name for it to
// read the value.
func readMembers(r *jsonwire.Reader, member func(name jsontext.Value) error) error {
	if err := r.Open('{'); err != nil {
		return err
	}
	for r.More() {
		name, err := r.Value()
		if err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
	}
	return r.Close()
}

// readPtr is encoding/json's pointer to a struct: null clears it, an object is read (by
// read) into the struct already there or a new one.
func readPtr[T any](r *jsonwire.Reader, dst **T, alloc func() *T, read func(*T) error) error {
	switch r.Peek() {
	case 'n':
		*dst = nil
		return r.Skip()
	case '{':
	default:
		return skipThen(r, errWantObject)
	}
	if *dst == nil {
		*dst = alloc()
	}
	return read(*dst)
}

// v1Hints are the previous span's list lengths, to size the next span's lists, and the
// chunks the payload's lists and endpoints are cut from (a few allocations a payload, not
// three a span).
type v1Hints struct {
	annotations, binary int
	annChunk            chunk[V1Annotation]
	binChunk            chunk[V1BinaryAnnotation]
	endpoints           chunk[V1Endpoint]
	raw                 rawArena
}

// rawArena keeps copies of the binary annotations' values: jsonwire.Reader.Bytes would
// copy the whole payload for them, where the values are a small part of it.
type rawArena struct{ buf []byte }

// copy returns a copy of v that later copies leave alone.
func (a *rawArena) copy(v []byte) []byte {
	if len(v) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(min(max(4096, 2*cap(a.buf)), 1<<20), len(v)))
	}
	start := len(a.buf)
	a.buf = append(a.buf, v...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// chunk hands out pieces of one bigger allocation; the pieces live as long as the longest
// lived of them, as a payload's spans do.
type chunk[T any] struct {
	free []T
	next int // the next allocation's size: growing, so little is left unused
}

// take is make([]T, 0, n); c may be nil.
func (c *chunk[T]) take(n int) []T {
	if c == nil || n > 64 {
		return make([]T, 0, n)
	}
	if n > len(c.free) {
		c.next = min(max(2*c.next, 4*n), 1024)
		c.free = make([]T, c.next)
	}
	s := c.free[:0:n]
	c.free = c.free[n:]
	return s
}

func readV1Span(r *jsonwire.Reader, s *V1Span, h *v1Hints) error {
	return readStruct(r, v1SpanFields, func(field int) error {
		switch field {
		case 0:
			return readString(r, &s.TraceID)
		case 1:
			return readString(r, &s.Name)
		case 2:
			return readString(r, &s.ID)
		case 3:
			return readV1ID(r, &s.ParentID)
		case 4:
			return readInt(r, &s.Timestamp)
		case 5:
			return readInt(r, &s.Duration)
		case 6:
			return readBool(r, &s.Debug)
		case 7:
			return readSlice(r, &s.Annotations, &h.annotations, &h.annChunk, func(a *V1Annotation) error {
				return readStruct(r, v1AnnotationFields, func(field int) error {
					switch field {
					case 0:
						return readInt(r, &a.Timestamp)
					case 1:
						return readString(r, &a.Value)
					}
					return readV1Endpoint(r, &a.Endpoint, &h.endpoints)
				})
			})
		}
		return readSlice(r, &s.BinaryAnnotations, &h.binary, &h.binChunk, func(a *V1BinaryAnnotation) error {
			return readStruct(r, v1BinaryAnnotationFields, func(field int) error {
				switch field {
				case 0:
					return readString(r, &a.Key)
				case 1:
					// json.RawMessage takes any value as written, null included.
					v, err := r.Value()
					if err == nil {
						a.Value = h.raw.copy(v)
					}
					return err
				case 2:
					return readString(r, &a.Type)
				}
				return readV1Endpoint(r, &a.Endpoint, &h.endpoints)
			})
		})
	})
}

// readV1ID is V1ID.UnmarshalJSON.
func readV1ID(r *jsonwire.Reader, dst *V1ID) error {
	v, err := r.Value()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case '"':
		*dst = V1ID(r.String(v))
	case 'n':
		*dst = ""
	default:
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("parentId %s is neither a hex string nor an unsigned integer", v)
		}
		*dst = V1ID(strconv.FormatUint(n, 16))
	}
	return nil
}

func readV1Endpoint(r *jsonwire.Reader, dst **V1Endpoint, c *chunk[V1Endpoint]) error {
	return readPtr(r, dst, func() *V1Endpoint { return &c.take(1)[:1][0] }, func(e *V1Endpoint) error {
		return readStruct(r, v1EndpointFields, func(field int) error {
			switch field {
			case 0:
				return readString(r, &e.ServiceName)
			case 1:
				return readString(r, &e.IPv4)
			case 2:
				return readString(r, &e.IPv6)
			}
			n := int64(e.Port)
			err := readInt(r, &n)
			e.Port = int(n)
			return err
		})
	})
}

// readSlice is encoding/json's slice: null clears it, and an array is decoded over the
// elements already there (a duplicate member merges into them). A new slice gets room for
// hint elements (cut from c, which may be nil); hint becomes the length read.
func readSlice[T any](r *jsonwire.Reader, dst *[]T, hint *int, c *chunk[T], elem func(*T) error) error {
	switch r.Peek() {
	case 'n':
		*dst = nil
		return r.Skip()
	case '[':
	default:
		return skipThen(r, errWantArray)
	}
	if err := r.Open('['); err != nil {
		return err
	}
	s := *dst
	if s == nil && *hint > 0 {
		s = c.take(*hint)
	}
	i := 0
	for ; r.More(); i++ {
		if i >= len(s) {
			var zero T
			s = append(s, zero)
		}
		if err := elem(&s[i]); err != nil {
			return err
		}
	}
	if err := r.Close(); err != nil {
		return err
	}
	if i == 0 {
		s = []T{}
	}
	*dst, *hint = s[:i], i
	return nil
}

// readInt is encoding/json's int64: a plain decimal number that fits; null keeps the
// value.
func readInt(r *jsonwire.Reader, dst *int64) error {
	v, err := r.Value()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
		return nil
	case '0':
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer: %s", v)
		}
		*dst = n
		return nil
	}
	return fmt.Errorf("want an integer: %s", v.Kind())
}

// checkV1IDs parses a span's ids as the conversion needs them.
func checkV1IDs(s *V1Span) (c v1Span, err error) {
	tid, err := model.TraceIDFromHex(s.TraceID)
	if err != nil || tid.Empty() {
		return c, fmt.Errorf("traceId %q is not a 64 or 128-bit hex id", s.TraceID)
	}
	c.traceHigh, c.traceLow = tid.High, tid.Low
	// parseHex64 is strconv.ParseUint(s, 16, 64) without its error values.
	var ok bool
	if c.id, ok = parseHex64([]byte(s.ID)); !ok || c.id == 0 {
		return c, fmt.Errorf("id %q is not a non-zero 64-bit hex id", s.ID)
	}
	if s.ParentID != "" {
		if c.parent, ok = parseHex64([]byte(s.ParentID)); !ok {
			return c, fmt.Errorf("parentId %q is not a 64-bit hex id", s.ParentID)
		}
	}
	return c, nil
}

func (e *V1Endpoint) service() string {
	if e == nil {
		return ""
	}
	return e.ServiceName
}

// V1JSONToTraces converts decoded v1 JSON spans of one payload. Every id, tag value and
// message is printed first into one buffer that becomes one string (spanmodel.TextBatch),
// which the spans' strings are cut from, and the spans come from one block: a few
// allocations a payload, not several a span.
func V1JSONToTraces(spans []V1Span, opt Options) []*spanv1.DatakitTrace {
	nBin := 0
	for i := range spans {
		nBin += len(spans[i].BinaryAnnotations)
	}
	values := make([]string, nBin)
	cs := make([]v1Span, len(spans))
	valid := make([]bool, len(spans))
	block := make([]spanv1.DatakitSpan, len(spans))
	tb := spanmodel.GetTextBatch()
	defer tb.Release()
	k := 0
	for i := range spans {
		s := &spans[i]
		for _, a := range s.BinaryAnnotations {
			start := len(tb.Buf)
			tb.Buf = appendJSONScalar(tb.Buf, a.Value)
			tb.Set(&values[k], start)
			k++
		}
		c, err := checkV1IDs(s)
		if err != nil {
			continue // DecodeV1JSON already refused the payload
		}
		cs[i] = c
		valid[i] = true
		v1IDs(tb, &block[i], &cs[i])
		if !opt.DelMessage {
			start := len(tb.Buf)
			if b, ok := appendV1Message(tb.Buf, s, false); ok {
				tb.Buf = b
				tb.Set(&block[i].Message, start)
			} else {
				tb.Buf = b[:start]
			}
		}
	}
	tb.Flush()

	out := make([]*spanv1.DatakitSpan, 0, len(spans))
	var keys v1Keys
	var anns []v1Annotation
	var bins []v1Binary
	k = 0
	for i := range spans {
		s := &spans[i]
		if !valid[i] {
			k += len(s.BinaryAnnotations)
			continue
		}
		c := &cs[i]
		c.name, c.timestamp, c.duration, c.unknownService = s.Name, s.Timestamp, s.Duration, UnknownServiceV1JSON
		anns = anns[:0]
		for _, a := range s.Annotations {
			anns = append(anns, v1Annotation{ts: a.Timestamp, service: a.Endpoint.service()})
		}
		bins = bins[:0]
		for _, a := range s.BinaryAnnotations {
			bins = append(bins, v1Binary{key: a.Key, value: values[k], service: a.Endpoint.service()})
			k++
		}
		c.annotations, c.binary = anns, bins
		v1ToSpan(&block[i], c, opt, &keys)
		out = append(out, &block[i])
	}
	return group(out)
}

// appendJSONScalar appends a binary annotation value as text: a string unquoted (as
// encoding/json unquotes it: raw was validated when decoded, so the only errors left are
// U+FFFD replacements), anything else as written.
func appendJSONScalar(b []byte, raw json.RawMessage) []byte {
	if len(raw) > 0 && raw[0] == '"' {
		if plainString(raw, &asciiText) {
			return append(b, raw[1:len(raw)-1]...)
		}
		b, _ = jsontext.AppendUnquote(b, raw)
		return b
	}
	return append(b, raw...)
}

// appendV1Message appends what json.Marshal(s) writes, without reflection; ok is false
// where json.Marshal fails (a binary annotation value that is not JSON). verbatim: the
// caller vouches that s's strings hold nothing json.Marshal escapes (printable ASCII
// without quotes, backslashes, <, > and &) and its values are compact JSON of such strings, so both are
// copied as they are.
func appendV1Message(b []byte, s *V1Span, verbatim bool) (_ []byte, ok bool) {
	b = append(b, `{"traceId":`...)
	b = appendV1String(b, s.TraceID, verbatim)
	b = append(b, `,"name":`...)
	b = appendV1String(b, s.Name, verbatim)
	b = append(b, `,"id":`...)
	b = appendV1String(b, s.ID, verbatim)
	if s.ParentID != "" {
		b = append(b, `,"parentId":`...)
		b = appendV1String(b, string(s.ParentID), verbatim)
	}
	if s.Timestamp != 0 {
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, s.Timestamp, 10)
	}
	if s.Duration != 0 {
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, s.Duration, 10)
	}
	if s.Debug {
		b = append(b, `,"debug":true`...)
	}
	if len(s.Annotations) > 0 {
		b = append(b, `,"annotations":[`...)
		for i := range s.Annotations {
			a := &s.Annotations[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"timestamp":`...)
			b = strconv.AppendInt(b, a.Timestamp, 10)
			b = append(b, `,"value":`...)
			b = appendV1String(b, a.Value, verbatim)
			b = appendV1Endpoint(b, a.Endpoint, verbatim)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(s.BinaryAnnotations) > 0 {
		b = append(b, `,"binaryAnnotations":[`...)
		for i := range s.BinaryAnnotations {
			a := &s.BinaryAnnotations[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"key":`...)
			b = appendV1String(b, a.Key, verbatim)
			b = append(b, `,"value":`...)
			switch {
			case verbatim && a.Value != nil:
				b = append(b, a.Value...)
			default:
				if b, ok = appendCompactJSON(b, a.Value); !ok {
					return b, false
				}
			}
			if a.Type != "" {
				b = append(b, `,"type":`...)
				b = appendV1String(b, a.Type, verbatim)
			}
			b = appendV1Endpoint(b, a.Endpoint, verbatim)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

func appendV1Endpoint(b []byte, e *V1Endpoint, verbatim bool) []byte {
	if e == nil {
		return b
	}
	b = append(b, `,"endpoint":{"serviceName":`...)
	b = appendV1String(b, e.ServiceName, verbatim)
	if e.IPv4 != "" {
		b = append(b, `,"ipv4":`...)
		b = appendV1String(b, e.IPv4, verbatim)
	}
	if e.IPv6 != "" {
		b = append(b, `,"ipv6":`...)
		b = appendV1String(b, e.IPv6, verbatim)
	}
	if e.Port != 0 {
		b = append(b, `,"port":`...)
		b = strconv.AppendInt(b, int64(e.Port), 10)
	}
	return append(b, '}')
}

// appendV1String is appendJSONString, or s quoted as it is when verbatim.
func appendV1String(b []byte, s string, verbatim bool) []byte {
	if !verbatim {
		return appendJSONString(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendCompactJSON is how json.Marshal writes a json.RawMessage: nil as null, otherwise
// compacted with <, >, &, U+2028 and U+2029 escaped; ok is false when raw is not JSON.
func appendCompactJSON(b []byte, raw json.RawMessage) (_ []byte, ok bool) {
	if raw == nil {
		return append(b, "null"...), true
	}
	if plainString(raw, &verbatimText) {
		return append(b, raw...), true
	}
	if !plainJSON(raw) && !jsontext.Value(raw).IsValid(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)) {
		return b, false
	}
	const hex = "0123456789abcdef"
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			b = append(b, '\\', 'u', '2', '0', '2', hex[raw[i+2]&0xF])
			i += 2
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
		default:
			b = append(b, c)
		}
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		}
	}
	return b, true
}

// plainJSON reports the values that are valid at a glance: a string with nothing to
// unescape, true, false and null.
func plainJSON(raw []byte) bool {
	switch string(raw) {
	case "true", "false", "null":
		return true
	}
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c < ' ' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// The bytes a string can hold as they are: asciiText when it is unquoted (no escape, no
// byte that could be invalid UTF-8), verbatimText when json.Marshal writes it back as a
// json.RawMessage (nothing it escapes: <, >, & and the first byte of U+2028 and U+2029).
var asciiText, verbatimText = func() (a, v [256]bool) {
	for c := ' '; c < 256; c++ {
		a[c] = c < 0x80 && c != '"' && c != '\\'
		v[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c != 0xE2
	}
	return a, v
}()

// plainString reports raw is a quoted string of bytes that ok allows.
func plainString(raw []byte, ok *[256]bool) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if !ok[c] {
			return false
		}
	}
	return true
}
