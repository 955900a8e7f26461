package translator

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	commonv3 "skywalking.apache.org/repo/goapi/collect/common/v3"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"

	"github.com/tracekit/tracekit/libs/jsonwire"
)

// The OAP JSON forms are read token by token into the goapi structs with protojson's
// rules (protojson goes through protoreflect, four times the cost of the rest): a field by
// its JSON or proto name (the same for these messages), a duplicate field refused, null
// for "not set", unknown fields skipped (DiscardUnknown), enums by name (an unknown name
// is ignored) or number, integers as numbers or strings in protojson's number syntax
// (exponents and zero fractions allowed), strings valid UTF-8. FuzzJSONMatchesProtojson
// holds the readers to protojson.

var (
	errDuplicateField = errors.New("duplicate field")
	errWantObject     = jsonwire.ErrWantObject
	errWantArray      = jsonwire.ErrWantArray
	errWantString     = jsonwire.ErrWantString
	errWantBool       = jsonwire.ErrWantBool
	errWantInt        = errors.New("want an integer")
	errWantEnum       = errors.New("want an enum name or number")
	errExtension      = errors.New("extension fields are not supported")
)

// arena hands out the messages of one payload from shared blocks: they live and die
// together, and one allocation serves many.
type arena[T any] struct{ block []T }

func (a *arena[T]) new() *T {
	if len(a.block) == cap(a.block) {
		a.block = make([]T, 0, min(max(8, 2*cap(a.block)), 256))
	}
	a.block = a.block[:len(a.block)+1]
	return &a.block[len(a.block)-1]
}

// list collects a repeated field's elements, then hands out the slice of pointers from a
// shared block.
type list[T any] struct {
	elems  arena[T]
	tmp    []*T
	blocks []*T
}

// start begins a list (lists of one type do not nest).
func (l *list[T]) start() { l.tmp = l.tmp[:0] }

// add appends a new element.
func (l *list[T]) add() *T {
	e := l.elems.new()
	l.tmp = append(l.tmp, e)
	return e
}

// slice is the list, capped so that appending to it copies.
func (l *list[T]) slice() []*T {
	n := len(l.tmp)
	if n == 0 {
		return nil
	}
	if cap(l.blocks)-len(l.blocks) < n {
		l.blocks = make([]*T, 0, max(64, n))
	}
	i := len(l.blocks)
	l.blocks = append(l.blocks, l.tmp...)
	return l.blocks[i : i+n : i+n]
}

// jsonDecoder reads one payload.
type jsonDecoder struct {
	r     *jsonwire.Reader
	spans list[agentv3.SpanObject]
	refs  list[agentv3.SegmentReference]
	logs  list[agentv3.Log]
	kvs   list[commonv3.KeyStringValuePair]
}

// readJSONSegments reads a JSON array of SegmentObjects; bad is the index of the one
// that failed, or -1.
func (d *jsonDecoder) readJSONSegments() (segs []*agentv3.SegmentObject, bad int, err error) {
	r := d.r
	if err := r.Open('['); err != nil {
		return nil, -1, err
	}
	for i := 0; r.More(); i++ {
		seg := &agentv3.SegmentObject{}
		if err := d.readSegment(seg); err != nil {
			return nil, i, err
		}
		segs = append(segs, seg)
	}
	if err := r.Close(); err != nil {
		return nil, -1, err
	}
	return segs, -1, r.End()
}

// fieldReader reads the members of one message.
type fieldReader struct {
	r    *jsonwire.Reader
	seen uint32
}

// next reads the next member's name and returns its field number (unknown fields are
// skipped), -1 at the end of the object. A known field's value may be null, "not set":
// every reader takes null as the zero value, which the field still has (a second
// occurrence is an error).
func (f *fieldReader) next(lookup func(name []byte) int) (int, error) {
	for f.r.More() {
		v, err := f.r.Value()
		if err != nil {
			return 0, err
		}
		name := f.r.Name(v)
		num := lookup(name)
		if num == 0 {
			if err := checkExtensionName(name); err != nil {
				return 0, err
			}
			if err := f.r.Skip(); err != nil {
				return 0, err
			}
			continue
		}
		if f.seen&(1<<num) != 0 {
			return 0, fmt.Errorf("%w %q", errDuplicateField, name)
		}
		f.seen |= 1 << num
		return num, nil
	}
	return -1, f.r.Close()
}

