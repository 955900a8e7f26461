package dataway

import (
	"math"
	"slices"
	"unicode/utf8"

	"github.com/tracekit/tracekit/libs/dataway/lineproto"
	"github.com/tracekit/tracekit/libs/spanmodel"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/encoding/protowire"
)

// This file writes a span's tracing point straight from the span, without building the
// pointpb messages SpanToPoint returns: the same keys, values, precedence and order, so
// the bytes are exactly appendPoint(SpanToPoint(s, o)) (and lineproto.AppendPoint of it).
// TestAppendSpanPointMatchesSpanToPoint and FuzzAppendSpanPoint hold it to that.

// Value kinds of an entry, one per pointpb.Field oneof member a span point uses.
const (
	kindS uint8 = iota
	kindI
	kindU
	kindF
	kindB
	kindD
)

// Precedence groups of the keys that are not a span's standard ones, in SpanToPoint's
// order: the span's tags, dk_fingerprint, global tags, the span's fields.
const (
	groupSpanTag uint8 = iota
	groupHostname
	groupGlobalTag
	groupSpanField
)

// entry is one key/value of the point being written.
type entry struct {
	key string // normalized
	raw string // the key as given: orders equal normalized keys within a group
	// hdr, where set, is the entry's bytes before its value (key and is_tag), worked out
	// once for the standard keys and the options' tags.
	hdr string
	s   string
	u   uint64 // I, U (as uint64), F (bits), B; for D the index in Scratch.ds
	// group is the precedence group (extra keys only).
	group uint8
	kind  uint8
	tag   bool
	// valid says which of key and s are known to be valid UTF-8.
	valid uint8
}

const (
	validKey uint8 = 1 << iota
	validValue
)

// Scratch is the reusable state of AppendSpanPoint; the zero value is ready. A Scratch
// must not be used by two goroutines at once.
type Scratch struct {
	extra []entry // the span's non-standard keys
	opts  []entry // the options' tags, the same for every span of an EncodeSpans
	ds    [][]byte
	// order, tags and fields hold entry references (see ref): no pointers, so filling
	// them costs no GC write barriers, which were a fifth of the encoding while the
	// collector ran.
	order  []int32 // extra and opts, sorted and deduplicated
	tags   []int32 // the point's tags in key order
	fields []int32 // the point's fields in key order

	// keys memoizes normalizeKey for keys it changes (dotted tag names repeat in
	// every span and the replacement allocates).
	keys map[string]string
	// hdrs memoizes keyHeader of the options' tag keys, which repeat in every call.
	hdrs map[string]string

	// A reusable point for the line-protocol writer.
	pt   pointpb.PBPoint
	lpF  []pointpb.Field
	lpP  []*pointpb.Field
	lpS  []pointpb.Field_S
	lpI  []pointpb.Field_I
	lpU  []pointpb.Field_U
	lpFl []pointpb.Field_F
	lpB  []pointpb.Field_B
	lpD  []pointpb.Field_D
}

// stdEntries are a span's standard keys, tags then fields, each in key order. The
// writers keep them on their stack.
type stdEntries struct {
	e     [16]entry
	n     int
	nTags int
}

// An entry reference is -1-i for std.e[i], i for sc.extra[i], len(sc.extra)+i for
// sc.opts[i].
func (sc *Scratch) at(st *stdEntries, ref int32) *entry {
	switch {
	case ref < 0:
		return &st.e[-1-ref]
	case int(ref) < len(sc.extra):
		return &sc.extra[ref]
	}
	return &sc.opts[int(ref)-len(sc.extra)]
}

// standardPresent reports whether key is one of the span's standard keys that the point
// carries: those always win over an extra key of the same name.
func standardPresent(s *spanv1.DatakitSpan, key string) bool {
	switch key {
	case TagSource, TagService, TagSpanType, TagSourceType, TagStatus,
		FieldTraceID, FieldSpanID, FieldParentID, FieldResource, FieldStart, FieldDuration:
		return true
	case TagOperation:
		return s.GetOperation() != ""
	case TagEnv:
		return s.GetEnv() != ""
	case TagProject:
		return s.GetProject() != ""
	case TagVersion:
		return s.GetVersion() != ""
	case FieldMessage:
		return s.GetMessage() != ""
	}
	return false
}

// maxMemoKeys bounds Scratch.keys (spans with generated key names).
const maxMemoKeys = 4096

