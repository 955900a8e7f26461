package translator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/openzipkin/zipkin-go/model"

	"github.com/tracekit/tracekit/libs/jsonwire"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// DecodeV2JSON decodes a v2 JSON array of spans. Ids may be upper- or lower-case hex; trace
// ids may be 64 or 128 bits; parentId may be absent.
//
// It gives what json.Unmarshal into []*model.SpanModel gives (zipkin-go's UnmarshalJSON
// methods, encoding/json's case-insensitive names, last duplicate wins, null leaves a
// value alone, invalid UTF-8 becomes U+FFFD), reading tokens with jsontext instead of
// reflection, which was most of the cost. FuzzV2JSONMatchesEncodingJSON holds the two
// together. One deliberate difference: an annotation written as null is an error here,
// where zipkin-go's Annotation.UnmarshalJSON dereferences nil.
func DecodeV2JSON(data []byte) ([]*model.SpanModel, error) {
	r := jsonwire.NewReader(data, jsonwire.Lenient)
	defer r.Release()
	spans, err := readV2Spans(r)
	if err != nil {
		return nil, fmt.Errorf("invalid zipkin v2 JSON: %w", err)
	}
	return spans, nil
}

var (
	errNotArray      = errors.New("want an array of spans")
	errNullSpan      = errors.New("is null")
	errNullAnnot     = errors.New("annotation is null")
	errWantObject    = jsonwire.ErrWantObject
	errWantArray     = jsonwire.ErrWantArray
	errWantString    = jsonwire.ErrWantString
	errWantBool      = jsonwire.ErrWantBool
	errWantUnsigned  = errors.New("want an unsigned integer")
	errValueOverflow = errors.New("number out of range")
)

func readV2Spans(r *jsonwire.Reader) ([]*model.SpanModel, error) {
	var spans []*model.SpanModel
	var st v2Storage
	err := eachV2Span(r, func() *model.SpanModel { return new(model.SpanModel) }, &st, func(s *model.SpanModel) {
		spans = append(spans, s)
	})
	return spans, err
}

// eachV2Span reads a payload's array of spans, each into the span next returns, and calls
// use with it.
func eachV2Span(r *jsonwire.Reader, next func() *model.SpanModel, st *v2Storage, use func(*model.SpanModel)) error {
	switch r.Peek() {
	case 'n':
		if err := r.Skip(); err != nil {
			return err
		}
		return r.End()
	case '[':
	default:
		return skipThen(r, errNotArray)
	}
	if err := r.Open('['); err != nil {
		return err
	}
	for i := 0; r.More(); i++ {
		err := errNullSpan
		if r.Peek() != 'n' {
			s := next()
			read := readV2Span
			if st.reuse && r.Peek() == '{' {
				read = readV2SpanWhole
			}
			if err = read(r, s, st); err == nil {
				use(s)
			}
		}
		if err != nil {
			return fmt.Errorf("span[%d]: %w", i, err)
		}
	}
	if err := r.Close(); err != nil {
		return err
	}
	return r.End()
}

// v2Storage is where a span's parts come from: new ones for spans that are kept, the same
// ones over again (reuse) for spans converted as soon as read.
type v2Storage struct {
	reuse         bool
	tagHint       int // the previous span's tag count
	tags          map[string]string
	local, remote model.Endpoint
	parent        model.ID
	annotations   []model.Annotation
	// pairs are the span's tags when reuse is set, in place of its tag map: sorted by key,
	// the last of duplicates kept (as the map would hold them), for the converter to use
	// as they are.
	pairs []tagPair
}

func (st *v2Storage) tagMap() map[string]string {
	if !st.reuse {
		return make(map[string]string, st.tagHint)
	}
	if st.tags == nil {
		st.tags = make(map[string]string, st.tagHint)
	}
	clear(st.tags)
	return st.tags
}

func (st *v2Storage) endpoint(remote bool) *model.Endpoint {
	if !st.reuse {
		return &model.Endpoint{}
	}
	e := &st.local
	if remote {
		e = &st.remote
	}
	*e = model.Endpoint{}
	return e
}

func (st *v2Storage) parentID() *model.ID {
	if !st.reuse {
		return new(model.ID)
	}
	st.parent = 0
	return &st.parent
}