// checkExtensionName refuses what protojson refuses of a "[full.name]" member: a name
// the registry resolves (these messages have no extensions) or fails to look up.
func checkExtensionName(name []byte) error {
	if len(name) < 2 || name[0] != '[' || name[len(name)-1] != ']' {
		return nil
	}
	_, err := protoregistry.GlobalTypes.FindExtensionByName(protoreflect.FullName(name[1 : len(name)-1]))
	if err == protoregistry.NotFound {
		return nil
	}
	return fmt.Errorf("%w: %s", errExtension, name)
}

// openObject reads the '{' of a message (null is not a message).
func openObject(r *jsonwire.Reader) error {
	if r.Peek() != '{' {
		if err := r.Skip(); err != nil {
			return err
		}
		return errWantObject
	}
	return r.Open('{')
}

// eachElement calls read for every element of an array (null: none).
func eachElement(r *jsonwire.Reader, read func() error) error {
	switch r.Peek() {
	case 'n':
		return r.Skip()
	case '[':
	default:
		if err := r.Skip(); err != nil {
			return err
		}
		return errWantArray
	}
	if err := r.Open('['); err != nil {
		return err
	}
	for r.More() {
		if err := read(); err != nil {
			return err
		}
	}
	return r.Close()
}

func segmentField(name []byte) int {
	switch string(name) {
	case "traceId":
		return 1
	case "traceSegmentId":
		return 2
	case "spans":
		return 3
	case "service":
		return 4
	case "serviceInstance":
		return 5
	case "isSizeLimited":
		return 6
	}
	return 0
}

func (d *jsonDecoder) readSegment(seg *agentv3.SegmentObject) error {
	r := d.r
	if err := openObject(r); err != nil {
		return err
	}
	f := fieldReader{r: r}
	for {
		num, err := f.next(segmentField)
		if err != nil || num < 0 {
			return err
		}
		switch num {
		case 1:
			seg.TraceId, err = readString(r)
		case 2:
			seg.TraceSegmentId, err = readString(r)
		case 3:
			d.spans.start()
			err = eachElement(r, func() error { return d.readSpan(d.spans.add()) })
			seg.Spans = d.spans.slice()
		case 4:
			seg.Service, err = readString(r)
		case 5:
			seg.ServiceInstance, err = readString(r)
		case 6:
			seg.IsSizeLimited, err = readBool(r)
		}
		if err != nil {
			return err
		}
	}
}

func spanField(name []byte) int {
	switch string(name) {
	case "spanId":
		return 1
	case "parentSpanId":
		return 2
	case "startTime":
		return 3
	case "endTime":
		return 4
	case "refs":
		return 5
	case "operationName":
		return 6
	case "peer":
		return 7
	case "spanType":
		return 8
	case "spanLayer":
		return 9
	case "componentId":
		return 10
	case "isError":
		return 11
	case "tags":
		return 12
	case "logs":
		return 13
	case "skipAnalysis":
		return 14
	}
	return 0
}

func (d *jsonDecoder) readSpan(s *agentv3.SpanObject) error {
	r := d.r
	if err := openObject(r); err != nil {
		return err
	}
	f := fieldReader{r: r}
	for {
		num, err := f.next(spanField)
		if err != nil || num < 0 {
			return err
		}
		var n int64
		switch num {
		case 1:
			n, err = readInt(r, 32)
			s.SpanId = int32(n)
		case 2:
			n, err = readInt(r, 32)
			s.ParentSpanId = int32(n)
		case 3:
			s.StartTime, err = readInt(r, 64)
		case 4:
			s.EndTime, err = readInt(r, 64)
		case 5:
			d.refs.start()
			err = eachElement(r, func() error { return readRef(r, d.refs.add()) })
			s.Refs = d.refs.slice()
		case 6:
			s.OperationName, err = readString(r)
		case 7:
			s.Peer, err = readString(r)
		case 8:
			n, err = readEnum(r, agentv3.SpanType_value)
			s.SpanType = agentv3.SpanType(n)
		case 9:
			n, err = readEnum(r, agentv3.SpanLayer_value)
			s.SpanLayer = agentv3.SpanLayer(n)
		case 10:
			n, err = readInt(r, 32)
			s.ComponentId = int32(n)
		case 11:
			s.IsError, err = readBool(r)
		case 12:
			err = d.readKVs(&s.Tags)
		case 13:
			d.logs.start()
			err = eachElement(r, func() error { return d.readLog(d.logs.add()) })
			s.Logs = d.logs.slice()
		case 14:
			s.SkipAnalysis, err = readBool(r)
		}
		if err != nil {
			return err
		}
	}
}