func (sc *Scratch) normalizeKey(raw string) string {
	if normalKey(raw) {
		return raw
	}
	if k, ok := sc.keys[raw]; ok {
		return k
	}
	k := normalizeSlow(raw)
	if sc.keys == nil || len(sc.keys) >= maxMemoKeys {
		sc.keys = make(map[string]string)
	}
	sc.keys[raw] = k
	return k
}

func (sc *Scratch) extraTag(dst []entry, group uint8, raw, value string) []entry {
	key := sc.normalizeKey(raw)
	if key == "" {
		return dst
	}
	return append(dst, entry{key: key, raw: raw, s: truncate(value, MaxTagValueLen), group: group, kind: kindS, tag: true})
}

// setOptions prepares the tags o adds to every span.
func (sc *Scratch) setOptions(o PointOptions) {
	sc.opts = sc.opts[:0]
	if o.Hostname != "" {
		sc.opts = sc.extraTag(sc.opts, groupHostname, TagDKFingerprint, o.Hostname)
	}
	for k, v := range o.GlobalTags {
		sc.opts = sc.extraTag(sc.opts, groupGlobalTag, k, v)
	}
	// Checked, written and sorted once here rather than for every span.
	for i := range sc.opts {
		e := &sc.opts[i]
		if utf8.ValidString(e.key) {
			e.valid |= validKey
		}
		if utf8.ValidString(e.s) {
			e.valid |= validValue
		}
		e.hdr = sc.tagHeader(e.key)
	}
	slices.SortFunc(sc.opts, func(a, b entry) int {
		if lessExtra(&a, &b) {
			return -1
		}
		if lessExtra(&b, &a) {
			return 1
		}
		return 0
	})
}

func (sc *Scratch) tagHeader(key string) string {
	if h, ok := sc.hdrs[key]; ok {
		return h
	}
	h := keyHeader(key, true)
	if sc.hdrs == nil || len(sc.hdrs) >= maxMemoKeys {
		sc.hdrs = make(map[string]string)
	}
	sc.hdrs[key] = h
	return h
}

// keyHeader is what appendEntry writes of an entry before its value.
func keyHeader(key string, tag bool) string {
	b := make([]byte, 0, len(key)+4)
	b = appendVarint(append(b, 1<<3|byte(protowire.BytesType)), uint64(len(key)))
	b = append(b, key...)
	if tag {
		b = append(b, 8<<3|byte(protowire.VarintType), 1)
	}
	return string(b)
}

// The standard keys' headers.
var (
	hdrEnv        = keyHeader(TagEnv, true)
	hdrOperation  = keyHeader(TagOperation, true)
	hdrProject    = keyHeader(TagProject, true)
	hdrService    = keyHeader(TagService, true)
	hdrSource     = keyHeader(TagSource, true)
	hdrSourceType = keyHeader(TagSourceType, true)
	hdrSpanType   = keyHeader(TagSpanType, true)
	hdrStatus     = keyHeader(TagStatus, true)
	hdrVersion    = keyHeader(TagVersion, true)
	hdrDuration   = keyHeader(FieldDuration, false)
	hdrMessage    = keyHeader(FieldMessage, false)
	hdrParentID   = keyHeader(FieldParentID, false)
	hdrResource   = keyHeader(FieldResource, false)
	hdrSpanID     = keyHeader(FieldSpanID, false)
	hdrStart      = keyHeader(FieldStart, false)
	hdrTraceID    = keyHeader(FieldTraceID, false)
)

func (sc *Scratch) addExtraField(raw string, v *spanv1.FieldValue) {
	e := entry{raw: raw, group: groupSpanField}
	switch x := v.GetKind().(type) {
	case *spanv1.FieldValue_I:
		e.kind, e.u = kindI, uint64(x.I)
	case *spanv1.FieldValue_U:
		e.kind, e.u = kindU, x.U
	case *spanv1.FieldValue_F:
		f := x.F
		switch {
		case math.IsNaN(f):
			return
		case math.IsInf(f, 1):
			f = math.MaxUint64
		case math.IsInf(f, -1):
			f = math.MinInt64
		}
		e.kind, e.u = kindF, math.Float64bits(f)
	case *spanv1.FieldValue_B:
		e.kind = kindB
		if x.B {
			e.u = 1
		}
	case *spanv1.FieldValue_D:
		e.kind, e.u = kindD, uint64(len(sc.ds))
		sc.ds = append(sc.ds, x.D)
	case *spanv1.FieldValue_S:
		e.kind, e.s = kindS, x.S
	default:
		return
	}
	if e.key = sc.normalizeKey(raw); e.key == "" {
		return
	}
	sc.extra = append(sc.extra, e)
}

