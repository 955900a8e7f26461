package translator

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strconv"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// ParseV1JSON is V1JSONToTraces(DecodeV1JSON(data)). A payload in the form most tracers
// write (v1Scan) is read without jsontext, each span into one reused V1Span and converted
// (ids, tags and message) before the next is read; any other is decoded and converted as
// DecodeV1JSON and V1JSONToTraces do. checkV1JSON (and its fuzz target) hold the two to
// each other and to encoding/json.
func ParseV1JSON(data []byte, opt Options) ([]*spanv1.DatakitTrace, error) {
	p := v1JSONParser{opt: opt, tb: spanmodel.GetTextBatch()}
	defer p.tb.Release()
	err, ok := p.plain(data)
	if !ok {
		spans, err := DecodeV1JSON(data)
		if err != nil {
			return nil, err
		}
		return V1JSONToTraces(spans, opt), nil
	}
	if err != nil {
		return nil, fmt.Errorf("invalid zipkin v1 JSON: %w", err)
	}
	p.tb.Flush()
	return group(p.out), nil
}

// v1JSONParser converts the spans of one payload as they are read.
type v1JSONParser struct {
	opt       Options
	span      V1Span
	anns      []V1Annotation       // the reused backing of span.Annotations
	bins      []V1BinaryAnnotation // and of span.BinaryAnnotations
	eps       []*V1Endpoint        // the payload's endpoints so far, shared by equal ones
	endpoints chunk[V1Endpoint]
	tb        *spanmodel.TextBatch
	block     []spanv1.DatakitSpan
	out       []*spanv1.DatakitSpan
	keys      v1Keys
	// more is how many more spans the payload seems to hold (0: unknown), to size the
	// next block of spans.
	more  int
	cAnns []v1Annotation
	cBins []v1Binary
}

// add converts s, whose ids are c's, as V1JSONToTraces does; s's binary annotations carry
// their values' text. verbatim: s's strings and values are written in the message as
// they are (see appendV1Message).
func (p *v1JSONParser) add(s *V1Span, c *v1Span, verbatim bool) {
	if len(p.block) == cap(p.block) {
		n := min(max(16, 2*cap(p.block)), 256)
		if p.more > 0 {
			n = min(p.more, 1024)
		}
		p.block = make([]spanv1.DatakitSpan, 0, n)
		p.out = slices.Grow(p.out, n)
	}
	p.block = p.block[:len(p.block)+1]
	ds := &p.block[len(p.block)-1]
	tb := p.tb
	v1IDs(tb, ds, c)
	if !p.opt.DelMessage {
		start := len(tb.Buf)
		if b, ok := appendV1Message(tb.Buf, s, verbatim); ok {
			tb.Buf = b
			tb.Set(&ds.Message, start)
		} else {
			tb.Buf = b[:start]
		}
	}
	c.name, c.timestamp, c.duration, c.unknownService = s.Name, s.Timestamp, s.Duration, UnknownServiceV1JSON
	p.cAnns = p.cAnns[:0]
	for i := range s.Annotations {
		a := &s.Annotations[i]
		p.cAnns = append(p.cAnns, v1Annotation{ts: a.Timestamp, service: a.Endpoint.service()})
	}
	p.cBins = p.cBins[:0]
	for i := range s.BinaryAnnotations {
		a := &s.BinaryAnnotations[i]
		p.cBins = append(p.cBins, v1Binary{key: a.Key, value: a.text, service: a.Endpoint.service()})
	}
	c.annotations, c.binary = p.cAnns, p.cBins
	v1ToSpan(ds, c, p.opt, &p.keys)
	p.out = append(p.out, ds)
}

// v1Scan reads a payload in the one form most tracers write: every name exact and once,
// strings of printable ASCII without escapes, integers where readV1Span wants one,
// annotations and endpoints as objects. It checks the JSON syntax of what it takes (an
// input it takes is valid JSON and decodes to what it reads); anything else makes it
// report false, and the payload is read with jsontext instead.
type v1Scan struct {
	v    []byte
	text string // v as a string, which the spans' strings are cut from
	i    int
	// html: a string holds <, > or &, which json.Marshal escapes.
	html bool
}