// The members of SpanModel.UnmarshalJSON's struct, in encoding/json's field order.
const (
	v2Timestamp = iota
	v2Duration
	v2TraceID
	v2ID
	v2ParentID
	v2Debug
	v2Name
	v2Kind
	v2Shared
	v2LocalEndpoint
	v2RemoteEndpoint
	v2Annotations
	v2Tags
)

var (
	v2SpanFields = jsonwire.NewFields("timestamp", "duration", "traceId", "id", "parentId", "debug",
		"name", "kind", "shared", "localEndpoint", "remoteEndpoint", "annotations", "tags")
	// model.Endpoint has no tags: its Go field names.
	v2EndpointFields = jsonwire.NewFields("ServiceName", "IPv4", "IPv6", "Port").WithSpellings("serviceName", "ipv4", "ipv6", "port")
	// Annotation.UnmarshalJSON's struct: its own timestamp, then the embedded Annotation's
	// Timestamp (time.Time) and Value.
	v2AnnotationFields = jsonwire.NewFields("timestamp", "Timestamp", "Value")
)

// readV2Span is SpanModel.UnmarshalJSON into s, which must be zero.
func readV2Span(r *jsonwire.Reader, s *model.SpanModel, st *v2Storage) error {
	if r.Peek() != '{' {
		return skipThen(r, errWantObject)
	}
	if err := r.Open('{'); err != nil {
		return err
	}
	var ts, dur uint64
	st.pairs = st.pairs[:0]
	for r.More() {
		name, err := r.Value()
		if err != nil {
			return err
		}
		field := v2SpanFields.Lookup(r.Name(name))
		switch field {
		case v2Timestamp:
			err = readUint(r, &ts, 64)
		case v2Duration:
			err = readUint(r, &dur, 64)
		case v2TraceID, v2ID, v2ParentID:
			err = readID(r, s, field, st)
		case v2Debug:
			err = readBool(r, &s.Debug)
		case v2Name:
			err = readString(r, &s.Name)
		case v2Kind:
			k := string(s.Kind)
			err = readString(r, &k)
			s.Kind = model.Kind(k)
		case v2Shared:
			err = readBool(r, &s.Shared)
		case v2LocalEndpoint:
			err = readEndpoint(r, &s.LocalEndpoint, st, false)
		case v2RemoteEndpoint:
			err = readEndpoint(r, &s.RemoteEndpoint, st, true)
		case v2Annotations:
			err = readAnnotations(r, &s.Annotations, st)
		case v2Tags:
			err = readTags(r, &s.Tags, st)
		default:
			err = r.Skip()
		}
		if err != nil {
			return err
		}
	}
	if err := r.Close(); err != nil {
		return err
	}
	return finishV2Span(s, ts, dur, st)
}

// finishV2Span is the end of SpanModel.UnmarshalJSON, once the members are read.
func finishV2Span(s *model.SpanModel, ts, dur uint64, st *v2Storage) error {
	if s.ID < 1 {
		return model.ErrValidIDRequired
	}
	if ts > 0 {
		s.Timestamp = time.Unix(0, int64(ts)*1e3)
	}
	s.Duration = time.Duration(dur*1e3) * time.Nanosecond
	if s.LocalEndpoint.Empty() {
		s.LocalEndpoint = nil
	}
	if s.RemoteEndpoint.Empty() {
		s.RemoteEndpoint = nil
	}
	if s.TraceID.Empty() {
		return model.ErrValidTraceIDRequired
	}
	st.tagHint = len(s.Tags)
	if st.reuse {
		st.pairs = sortTagPairs(st.pairs)
	}
	return nil
}

// sortTagPairs sorts tags by key (as encoding/json writes a map), keeping only the last
// of equal keys (as a map read from them holds).
func sortTagPairs(tags []tagPair) []tagPair {
	// Often already in order (encoding/json writes a map so): nothing to move.
	sorted := true
	for i := 1; i < len(tags); i++ {
		if tags[i-1].key >= tags[i].key {
			sorted = false
			break
		}
	}
	if sorted {
		return tags
	}
	if len(tags) <= 32 {
		// Insertion sort, stable: a span has a few tags.
		for i := 1; i < len(tags); i++ {
			t, j := tags[i], i
			for ; j > 0 && tags[j-1].key > t.key; j-- {
				tags[j] = tags[j-1]
			}
			tags[j] = t
		}
	} else {
		slices.SortStableFunc(tags, func(a, b tagPair) int { return strings.Compare(a.key, b.key) })
	}
	out := tags[:0]
	for i, t := range tags {
		if i+1 < len(tags) && tags[i+1].key == t.key {
			continue
		}
		out = append(out, t)
	}
	return out
}