func lessExtra(a, b *entry) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	if a.group != b.group {
		return a.group < b.group
	}
	return a.raw < b.raw
}

// sortExtra sorts sc.extra by (key, group, raw), a total order: the keys of one group
// are the keys of a map. A span has a handful of extra keys, where insertion sort is
// fastest.
func (sc *Scratch) sortExtra() {
	es := sc.extra
	if len(es) > 24 {
		slices.SortFunc(es, func(a, b entry) int {
			if lessExtra(&a, &b) {
				return -1
			}
			if lessExtra(&b, &a) {
				return 1
			}
			return 0
		})
		return
	}
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && lessExtra(&es[j], &es[j-1]); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// addString adds a standard key's string entry: the key is a constant, valid UTF-8. The
// fields are set in place (st starts zeroed), not copied in as a whole entry.
func (st *stdEntries) addString(key, hdr, value string, tag bool) {
	e := &st.e[st.n]
	st.n++
	e.key, e.hdr, e.s, e.tag, e.valid = key, hdr, value, tag, validKey
}

func (st *stdEntries) addInt(key, hdr string, v int64) {
	e := &st.e[st.n]
	st.n++
	e.key, e.hdr, e.kind, e.u, e.valid = key, hdr, kindI, uint64(v), validKey
}

// collect fills st with the span's standard keys and sc.tags and sc.fields with
// SpanToPoint's keys in order. Only the extra keys are sorted (by normalized key, then
// precedence group, then original key, which is SpanToPoint's stable order),
// deduplicated and merged into the standard ones.
func (sc *Scratch) collect(s *spanv1.DatakitSpan, st *stdEntries) {
	sc.extra, sc.ds = sc.extra[:0], sc.ds[:0]
	for k, v := range s.GetTags() {
		sc.extra = sc.extraTag(sc.extra, groupSpanTag, k, v)
	}
	for k, v := range s.GetFields() {
		sc.addExtraField(k, v)
	}
	// The options' tags are sorted already (setOptions): only the span's own are sorted
	// here, and the two merged.
	sc.sortExtra()
	order := sc.order[:0]
	i, j, nx, no := 0, 0, len(sc.extra), len(sc.opts)
	for i < nx && j < no {
		if lessExtra(&sc.opts[j], &sc.extra[i]) {
			order = append(order, int32(nx+j))
			j++
		} else {
			order = append(order, int32(i))
			i++
		}
	}
	for ; i < nx; i++ {
		order = append(order, int32(i))
	}
	for ; j < no; j++ {
		order = append(order, int32(nx+j))
	}
	sc.order = order
	// Keep the first of each key unless a standard key of that name is present.
	uniq := order[:0]
	prev := ""
	for i, ref := range order {
		key := sc.at(st, ref).key
		dup := i > 0 && key == prev
		prev = key
		if dup || standardPresent(s, key) {
			continue
		}
		uniq = append(uniq, ref)
	}

	tag := func(key, hdr, v string) { st.addString(key, hdr, truncate(v, MaxTagValueLen), true) }
	opt := func(key, hdr, v string) {
		if v != "" {
			tag(key, hdr, v)
		}
	}
	// Standard tags in key order.
	opt(TagEnv, hdrEnv, s.GetEnv())
	opt(TagOperation, hdrOperation, s.GetOperation())
	opt(TagProject, hdrProject, s.GetProject())
	tag(TagService, hdrService, s.GetService())
	tag(TagSource, hdrSource, s.GetSource())
	tag(TagSourceType, hdrSourceType, s.GetSourceType())
	tag(TagSpanType, hdrSpanType, s.GetSpanType())
	tag(TagStatus, hdrStatus, s.GetStatus())
	opt(TagVersion, hdrVersion, s.GetVersion())
	st.nTags = st.n
	sc.tags = sc.merge(st, sc.tags[:0], 0, st.nTags, uniq, true)

	// Standard fields in key order.
	st.addInt(FieldDuration, hdrDuration, s.GetDurationNano()/1000)
	if m := s.GetMessage(); m != "" {
		st.addString(FieldMessage, hdrMessage, m, false)
	}
	st.addString(FieldParentID, hdrParentID, s.GetParentId(), false)
	st.addString(FieldResource, hdrResource, s.GetResource(), false)
	st.addString(FieldSpanID, hdrSpanID, s.GetSpanId(), false)
	st.addInt(FieldStart, hdrStart, s.GetStartUnixNano()/1000)
	st.addString(FieldTraceID, hdrTraceID, s.GetTraceId(), false)
	sc.fields = sc.merge(st, sc.fields[:0], st.nTags, st.n, uniq, false)
}

// merge merges std.e[from:to] (sorted) with the entries of extra (sorted) whose tag flag
// is tag. Keys never collide: collect dropped extra keys that a standard key took.
func (sc *Scratch) merge(st *stdEntries, dst []int32, from, to int, extra []int32, tag bool) []int32 {
	i := from
	for _, ref := range extra {
		e := sc.at(st, ref)
		if e.tag != tag {
			continue
		}
		for i < to && st.e[i].key < e.key {
			dst = append(dst, int32(-1-i))
			i++
		}
		dst = append(dst, ref)
	}
	for ; i < to; i++ {
		dst = append(dst, int32(-1-i))
	}
	return dst
}

// AppendSpanPoint appends the protobuf PBPoint of s's tracing point to dst, byte for byte
// what appendPoint(SpanToPoint(s, o)) writes. ok is false, with dst unchanged, where
// appendPoint gives up (invalid UTF-8): the caller then takes the SpanToPoint path, which
// fails the same way it always did.
func AppendSpanPoint(dst []byte, s *spanv1.DatakitSpan, o PointOptions, sc *Scratch) (_ []byte, ok bool) {
	sc.setOptions(o)
	return sc.appendSpanPoint(dst, s)
}

// appendSpanPoint is AppendSpanPoint with the options of the last setOptions.
func (sc *Scratch) appendSpanPoint(dst []byte, s *spanv1.DatakitSpan) (_ []byte, ok bool) {
	var st stdEntries
	sc.collect(s, &st)
	start := len(dst)
	// measurement is empty only when truncating invalid UTF-8 left nothing; appendPoint
	// then leaves the name out.
	if name := measurement(s.GetSource()); name != "" {
		if !validUTF8(name) {
			return dst, false
		}
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendString(dst, name)
	}
	for _, list := range [2][]int32{sc.tags, sc.fields} {
		for _, ref := range list {
			e := sc.at(&st, ref)
			if (e.valid&validKey == 0 && !validUTF8(e.key)) || (e.kind == kindS && e.valid&validValue == 0 && !validUTF8(e.s)) {
				return dst[:start], false
			}
			dst = sc.appendEntry(dst, e)
		}
	}
	if t := s.GetStartUnixNano(); t != 0 {
		dst = protowire.AppendTag(dst, 3, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t))
	}
	return dst, true
}

