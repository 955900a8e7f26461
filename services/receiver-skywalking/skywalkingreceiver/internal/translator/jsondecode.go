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

// readSpan reads a span as one value (jsontext checks its syntax and UTF-8 in one call):
// the usual span is taken apart in place (plainSpan), any other is read member by member
// from the value's bytes.
func (d *jsonDecoder) readSpan(s *agentv3.SpanObject) error {
	r := d.r
	v, err := r.Value()
	if err != nil {
		return err
	}
	if v.Kind() != '{' {
		return errWantObject
	}
	if d.plainSpan(v, s) {
		return nil
	}
	*s = agentv3.SpanObject{}
	d.r = r.Sub(v)
	err = d.readSpanMembers(s)
	d.r.Release()
	d.r = r
	return err
}

// plainSpan fills s from the valid JSON object v when each member is known, appears once
// and has a value of its field's usual form (strings without escapes, no refs or logs);
// false leaves s to be read again.
func (d *jsonDecoder) plainSpan(v []byte, s *agentv3.SpanObject) bool {
	r := d.r
	var seen uint32
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == '}' {
		return true
	}
	for {
		ns, ne, ok := plainString(v, i)
		if !ok {
			return false
		}
		num := spanField(v[ns:ne])
		if num == 0 || seen&(1<<num) != 0 {
			return false
		}
		seen |= 1 << num
		i = skipSpace(v, ne+1)
		if i >= len(v) || v[i] != ':' {
			return false
		}
		i = skipSpace(v, i+1)
		if i >= len(v) {
			return false
		}
		var n int64
		switch num {
		case 1:
			i, n, ok = plainInt(v, i, 32)
			s.SpanId = int32(n)
		case 2:
			i, n, ok = plainInt(v, i, 32)
			s.ParentSpanId = int32(n)
		case 3:
			i, s.StartTime, ok = plainInt(v, i, 64)
		case 4:
			i, s.EndTime, ok = plainInt(v, i, 64)
		case 6:
			i, s.OperationName, ok = plainStringValue(r, v, i)
		case 7:
			i, s.Peer, ok = plainStringValue(r, v, i)
		case 8:
			i, n, ok = plainEnum(v, i, agentv3.SpanType_value)
			s.SpanType = agentv3.SpanType(n)
		case 9:
			i, n, ok = plainEnum(v, i, agentv3.SpanLayer_value)
			s.SpanLayer = agentv3.SpanLayer(n)
		case 10:
			i, n, ok = plainInt(v, i, 32)
			s.ComponentId = int32(n)
		case 11:
			i, s.IsError, ok = plainBool(v, i)
		case 12:
			i, ok = d.plainKVs(v, i, &s.Tags)
		case 14:
			i, s.SkipAnalysis, ok = plainBool(v, i)
		default: // refs, logs
			return false
		}
		if !ok {
			return false
		}
		i = skipSpace(v, i)
		if i >= len(v) {
			return false
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
}

// isNull reports the null at v[i].
func isNull(v []byte, i int) bool { return v[i] == 'n' }

// plainStringValue is readString on the value at v[i], when it has no escapes; and the
// offset after it.
func plainStringValue(r *jsonwire.Reader, v []byte, i int) (int, string, bool) {
	if isNull(v, i) {
		return i + len("null"), "", true
	}
	s, e, ok := plainString(v, i)
	if !ok {
		return 0, "", false
	}
	if e == s {
		return e + 1, "", true
	}
	return e + 1, r.Slice(v, s, e), true
}

// plainBool is readBool on the value at v[i] when it is a bool or null.
func plainBool(v []byte, i int) (int, bool, bool) {
	switch v[i] {
	case 't':
		return i + len("true"), true, true
	case 'f':
		return i + len("false"), false, true
	case 'n':
		return i + len("null"), false, true
	}
	return 0, false, false
}

// numberEnd is the end of the (valid) number at v[i].
func numberEnd(v []byte, i int) int {
	for i < len(v) {
		switch c := v[i]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			i++
		default:
			return i
		}
	}
	return i
}

// plainInt is readInt on the value at v[i] when it reads without error; false otherwise.
func plainInt(v []byte, i, bits int) (int, int64, bool) {
	var num []byte
	end := 0
	switch c := v[i]; {
	case c == 'n':
		return i + len("null"), 0, true
	case c == '"':
		s, e, ok := plainString(v, i)
		if !ok {
			return 0, 0, false
		}
		num, end = v[s:e], e+1
		if n, ok := numberLen(num); !ok || n != len(num) || len(bytes.TrimSpace(num)) != len(num) {
			return 0, 0, false
		}
	case c == '-' || ('0' <= c && c <= '9'):
		end = numberEnd(v, i)
		num = v[i:end]
	default:
		return 0, 0, false
	}
	n, ok := protoInt(num, bits)
	return end, n, ok
}

// plainEnum is readEnum on the value at v[i] when it reads without error.
func plainEnum(v []byte, i int, names map[string]int32) (int, int64, bool) {
	switch c := v[i]; {
	case c == 'n':
		return i + len("null"), 0, true
	case c == '"':
		s, e, ok := plainString(v, i)
		if !ok {
			return 0, 0, false
		}
		return e + 1, int64(names[string(v[s:e])]), true
	case c == '-' || ('0' <= c && c <= '9'):
		end := numberEnd(v, i)
		n, ok := protoInt(v[i:end], 32)
		return end, n, ok
	}
	return 0, 0, false
}

// plainKVs is readKVs on the value at v[i] when every pair is plain (plainKV).
func (d *jsonDecoder) plainKVs(v []byte, i int, dst *[]*commonv3.KeyStringValuePair) (int, bool) {
	if isNull(v, i) {
		return i + len("null"), true
	}
	if v[i] != '[' {
		return 0, false
	}
	d.kvs.start()
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return i + 1, true
	}
	for {
		ks, ke, vs, ve, end, ok := plainKV(v, i)
		if !ok {
			return 0, false
		}
		kv := d.kvs.add()
		if ke > ks {
			kv.Key = d.r.Slice(v, ks, ke)
		}
		if ve > vs {
			kv.Value = d.r.Slice(v, vs, ve)
		}
		i = skipSpace(v, end)
		if i >= len(v) {
			return 0, false
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case ']':
			*dst = d.kvs.slice()
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func (d *jsonDecoder) readSpanMembers(s *agentv3.SpanObject) error {
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
	return eachElement(r, func() error { return readKV(r, d.kvs.add()) })
}

// readKV reads a pair as one value (jsontext checks its syntax and UTF-8 in one call):
// the usual {"key":"…","value":"…"} without escapes is taken apart in place, anything
// else is read member by member from the value's bytes.
func readKV(r *jsonwire.Reader, kv *commonv3.KeyStringValuePair) error {
	v, err := r.Value()
	if err != nil {
		return err
	}
	if v.Kind() != '{' {
		return errWantObject
	}
	if ks, ke, vs, ve, _, ok := plainKV(v, 0); ok {
		if ke > ks {
			kv.Key = r.Slice(v, ks, ke)
		}
		if ve > vs {
			kv.Value = r.Slice(v, vs, ve)
		}
		return nil
	}
	sub := r.Sub(v)
	defer sub.Release()
	return readKVMembers(sub, kv)
}

// plainKV finds the contents of the key and value strings of the valid JSON object at
// v[i] when its members are only "key" and "value", each once, as strings without
// escapes; end is the offset after the object.
func plainKV(v []byte, i int) (ks, ke, vs, ve, end int, ok bool) {
	if i >= len(v) || v[i] != '{' {
		return 0, 0, 0, 0, 0, false
	}
	var seen int
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == '}' {
		return 0, 0, 0, 0, i + 1, true
	}
	for {
		name, s, e, next, ok := plainMember(v, i)
		if !ok {
			return 0, 0, 0, 0, 0, false
		}
		num := kvField(name)
		if num == 0 || seen&num != 0 {
			return 0, 0, 0, 0, 0, false
		}
		seen |= num
		if num == 1 {
			ks, ke = s, e
		} else {
			vs, ve = s, e
		}
		i = skipSpace(v, next)
		if i >= len(v) {
			return 0, 0, 0, 0, 0, false
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case '}':
			return ks, ke, vs, ve, i + 1, true
		default:
			return 0, 0, 0, 0, 0, false
		}
	}
}

// plainMember reads `"name" : "value"` at v[i:], both strings without escapes: the name,
// the value's contents v[s:e] and the offset after it.
func plainMember(v []byte, i int) (name []byte, s, e, next int, ok bool) {
	ns, ne, ok := plainString(v, i)
	if !ok {
		return nil, 0, 0, 0, false
	}
	i = skipSpace(v, ne+1)
	if i >= len(v) || v[i] != ':' {
		return nil, 0, 0, 0, false
	}
	i = skipSpace(v, i+1)
	s, e, ok = plainString(v, i)
	if !ok {
		return nil, 0, 0, 0, false
	}
	return v[ns:ne], s, e, e + 1, true
}

// plainString is the contents v[s:e] of the string at v[i] when it has no escapes.
func plainString(v []byte, i int) (s, e int, ok bool) {
	if i >= len(v) || v[i] != '"' {
		return 0, 0, false
	}
	for j := i + 1; j < len(v); j++ {
		switch v[j] {
		case '"':
			return i + 1, j, true
		case '\\':
			return 0, 0, false
		}
	}
	return 0, 0, false
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

func readKVMembers(r *jsonwire.Reader, kv *commonv3.KeyStringValuePair) error {
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
		if n, ok := shortInt(num, bits); ok {
			return n, true
		}
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

// shortInt parses a plain integer with too few digits to overflow bits (9 for 32, 18 for
// 64); longer ones are strconv's.
func shortInt(num []byte, bits int) (int64, bool) {
	digits := num
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) > 9 && (bits != 64 || len(digits) > 18) {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
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