// skipThen reads the value that is not what was wanted (so that a syntax error in it wins,
// as encoding/json checks the whole input first) and returns err.
func skipThen(r *jsonwire.Reader, err error) error {
	if serr := r.Skip(); serr != nil {
		return serr
	}
	return err
}

// readID is TraceID.UnmarshalJSON / ID.UnmarshalJSON on the raw value, whatever its kind:
// the quotes (or whatever the first and last bytes are) are cut off and the rest parsed
// as hex; a value shorter than 3 bytes leaves an ID alone. null clears parentId only.
func readID(r *jsonwire.Reader, s *model.SpanModel, field int, st *v2Storage) error {
	if field == v2ParentID && r.Peek() == 'n' {
		s.ParentID = nil
		return r.Skip()
	}
	v, err := r.Value()
	if err != nil {
		return err
	}
	return setV2ID(s, field, v, st)
}

// setV2ID is readID of the raw value v.
func setV2ID(s *model.SpanModel, field int, v []byte, st *v2Storage) error {
	if field == v2TraceID {
		if len(v) < 3 {
			return model.ErrValidTraceIDRequired
		}
		h := v[1 : len(v)-1]
		var t model.TraceID
		var ok bool
		if len(h) > 16 {
			var hok bool
			t.High, hok = parseHex64(h[:len(h)-16])
			t.Low, ok = parseHex64(h[len(h)-16:])
			ok = ok && hok
		} else {
			t.Low, ok = parseHex64(h)
		}
		if !ok {
			return fmt.Errorf("traceId %s is not hex", v)
		}
		s.TraceID = t
		return nil
	}
	dst := &s.ID
	if field == v2ParentID {
		if s.ParentID == nil {
			s.ParentID = st.parentID()
		}
		dst = s.ParentID
	}
	if len(v) < 3 {
		return nil
	}
	id, ok := parseHex64(v[1 : len(v)-1])
	*dst = model.ID(id)
	if !ok {
		return fmt.Errorf("id %s is not a 64-bit hex id", v)
	}
	return nil
}

// parseHex64 is strconv.ParseUint(string(b), 16, 64) without the string.
func parseHex64(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 && !leadingZeros(b[:len(b)-16]) {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		d := hexValue[c]
		if d > 0xf {
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}

// leadingZeros reports whether b is all '0' digits (which do not overflow a uint64).
func leadingZeros(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}

// hexValue is each byte's hex digit value, 0xff for a byte that is none.
var hexValue = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			t[c] = byte(c - 'A' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()

// readUint is encoding/json's unsigned integer: a plain decimal number that fits; null
// keeps the value.
func readUint(r *jsonwire.Reader, dst *uint64, bits int) error {
	v, err := r.Value()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
		return nil
	case '0':
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s", errWantUnsigned, v)
		}
		if bits < 64 && n>>bits != 0 {
			return fmt.Errorf("%w: %s", errValueOverflow, v)
		}
		*dst = n
		return nil
	}
	return errWantUnsigned
}

func readBool(r *jsonwire.Reader, dst *bool) error {
	v, err := r.Value()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
	case 't', 'f':
		*dst = v.Kind() == 't'
	default:
		return errWantBool
	}
	return nil
}

func readString(r *jsonwire.Reader, dst *string) error {
	v, err := r.Value()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
	case '"':
		*dst = r.String(v)
	default:
		return errWantString
	}
	return nil
}

// readEndpoint decodes into the endpoint already there, as encoding/json does with a
// pointer; null clears it.
func readEndpoint(r *jsonwire.Reader, dst **model.Endpoint, st *v2Storage, remote bool) error {
	return readPtr(r, dst, func() *model.Endpoint { return st.endpoint(remote) }, func(e *model.Endpoint) error {
		return readStruct(r, v2EndpointFields, func(field int) error {
			switch field {
			case 0:
				return readString(r, &e.ServiceName)
			case 1:
				return readIP(r, &e.IPv4)
			case 2:
				return readIP(r, &e.IPv6)
			}
			port := uint64(e.Port)
			err := readUint(r, &port, 16)
			e.Port = uint16(port)
			return err
		})
	})
}