// validUTF8 is utf8.ValidString with spanmodel's ASCII fast path for short strings: span
// strings are mostly short ASCII, where utf8.ValidString goes a byte at a time, while on
// long ones (messages) its 32-byte stride is the faster. spanmodel.ValidString returns its
// argument exactly when it is valid.
func validUTF8(s string) bool {
	if len(s) >= 32 {
		return utf8.ValidString(s)
	}
	return spanmodel.ValidString(s) == s
}

// appendEntry writes e as PBPoint field 2, in appendField's order: key, is_tag, value.
// Tags are single bytes: every field number here is below 16.
func (sc *Scratch) appendEntry(b []byte, e *entry) []byte {
	// The common case, a short string under a known key: every length a single byte.
	if e.kind == kindS && e.hdr != "" && len(e.s) < 1<<7 {
		if n := len(e.hdr) + 2 + len(e.s); n < 1<<7 {
			b = append(b, 2<<3|byte(protowire.BytesType), byte(n))
			b = append(b, e.hdr...)
			b = append(b, 11<<3|byte(protowire.BytesType), byte(len(e.s)))
			return append(b, e.s...)
		}
	}
	n := len(e.hdr)
	if n == 0 {
		n = 1 + protowire.SizeBytes(len(e.key))
		if e.tag {
			n += 2
		}
	}
	switch e.kind {
	case kindS:
		n += 1 + protowire.SizeBytes(len(e.s))
	case kindI, kindU:
		n += 1 + protowire.SizeVarint(e.u)
	case kindF:
		n += 1 + 8
	case kindB:
		n += 1 + 1
	case kindD:
		n += 1 + protowire.SizeBytes(len(sc.ds[e.u]))
	}
	b = appendVarint(append(b, 2<<3|byte(protowire.BytesType)), uint64(n))
	if e.hdr != "" {
		b = append(b, e.hdr...)
	} else {
		b = appendVarint(append(b, 1<<3|byte(protowire.BytesType)), uint64(len(e.key)))
		b = append(b, e.key...)
		if e.tag {
			b = append(b, 8<<3|byte(protowire.VarintType), 1)
		}
	}
	switch e.kind {
	case kindS:
		b = appendVarint(append(b, 11<<3|byte(protowire.BytesType)), uint64(len(e.s)))
		b = append(b, e.s...)
	case kindI:
		b = appendVarint(append(b, 2<<3|byte(protowire.VarintType)), e.u)
	case kindU:
		b = appendVarint(append(b, 3<<3|byte(protowire.VarintType)), e.u)
	case kindF:
		b = protowire.AppendFixed64(append(b, 4<<3|byte(protowire.Fixed64Type)), e.u)
	case kindB:
		b = append(b, 5<<3|byte(protowire.VarintType), byte(e.u))
	case kindD:
		d := sc.ds[e.u]
		b = appendVarint(append(b, 6<<3|byte(protowire.BytesType)), uint64(len(d)))
		b = append(b, d...)
	}
	return b
}