func refField(name []byte) int {
	switch string(name) {
	case "refType":
		return 1
	case "traceId":
		return 2
	case "parentTraceSegmentId":
		return 3
	case "parentSpanId":
		return 4
	case "parentService":
		return 5
	case "parentServiceInstance":
		return 6
	case "parentEndpoint":
		return 7
	case "networkAddressUsedAtPeer":
		return 8
	}
	return 0
}

func readRef(r *jsonwire.Reader, ref *agentv3.SegmentReference) error {
	if err := openObject(r); err != nil {
		return err
	}
	f := fieldReader{r: r}
	for {
		num, err := f.next(refField)
		if err != nil || num < 0 {
			return err
		}
		var n int64
		switch num {
		case 1:
			n, err = readEnum(r, agentv3.RefType_value)
			ref.RefType = agentv3.RefType(n)
		case 2:
			ref.TraceId, err = readString(r)
		case 3:
			ref.ParentTraceSegmentId, err = readString(r)
		case 4:
			n, err = readInt(r, 32)
			ref.ParentSpanId = int32(n)
		case 5:
			ref.ParentService, err = readString(r)
		case 6:
			ref.ParentServiceInstance, err = readString(r)
		case 7:
			ref.ParentEndpoint, err = readString(r)
		case 8:
			ref.NetworkAddressUsedAtPeer, err = readString(r)
		}
		if err != nil {
			return err
		}
	}
}

func logField(name []byte) int {
	switch string(name) {
	case "time":
		return 1
	case "data":
		return 2
	}
	return 0
}

func (d *jsonDecoder) readLog(l *agentv3.Log) error {
	r := d.r
	if err := openObject(r); err != nil {
		return err
	}
	f := fieldReader{r: r}
	for {
		num, err := f.next(logField)
		if err != nil || num < 0 {
			return err
		}
		switch num {
		case 1:
			l.Time, err = readInt(r, 64)
		case 2:
			err = d.readKVs(&l.Data)
		}
		if err != nil {
			return err
		}
	}
}

func kvField(name []byte) int {
	switch string(name) {
	case "key":
		return 1
	case "value":
		return 2
	}
	return 0
}

func (d *jsonDecoder) readKVs(dst *[]*commonv3.KeyStringValuePair) error {
	r := d.r
	d.kvs.start()
	defer func() { *dst = d.kvs.slice() }()
	return eachElement(r, func() error {
		kv := d.kvs.add()
		if err := openObject(r); err != nil {
			return err
		}
		f := fieldReader{r: r}
		for {
			num, err := f.next(kvField)
			if err != nil || num < 0 {
				return err
			}
			switch num {
			case 1:
				kv.Key, err = readString(r)
			case 2:
				kv.Value, err = readString(r)
			}
			if err != nil {
				return err
			}
		}
	})
}

func readString(r *jsonwire.Reader) (string, error) {
	v, err := r.Value()
	if err != nil {
		return "", err
	}
	switch v.Kind() {
	case '"':
		return r.String(v), nil
	case 'n':
		return "", nil
	}
	return "", errWantString
}

func readBool(r *jsonwire.Reader) (bool, error) {
	v, err := r.Value()
	if err != nil {
		return false, err
	}
	switch v.Kind() {
	case 't':
		return true, nil
	case 'f', 'n':
		return false, nil
	}
	return false, errWantBool
}