// readIP is net.IP's UnmarshalText on a string; null clears it.
func readIP(r *jsonwire.Reader, dst *net.IP) error {
	v, err := r.Value()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
		*dst = nil
		return nil
	case '"':
		return dst.UnmarshalText(r.Name(v))
	}
	return errWantString
}

// readAnnotations decodes over the elements already there, as encoding/json does with a
// slice.
func readAnnotations(r *jsonwire.Reader, dst *[]model.Annotation, st *v2Storage) error {
	if *dst == nil && st.reuse {
		*dst = st.annotations[:0]
	}
	var hint int
	err := readSlice(r, dst, &hint, nil, func(a *model.Annotation) error { return readAnnotation(r, a) })
	if st.reuse && cap(*dst) > cap(st.annotations) {
		st.annotations = (*dst)[:0]
	}
	return err
}

// readAnnotation is Annotation.UnmarshalJSON.
func readAnnotation(r *jsonwire.Reader, a *model.Annotation) error {
	if r.Peek() == 'n' {
		return skipThen(r, errNullAnnot)
	}
	var ts uint64
	err := readStruct(r, v2AnnotationFields, func(field int) error {
		switch field {
		case 0:
			return readUint(r, &ts, 64)
		case 1:
			// The embedded Annotation's time.Time: only its errors matter, the
			// timestamp above overwrites it.
			v, err := r.Value()
			if err != nil {
				return err
			}
			return a.Timestamp.UnmarshalJSON(v)
		}
		return readString(r, &a.Value)
	})
	if err != nil {
		return err
	}
	if ts < 1 {
		return model.ErrValidTimestampRequired
	}
	a.Timestamp = time.Unix(0, int64(ts)*1e3)
	return nil
}

// readTags decodes into the map already there; a null value is "".
func readTags(r *jsonwire.Reader, dst *map[string]string, st *v2Storage) error {
	switch r.Peek() {
	case 'n':
		*dst = nil
		st.pairs = st.pairs[:0]
		return r.Skip()
	case '{':
	default:
		return skipThen(r, errWantObject)
	}
	if st.reuse {
		v, err := r.Value()
		if err != nil {
			return err
		}
		st.pairs, _, err = appendTagObject(r, v, r.Slice(v, 0, len(v)), 0, st.pairs)
		return err
	}
	if *dst == nil {
		*dst = st.tagMap()
	}
	m := *dst
	return readMembers(r, func(name jsontext.Value) error {
		key := r.String(name)
		var val string
		err := readString(r, &val)
		m[key] = val
		return err
	})
}

// appendTagObject appends the members of the tags object at v[i] (v a value the tokenizer
// read, and so validated, whole), as readTags' map would take them: walking its bytes
// costs a fraction of a token read per name and value. end is where the object ends. A
// value that is not a string (or null: "") is errWantString, as readString gives.
func appendTagObject(r *jsonwire.Reader, v jsontext.Value, vs string, i int, pairs []tagPair) (_ []tagPair, end int, err error) {
	i = skipSpace(v, i+1)
	if v[i] == '}' {
		return pairs, i + 1, nil
	}
	for {
		j, simple := stringEnd(v, i)
		key := tagString(r, v, vs, i, j, simple)
		i = skipSpace(v, j)
		i = skipSpace(v, i+1) // the colon
		val := ""
		switch v[i] {
		case '"':
			j, simple = stringEnd(v, i)
			val = tagString(r, v, vs, i, j, simple)
			i = j
		case 'n':
			i += len("null")
		default:
			return append(pairs, tagPair{key, val}), 0, errWantString
		}
		pairs = append(pairs, tagPair{key, val})
		i = skipSpace(v, i)
		if v[i] == '}' {
			return pairs, i + 1, nil
		}
		i = skipSpace(v, i+1) // the comma
	}
}

// skipSpace is the index of the first byte from i on that is not JSON whitespace.
func skipSpace(v []byte, i int) int {
	// Compact JSON has none: one compare for a byte that is not.
	for i < len(v) && v[i] <= ' ' && (v[i] == ' ' || v[i] == '\n' || v[i] == '\r' || v[i] == '\t') {
		i++
	}
	return i
}