func (c *v1Scan) space() {
	for c.i < len(c.v) {
		switch c.v[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// peek is the next byte after white space (0 at the end).
func (c *v1Scan) peek() byte {
	if c.i < len(c.v) && c.v[c.i] > ' ' {
		return c.v[c.i]
	}
	c.space()
	if c.i >= len(c.v) {
		return 0
	}
	return c.v[c.i]
}

// next reads what follows a member or element: a comma (more) or the closing end.
func (c *v1Scan) next(end byte) (more, ok bool) {
	switch c.peek() {
	case ',':
		c.i++
		return true, true
	case end:
		c.i++
		return false, true
	}
	return false, false
}

// open reads the '{' or '[' that must come next; empty when its end follows at once.
func (c *v1Scan) open(b, end byte) (empty, ok bool) {
	if c.peek() != b {
		return false, false
	}
	c.i++
	if c.peek() == end {
		c.i++
		return true, true
	}
	return false, true
}

// quoted reads a string of printable ASCII without escapes and gives its contents'
// offsets.
func (c *v1Scan) quoted() (s, e int, ok bool) {
	if c.peek() != '"' {
		return 0, 0, false
	}
	v := c.v
	for j := c.i + 1; ; j++ {
		for j < len(v) && jsonVerbatimByte[v[j]] {
			j++
		}
		if j >= len(v) {
			return 0, 0, false
		}
		switch v[j] {
		case '"':
			s, e, c.i = c.i+1, j, j+1
			return s, e, true
		case '<', '>', '&':
			c.html = true
		default:
			return 0, 0, false
		}
	}
}

// name reads a member's name and the colon after it. want is the name (written
// `"name":`) likely to come next, in the order json.Marshal writes them: taken without a
// scan when it is there.
func (c *v1Scan) name(want string) (string, bool) {
	if want != "" && c.peek() == '"' && len(c.v)-c.i >= len(want) && string(c.v[c.i:c.i+len(want)]) == want {
		c.i += len(want)
		return want[1 : len(want)-2], true
	}
	s, e, ok := c.quoted()
	if !ok || c.peek() != ':' {
		return "", false
	}
	c.i++
	return c.text[s:e], true
}

// wanted is the name after the one whose bit is f in names (f = 0: the first).
func wanted(names []string, f uint) string {
	n := bits.Len(f)
	if n < len(names) {
		return names[n]
	}
	return ""
}

// The members' names as name wants them, in json.Marshal's order (the bits of seen).
var (
	v1SpanNames       = []string{`"traceId":`, `"name":`, `"id":`, `"parentId":`, `"timestamp":`, `"duration":`, `"debug":`, `"annotations":`, `"binaryAnnotations":`}
	v1AnnotationNames = []string{`"timestamp":`, `"value":`, `"endpoint":`}
	v1BinaryNames     = []string{`"key":`, `"value":`, `"type":`, `"endpoint":`}
	v1EndpointNames   = []string{`"serviceName":`, `"ipv4":`, `"ipv6":`, `"port":`}
)

// literal reads lit (true, false or null) if it comes next.
func (c *v1Scan) literal(lit string) bool {
	if c.peek() != lit[0] || len(c.v)-c.i < len(lit) || string(c.v[c.i:c.i+len(lit)]) != lit {
		return false
	}
	c.i += len(lit)
	return true
}

// str reads a plain string into dst as a string of the payload; null leaves dst alone.
func (c *v1Scan) str(dst *string) bool {
	if c.peek() == 'n' {
		return c.literal("null")
	}
	s, e, ok := c.quoted()
	if ok {
		*dst = c.text[s:e]
	}
	return ok
}

// int reads what readInt takes, in its usual form: an integer of at most 18 digits, or
// null, which leaves dst alone.
func (c *v1Scan) int(dst *int64) bool {
	if c.peek() == 'n' {
		return c.literal("null")
	}
	v, j := c.v, c.i
	neg := j < len(v) && v[j] == '-'
	if neg {
		j++
	}
	d := j
	var n int64
	for ; j < len(v) && '0' <= v[j] && v[j] <= '9'; j++ {
		n = n*10 + int64(v[j]-'0')
	}
	switch {
	case j == d || j-d > 18 || (v[d] == '0' && j-d > 1):
		return false
	case j < len(v) && (v[j] == '.' || v[j] == 'e' || v[j] == 'E'):
		return false
	}
	if neg {
		n = -n
	}
	*dst, c.i = n, j
	return true
}

// parentID reads what readV1ID takes, in its usual forms: a plain string, null or an
// unsigned integer of at most 19 digits.
func (c *v1Scan) parentID(dst *V1ID) bool {
	if b := c.peek(); b == 'n' || b == '"' {
		return c.str((*string)(dst))
	}
	v, j := c.v, c.i
	var n uint64
	for ; j < len(v) && '0' <= v[j] && v[j] <= '9'; j++ {
		n = n*10 + uint64(v[j]-'0')
	}
	d := j - c.i
	switch {
	case d == 0 || d > 19 || (v[c.i] == '0' && d > 1):
		return false
	case j < len(v) && (v[j] == '.' || v[j] == 'e' || v[j] == 'E'):
		return false
	}
	*dst, c.i = V1ID(strconv.FormatUint(n, 16)), j
	return true
}

// number reads a JSON number (RFC 8259's grammar) and gives its end.
func (c *v1Scan) number() (int, bool) {
	v, j := c.v, c.i
	digits := func() bool {
		d := j
		for j < len(v) && '0' <= v[j] && v[j] <= '9' {
			j++
		}
		return j > d
	}
	if j < len(v) && v[j] == '-' {
		j++
	}
	d := j
	if !digits() || (v[d] == '0' && j-d > 1) {
		return 0, false
	}
	if j < len(v) && v[j] == '.' {
		j++
		if !digits() {
			return 0, false
		}
	}
	if j < len(v) && (v[j] == 'e' || v[j] == 'E') {
		j++
		if j < len(v) && (v[j] == '+' || v[j] == '-') {
			j++
		}
		if !digits() {
			return 0, false
		}
	}
	return j, true
}

// scalar reads a binary annotation's value: a plain string, a number, true, false or
// null, as written (raw) and as appendJSONScalar reads it (text).
func (c *v1Scan) scalar(raw *json.RawMessage, text *string) bool {
	b := c.peek()
	start := c.i
	switch b {
	case '"':
		s, e, ok := c.quoted()
		if !ok {
			return false
		}
		*raw, *text = c.v[start:c.i:c.i], c.text[s:e]
		return true
	case 't', 'f', 'n':
		lit := "true"
		if b == 'f' {
			lit = "false"
		} else if b == 'n' {
			lit = "null"
		}
		if !c.literal(lit) {
			return false
		}
	default:
		end, ok := c.number()
		if !ok {
			return false
		}
		c.i = end
	}
	*raw, *text = c.v[start:c.i:c.i], c.text[start:c.i]
	return true
}

// plain reads the payload, converting each span; ok is false when it is not all in
// v1Scan's form (nothing it converted is to be kept then).
func (p *v1JSONParser) plain(data []byte) (err error, ok bool) {
	c := v1Scan{v: data, text: string(data)}
	empty, ok := c.open('[', ']')
	if !ok {
		return nil, false
	}
	var idErr error
	for i := 0; !empty; i++ {
		s := &p.span
		*s = V1Span{}
		c.html = false
		if !p.plainSpan(&c, s) {
			return nil, false
		}
		more, ok := c.next(']')
		if !ok {
			return nil, false
		}
		empty = !more
		if idErr != nil {
			continue
		}
		// This span and as many more as the bytes left hold at the mean size so far.
		p.more = 1 + (len(data)-c.i)*(i+1)/max(c.i, 1)
		ids, err := checkV1IDs(s)
		if err != nil {
			idErr = fmt.Errorf("span[%d]: %w", i, err)
			continue
		}
		p.add(s, &ids, !c.html)
	}
	// Only whitespace may follow the array (peek's 0 would also be a NUL byte).
	if c.space(); c.i != len(c.v) {
		return nil, false
	}
	return idErr, true
}

// object reads an object whose members each come once: member reads the value of the
// one called name and gives its bit in names (0 for a name it does not know).
func (c *v1Scan) object(names []string, member func(name string) (f uint, ok bool)) bool {
	empty, ok := c.open('{', '}')
	if !ok {
		return false
	}
	for seen, f := uint(0), uint(0); !empty; {
		name, ok := c.name(wanted(names, f))
		if !ok {
			return false
		}
		if f, ok = member(name); f == 0 || !ok || seen&f != 0 {
			return false
		}
		seen |= f
		more, ok := c.next('}')
		if !ok {
			return false
		}
		empty = !more
	}
	return true
}

// plainList reads null (nil) or an array of objects, each read by elem, into *dst: the
// elements come from *reuse, which keeps the larger backing array.
func plainList[T any](c *v1Scan, dst, reuse *[]T, elem func(*T) bool) bool {
	if c.peek() == 'n' {
		*dst = nil
		return c.literal("null")
	}
	empty, ok := c.open('[', ']')
	if !ok {
		return false
	}
	list := (*reuse)[:0]
	for !empty {
		var zero T
		list = append(list, zero)
		if !elem(&list[len(list)-1]) {
			return false
		}
		more, ok := c.next(']')
		if !ok {
			return false
		}
		empty = !more
	}
	*dst = list
	if cap(list) > cap(*reuse) {
		*reuse = list[:0]
	}
	return true
}

// plainSpan reads a span object into the zero s.
func (p *v1JSONParser) plainSpan(c *v1Scan, s *V1Span) bool {
	return c.object(v1SpanNames, func(name string) (uint, bool) {
		switch name {
		case "traceId":
			return 1 << 0, c.str(&s.TraceID)
		case "name":
			return 1 << 1, c.str(&s.Name)
		case "id":
			return 1 << 2, c.str(&s.ID)
		case "parentId":
			return 1 << 3, c.parentID(&s.ParentID)
		case "timestamp":
			return 1 << 4, c.int(&s.Timestamp)
		case "duration":
			return 1 << 5, c.int(&s.Duration)
		case "debug":
			switch c.peek() {
			case 't':
				s.Debug = true
				return 1 << 6, c.literal("true")
			case 'f':
				return 1 << 6, c.literal("false")
			}
			return 1 << 6, c.literal("null")
		case "annotations":
			return 1 << 7, plainList(c, &s.Annotations, &p.anns, func(a *V1Annotation) bool {
				return c.object(v1AnnotationNames, func(name string) (uint, bool) {
					switch name {
					case "timestamp":
						return 1 << 0, c.int(&a.Timestamp)
					case "value":
						return 1 << 1, c.str(&a.Value)
					case "endpoint":
						return 1 << 2, p.plainEndpoint(c, &a.Endpoint)
					}
					return 0, false
				})
			})
		case "binaryAnnotations":
			return 1 << 8, plainList(c, &s.BinaryAnnotations, &p.bins, func(a *V1BinaryAnnotation) bool {
				return c.object(v1BinaryNames, func(name string) (uint, bool) {
					switch name {
					case "key":
						return 1 << 0, c.str(&a.Key)
					case "value":
						return 1 << 1, c.scalar(&a.Value, &a.text)
					case "type":
						return 1 << 2, c.str(&a.Type)
					case "endpoint":
						return 1 << 3, p.plainEndpoint(c, &a.Endpoint)
					}
					return 0, false
				})
			})
		}
		return 0, false
	})
}

// plainEndpoint reads an endpoint object (null: none). Equal endpoints share one
// V1Endpoint, which is never written again: v1 JSON repeats a span's endpoint in each of
// its annotations.
func (p *v1JSONParser) plainEndpoint(c *v1Scan, dst **V1Endpoint) bool {
	if c.peek() == 'n' {
		*dst = nil
		return c.literal("null")
	}
	var e V1Endpoint
	ok := c.object(v1EndpointNames, func(name string) (uint, bool) {
		switch name {
		case "serviceName":
			return 1 << 0, c.str(&e.ServiceName)
		case "ipv4":
			return 1 << 1, c.str(&e.IPv4)
		case "ipv6":
			return 1 << 2, c.str(&e.IPv6)
		case "port":
			n := int64(0)
			ok := c.int(&n)
			e.Port = int(n)
			return 1 << 3, ok
		}
		return 0, false
	})
	if !ok {
		return false
	}
	for i := len(p.eps) - 1; i >= max(0, len(p.eps)-8); i-- {
		if *p.eps[i] == e {
			*dst = p.eps[i]
			return true
		}
	}
	ep := &p.endpoints.take(1)[:1][0]
	*ep = e
	p.eps = append(p.eps, ep)
	*dst = ep
	return true
}