// readInt is protojson's integer: a number, or a string holding exactly one number, that
// is integral and fits in bits.
func readInt(r *jsonwire.Reader, bits int) (int64, error) {
	v, err := r.Value()
	if err != nil {
		return 0, err
	}
	var num []byte
	switch v.Kind() {
	case '0':
		num = v
	case '"':
		num = r.Name(v)
		if n, ok := numberLen(num); !ok || n != len(num) || len(bytes.TrimSpace(num)) != len(num) {
			return 0, fmt.Errorf("%w: %s", errWantInt, v)
		}
	case 'n':
		return 0, nil
	default:
		return 0, fmt.Errorf("%w: %s", errWantInt, v)
	}
	n, ok := protoInt(num, bits)
	if !ok {
		return 0, fmt.Errorf("%w: %s", errWantInt, v)
	}
	return n, nil
}

// readEnum is protojson's enum: a value name (an unknown one reads as 0, the field
// staying unset, as DiscardUnknown has it) or an int32.
func readEnum(r *jsonwire.Reader, names map[string]int32) (int64, error) {
	v, err := r.Value()
	if err != nil {
		return 0, err
	}
	switch v.Kind() {
	case '"':
		return int64(names[string(r.Name(v))]), nil
	case 'n':
		return 0, nil
	case '0':
		if n, ok := protoInt(v, 32); ok {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: %s", errWantEnum, v)
}

// numberLen is how much of s protojson's tokenizer takes as a number (RFC 8259's
// grammar, except that an exponent may have no digits).
func numberLen(s []byte) (int, bool) {
	n := 0
	if n < len(s) && s[n] == '-' {
		n++
	}
	switch {
	case n < len(s) && s[n] == '0':
		n++
	case n < len(s) && '1' <= s[n] && s[n] <= '9':
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
	default:
		return 0, false
	}
	if n+1 < len(s) && s[n] == '.' && '0' <= s[n+1] && s[n+1] <= '9' {
		n += 2
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
	}
	if n+1 < len(s) && (s[n] == 'e' || s[n] == 'E') {
		n++
		if s[n] == '+' || s[n] == '-' {
			n++
			if n == len(s) {
				return 0, false
			}
		}
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
	}
	if n < len(s) && isNotDelim(s[n]) {
		return 0, false
	}
	return n, true
}

func isNotDelim(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == '_' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// protoInt is protojson's Token.Int on a number: written as an integer once the fraction
// and exponent are applied, and in range.
func protoInt(num []byte, bits int) (int64, bool) {
	if isPlainInt(num) {
		n, err := strconv.ParseInt(string(num), 10, bits)
		return n, err == nil
	}
	s, ok := intString(num)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, bits)
	return n, err == nil
}

// isPlainInt reports -?[0-9]+ (the common case, parsed directly).
func isPlainInt(num []byte) bool {
	digits := num
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// intString writes a number with a fraction or exponent as the integer it denotes
// (protojson's normalizeToIntString), or fails.
func intString(num []byte) (string, bool) {
	s := num
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var intp, frac, exp []byte
	switch {
	case len(s) > 0 && s[0] == '0':
		s = s[1:]
	case len(s) > 0 && '1' <= s[0] && s[0] <= '9':
		n := 1
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		intp, s = s[:n], s[n:]
	default:
		return "", false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		n := 2
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		frac, s = s[1:n], s[n:]
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		exp = s[1:]
	}
	frac = bytes.TrimRight(frac, "0")
	if len(intp) == 0 && len(frac) == 0 {
		return "0", true
	}
	e := 0
	if len(exp) > 0 {
		i, err := strconv.ParseInt(string(exp), 10, 32)
		if err != nil {
			return "", false
		}
		e = int(i)
	}
	var digits string
	if e >= 0 {
		if len(frac) > e || len(intp)+e > 20 {
			return "", false
		}
		digits = string(intp) + string(frac) + strings.Repeat("0", e-len(frac))
	} else {
		if len(frac) > 0 {
			return "", false
		}
		i := len(intp) + e
		if i < 0 {
			return "", false
		}
		for _, c := range intp[i:] {
			if c != '0' {
				return "", false
			}
		}
		digits = string(intp[:i])
	}
	if neg {
		return "-" + digits, true
	}
	return digits, true
}