// stringEnd is the end of the valid quoted string starting at v[i]; simple: it is ASCII
// without escapes.
func stringEnd(v []byte, i int) (end int, simple bool) {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	simple = true
	j := i + 1
	for j+8 <= len(v) {
		// Eight bytes at a time: the lowest flagged byte is the first quote, backslash or
		// non-ASCII byte (the zero-byte test flags no byte below the first true one).
		x := binary.LittleEndian.Uint64(v[j:])
		q, bs := x^('"'*lo), x^('\\'*lo)
		m := (x | (q-lo)&^q | (bs-lo)&^bs) & hi
		if m == 0 {
			j += 8
			continue
		}
		j += bits.TrailingZeros64(m) / 8
		switch v[j] {
		case '"':
			return j + 1, simple
		case '\\':
			j += 2
		default:
			j++
		}
		simple = false
	}
	for ; ; j++ {
		switch c := v[j]; {
		case c == '"':
			return j + 1, simple
		case c == '\\':
			simple = false
			j++
		case c >= utf8.RuneSelf:
			simple = false
		}
	}
}

// tagString is the string v[i:j]; vs is v as a slice of the payload copy.
func tagString(r *jsonwire.Reader, v jsontext.Value, vs string, i, j int, simple bool) string {
	if simple {
		return vs[i+1 : j-1]
	}
	return r.StringWithin(v, i, j)
}

// V2JSONToTraces is V2ToTraces(DecodeV2JSON(data)) without keeping the decoded spans: each
// is converted as soon as it is read, and the next is read into the same model (its tag
// map and endpoints included), which spares the allocations of a model per span.
func V2JSONToTraces(data []byte, opt Options) ([]*spanv1.DatakitTrace, error) {
	r := jsonwire.NewReader(data, jsonwire.Lenient)
	defer r.Release()
	c := newV2Converter(opt, 0)
	st := v2Storage{reuse: true, pairs: c.scr.pairs}
	defer func() {
		c.scr.pairs = st.pairs
		c.release()
	}()
	var m model.SpanModel
	err := eachV2Span(r, func() *model.SpanModel {
		m = model.SpanModel{}
		return &m
	}, &st, func(s *model.SpanModel) {
		if len(c.out) == 0 {
			// The spans of a payload are alike: the first one's size says how many
			// there are, to allocate their slab once.
			c.reserve(len(data) / max(1, int(r.InputOffset())))
		}
		c.addTags(s, st.pairs)
	})
	if err != nil {
		return nil, fmt.Errorf("invalid zipkin v2 JSON: %w", err)
	}
	return c.traces(), nil
}

// readV2SpanWhole is readV2Span (the next value is an object) for V2JSONToTraces: the span
// is read whole, in one tokenizer call that validates it, and its members are taken from
// its bytes by walkV2Span. A span the walk does not take on (annotations, names that are
// escaped or only match folded, numbers that are not plain digits, values of an unwanted
// kind: anything readV2Span would reject or treat specially) is read again from the same
// bytes by readV2Span, so that the result, errors included, is always readV2Span's.
func readV2SpanWhole(r *jsonwire.Reader, s *model.SpanModel, st *v2Storage) error {
	v, err := r.Value()
	if err != nil {
		return err
	}
	var ts, dur uint64
	st.pairs = st.pairs[:0]
	if walkV2Span(r, v, r.Slice(v, 0, len(v)), s, st, &ts, &dur) {
		return finishV2Span(s, ts, dur, st)
	}
	*s = model.SpanModel{}
	st.pairs = st.pairs[:0]
	sub := r.Sub(v)
	defer sub.Release()
	return readV2Span(sub, s, st)
}

// walkV2Span reads the members of the span object v into s as readV2Span does, or reports
// false where it leaves the span to readV2Span.
func walkV2Span(r *jsonwire.Reader, v jsontext.Value, vs string, s *model.SpanModel, st *v2Storage, ts, dur *uint64) bool {
	i := skipSpace(v, 1)
	if v[i] == '}' {
		return true
	}
	for {
		j, simple := stringEnd(v, i)
		if !simple {
			return false
		}
		field := v2SpanFields.Lookup(v[i+1 : j-1])
		i = skipSpace(v, j)
		i = skipSpace(v, i+1) // the colon
		if i = walkV2Member(r, v, vs, i, field, s, st, ts, dur); i < 0 {
			return false
		}
		i = skipSpace(v, i)
		if v[i] == '}' {
			return true
		}
		i = skipSpace(v, i+1) // the comma
	}
}