// appendVarint inlines the one- and two-byte cases of protowire.AppendVarint.
func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<7:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v)|0x80, byte(v>>7))
	}
	return protowire.AppendVarint(b, v)
}

// AppendSpanLine appends s's tracing point as one line of line protocol, exactly what
// lineproto.AppendPoint(dst, SpanToPoint(s, o)) writes (the same writer, over a point
// whose messages the scratch reuses from span to span).
func AppendSpanLine(dst []byte, s *spanv1.DatakitSpan, o PointOptions, sc *Scratch) ([]byte, error) {
	sc.setOptions(o)
	return sc.appendSpanLine(dst, s)
}

func (sc *Scratch) appendSpanLine(dst []byte, s *spanv1.DatakitSpan) ([]byte, error) {
	var st stdEntries
	sc.collect(s, &st)
	return lineproto.AppendPoint(dst, sc.point(s, &st))
}

// point fills the scratch's reusable PBPoint from the collected entries; it is valid
// until the next use of sc and must not be retained.
func (sc *Scratch) point(s *spanv1.DatakitSpan, st *stdEntries) *pointpb.PBPoint {
	n := len(sc.tags) + len(sc.fields)
	if len(sc.lpF) < n {
		sc.lpF = make([]pointpb.Field, n+8)
		sc.lpP = make([]*pointpb.Field, n+8)
		sc.lpS = make([]pointpb.Field_S, n+8)
		sc.lpI = make([]pointpb.Field_I, n+8)
		sc.lpU = make([]pointpb.Field_U, n+8)
		sc.lpFl = make([]pointpb.Field_F, n+8)
		sc.lpB = make([]pointpb.Field_B, n+8)
		sc.lpD = make([]pointpb.Field_D, n+8)
	}
	k := 0
	for _, list := range [2][]int32{sc.tags, sc.fields} {
		for _, ref := range list {
			e := sc.at(st, ref)
			f := &sc.lpF[k]
			f.Key, f.IsTag = e.key, e.tag
			switch e.kind {
			case kindS:
				v := &sc.lpS[k]
				v.S = e.s
				f.Val = v
			case kindI:
				v := &sc.lpI[k]
				v.I = int64(e.u)
				f.Val = v
			case kindU:
				v := &sc.lpU[k]
				v.U = e.u
				f.Val = v
			case kindF:
				v := &sc.lpFl[k]
				v.F = math.Float64frombits(e.u)
				f.Val = v
			case kindB:
				v := &sc.lpB[k]
				v.B = e.u != 0
				f.Val = v
			case kindD:
				v := &sc.lpD[k]
				v.D = sc.ds[e.u]
				f.Val = v
			}
			sc.lpP[k] = f
			k++
		}
	}
	sc.pt.Name, sc.pt.Time, sc.pt.Fields = measurement(s.GetSource()), s.GetStartUnixNano(), sc.lpP[:n]
	return &sc.pt
}

// release drops the references to the last spans' strings, so a pooled Scratch does not
// keep them alive.
func (sc *Scratch) release() {
	clear(sc.extra[:cap(sc.extra)])
	clear(sc.opts[:cap(sc.opts)])
	clear(sc.ds[:cap(sc.ds)])
	clear(sc.lpP)
	clear(sc.lpF)
	clear(sc.lpS)
	clear(sc.lpD)
	sc.pt.Fields = nil
}