// walkV2Member reads the value at v[i] of the member field; the index after it, or -1 to
// leave the span to readV2Span.
func walkV2Member(r *jsonwire.Reader, v jsontext.Value, vs string, i, field int, s *model.SpanModel, st *v2Storage, ts, dur *uint64) int {
	c := v[i]
	switch field {
	case v2Timestamp, v2Duration:
		if c == 'n' {
			return i + len("null")
		}
		dst := ts
		if field == v2Duration {
			dst = dur
		}
		return walkUint(v, i, dst, 64)
	case v2TraceID, v2ID, v2ParentID:
		if c == 'n' && field == v2ParentID {
			s.ParentID = nil
			return i + len("null")
		}
		if c != '"' {
			return -1
		}
		j, simple := stringEnd(v, i)
		if !simple || setV2ID(s, field, v[i:j], st) != nil {
			return -1
		}
		return j
	case v2Debug, v2Shared:
		dst := &s.Debug
		if field == v2Shared {
			dst = &s.Shared
		}
		switch c {
		case 'n':
			return i + len("null")
		case 't':
			*dst = true
			return i + len("true")
		case 'f':
			*dst = false
			return i + len("false")
		}
		return -1
	case v2Name, v2Kind:
		switch c {
		case 'n':
			return i + len("null")
		case '"':
			j, simple := stringEnd(v, i)
			str := tagString(r, v, vs, i, j, simple)
			if field == v2Name {
				s.Name = str
			} else {
				s.Kind = model.Kind(str)
			}
			return j
		}
		return -1
	case v2LocalEndpoint, v2RemoteEndpoint:
		dst := &s.LocalEndpoint
		if field == v2RemoteEndpoint {
			dst = &s.RemoteEndpoint
		}
		switch c {
		case 'n':
			*dst = nil
			return i + len("null")
		case '{':
			if *dst == nil {
				*dst = st.endpoint(field == v2RemoteEndpoint)
			}
			return walkEndpoint(r, v, vs, i, *dst)
		}
		return -1
	case v2Tags:
		switch c {
		case 'n':
			s.Tags = nil
			st.pairs = st.pairs[:0]
			return i + len("null")
		case '{':
			pairs, end, err := appendTagObject(r, v, vs, i, st.pairs)
			if err != nil {
				return -1
			}
			st.pairs = pairs
			return end
		}
	}
	return -1 // annotations, unknown names: readV2Span
}

// walkEndpoint is readEndpoint's struct read of the object at v[i] into e.
func walkEndpoint(r *jsonwire.Reader, v jsontext.Value, vs string, i int, e *model.Endpoint) int {
	i = skipSpace(v, i+1)
	if v[i] == '}' {
		return i + 1
	}
	for {
		j, simple := stringEnd(v, i)
		if !simple {
			return -1
		}
		field := v2EndpointFields.Lookup(v[i+1 : j-1])
		i = skipSpace(v, j)
		i = skipSpace(v, i+1) // the colon
		c := v[i]
		switch {
		case field == 0 && c == 'n':
			i += len("null")
		case field == 0 && c == '"':
			j, simple = stringEnd(v, i)
			e.ServiceName = tagString(r, v, vs, i, j, simple)
			i = j
		case field == 3 && c == 'n':
			i += len("null")
		case field == 3:
			port := uint64(e.Port)
			if i = walkUint(v, i, &port, 16); i < 0 {
				return -1
			}
			e.Port = uint16(port)
		default:
			return -1 // addresses, unknown names: readV2Span
		}
		i = skipSpace(v, i)
		if v[i] == '}' {
			return i + 1
		}
		i = skipSpace(v, i+1) // the comma
	}
}

// walkUint is readUint of the number at v[i] when it is plain digits that fit in bits;
// -1 for anything else.
func walkUint(v []byte, i int, dst *uint64, bits int) int {
	j := i
	var n uint64
	for ; j < len(v) && '0' <= v[j] && v[j] <= '9'; j++ {
		n = n*10 + uint64(v[j]-'0')
	}
	if j == i || j-i > 19 || (j < len(v) && (v[j] == '.' || v[j] == 'e' || v[j] == 'E')) {
		return -1
	}
	if bits < 64 && n>>bits != 0 {
		return -1
	}
	*dst = n
	return j
}
