package dataway

import (
	"math"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Point limits DataKit applies when it builds a point (datakit-spec §3.4).
const (
	MaxKeyLen         = 256
	MaxTagValueLen    = 1024
	MaxMeasurementLen = 1024
	// DefaultMeasurement replaces an empty measurement name, as cliutils does.
	DefaultMeasurement = "__default"
)

// Standard tag and field keys of a tracing point (datakit-spec §1.0).
const (
	TagSource        = "source"
	TagService       = "service"
	TagSpanType      = "span_type"
	TagSourceType    = "source_type"
	TagStatus        = "status"
	TagOperation     = "operation"
	TagEnv           = "env"
	TagProject       = "project"
	TagVersion       = "version"
	TagDKFingerprint = "dk_fingerprint"

	FieldTraceID  = "trace_id"
	FieldSpanID   = "span_id"
	FieldParentID = "parent_id"
	FieldResource = "resource"
	FieldStart    = "start"
	FieldDuration = "duration"
	FieldMessage  = "message"
)

// CategoryTracing is the Dataway category of span points.
const CategoryTracing = "tracing"

// PointOptions are what the sender adds to every span point.
type PointOptions struct {
	// Hostname becomes the dk_fingerprint tag unless the span already carries one.
	Hostname string
	// GlobalTags ([global_tags]) are added without overriding the span's own tags.
	GlobalTags map[string]string
}

type kv struct {
	key   string
	field *pointpb.Field
}

// pointBuilder collects the key/values of one point in precedence order: the first value
// written for a key wins, later ones are dropped (cliutils drops later duplicates too).
// Fields and string values come from slabs sized up front: a span point has ~20 of each,
// and one allocation instead of forty is most of the conversion cost.
type pointBuilder struct {
	kvs    []kv
	fields []pointpb.Field
	strs   []pointpb.Field_S
	ints   []pointpb.Field_I
}

func newPointBuilder(n int) *pointBuilder {
	return &pointBuilder{kvs: make([]kv, 0, n), fields: make([]pointpb.Field, n), strs: make([]pointpb.Field_S, n), ints: make([]pointpb.Field_I, 2)}
}

func (b *pointBuilder) next() *pointpb.Field {
	if len(b.fields) == 0 {
		return &pointpb.Field{}
	}
	f := &b.fields[0]
	b.fields = b.fields[1:]
	return f
}

func (b *pointBuilder) str(s string) *pointpb.Field_S {
	if len(b.strs) == 0 {
		return &pointpb.Field_S{S: s}
	}
	v := &b.strs[0]
	b.strs = b.strs[1:]
	v.S = s
	return v
}

func (b *pointBuilder) int(i int64) *pointpb.Field_I {
	if len(b.ints) == 0 {
		return &pointpb.Field_I{I: i}
	}
	v := &b.ints[0]
	b.ints = b.ints[1:]
	v.I = i
	return v
}

func (b *pointBuilder) tag(key, value string) {
	key = normalizeKey(key)
	if key == "" {
		return
	}
	f := b.next()
	f.Key, f.IsTag, f.Val = key, true, b.str(truncate(value, MaxTagValueLen))
	b.kvs = append(b.kvs, kv{key: key, field: f})
}

func (b *pointBuilder) strField(key, value string) {
	f := b.next()
	f.Val = b.str(value)
	b.add(key, f)
}

func (b *pointBuilder) intField(key string, value int64) {
	f := b.next()
	f.Val = b.int(value)
	b.add(key, f)
}

func (b *pointBuilder) add(key string, f *pointpb.Field) {
	key = normalizeKey(key)
	if key == "" || f == nil {
		return
	}
	f.Key = key
	b.kvs = append(b.kvs, kv{key: key, field: f})
}

// build returns tags sorted by key, then fields sorted by key, each key once.
func (b *pointBuilder) build() []*pointpb.Field {
	// Stable: for equal keys the earlier (higher precedence) entry stays first.
	slices.SortStableFunc(b.kvs, func(x, y kv) int { return strings.Compare(x.key, y.key) })
	uniq := b.kvs[:0]
	nTags := 0
	for i, e := range b.kvs {
		if i > 0 && e.key == b.kvs[i-1].key {
			continue
		}
		if e.field.IsTag {
			nTags++
		}
		uniq = append(uniq, e)
	}
	out := make([]*pointpb.Field, len(uniq))
	ti, fi := 0, nTags
	for _, e := range uniq {
		if e.field.IsTag {
			out[ti] = e.field
			ti++
		} else {
			out[fi] = e.field
			fi++
		}
	}
	return out
}

// SpanToPoint converts one span into DataKit's tracing point (datakit-spec §1.8): the
// measurement is the source; standard tags and fields win over the span's extra ones,
// dk_fingerprint and global tags never override; '.' in keys becomes '_'.
func SpanToPoint(s *spanv1.DatakitSpan, o PointOptions) *pointpb.PBPoint {
	b := newPointBuilder(17 + len(s.GetTags()) + len(s.GetFields()) + len(o.GlobalTags))
	b.tag(TagSource, s.GetSource())
	b.tag(TagService, s.GetService())
	b.tag(TagSpanType, s.GetSpanType())
	b.tag(TagSourceType, s.GetSourceType())
	b.tag(TagStatus, s.GetStatus())
	for _, t := range [...]struct{ k, v string }{
		{TagOperation, s.GetOperation()}, {TagEnv, s.GetEnv()}, {TagProject, s.GetProject()}, {TagVersion, s.GetVersion()},
	} {
		if t.v != "" {
			b.tag(t.k, t.v)
		}
	}
	b.strField(FieldTraceID, s.GetTraceId())
	b.strField(FieldSpanID, s.GetSpanId())
	b.strField(FieldParentID, s.GetParentId())
	b.strField(FieldResource, s.GetResource())
	b.intField(FieldStart, s.GetStartUnixNano()/1000)
	b.intField(FieldDuration, s.GetDurationNano()/1000)
	if s.GetMessage() != "" {
		b.strField(FieldMessage, s.GetMessage())
	}
	for _, k := range sortedKeys(s.GetTags()) {
		b.tag(k, s.GetTags()[k])
	}
	if o.Hostname != "" {
		b.tag(TagDKFingerprint, o.Hostname)
	}
	for _, k := range sortedKeys(o.GlobalTags) {
		b.tag(k, o.GlobalTags[k])
	}
	fields := s.GetFields()
	for _, k := range sortedKeys(fields) {
		b.add(k, fieldValue(fields[k]))
	}
	return &pointpb.PBPoint{Name: measurement(s.GetSource()), Fields: b.build(), Time: s.GetStartUnixNano()}
}

// BatchToPoints converts every span of a batch, in order.
func BatchToPoints(batch *spanv1.TraceBatch, o PointOptions) []*pointpb.PBPoint {
	n := 0
	for _, t := range batch.GetTraces() {
		n += len(t.GetSpans())
	}
	out := make([]*pointpb.PBPoint, 0, n)
	for _, t := range batch.GetTraces() {
		for _, s := range t.GetSpans() {
			out = append(out, SpanToPoint(s, o))
		}
	}
	return out
}

// fieldValue maps a span field to a point field; NaN has no representation in line protocol
// or JSON and is dropped, infinities are clamped as cliutils does.
func fieldValue(v *spanv1.FieldValue) *pointpb.Field {
	switch x := v.GetKind().(type) {
	case *spanv1.FieldValue_I:
		return &pointpb.Field{Val: &pointpb.Field_I{I: x.I}}
	case *spanv1.FieldValue_U:
		return &pointpb.Field{Val: &pointpb.Field_U{U: x.U}}
	case *spanv1.FieldValue_F:
		f := x.F
		switch {
		case math.IsNaN(f):
			return nil
		case math.IsInf(f, 1):
			f = math.MaxUint64
		case math.IsInf(f, -1):
			f = math.MinInt64
		}
		return &pointpb.Field{Val: &pointpb.Field_F{F: f}}
	case *spanv1.FieldValue_B:
		return &pointpb.Field{Val: &pointpb.Field_B{B: x.B}}
	case *spanv1.FieldValue_D:
		return &pointpb.Field{Val: &pointpb.Field_D{D: x.D}}
	case *spanv1.FieldValue_S:
		return &pointpb.Field{Val: &pointpb.Field_S{S: x.S}}
	}
	return nil
}

// normalizeKey applies the tracing key rules: no dots, no newlines, no trailing backslash
// (it would escape the separator in line protocol), at most MaxKeyLen bytes.
func normalizeKey(k string) string {
	if normalKey(k) {
		return k
	}
	return normalizeSlow(k)
}

// normalKey reports keys normalizeKey leaves as they are, most of them: one byte scan
// instead of ContainsAny's set-up.
func normalKey(k string) bool {
	if len(k) > MaxKeyLen || (k != "" && k[len(k)-1] == '\\') {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] == '.' || k[i] == '\n' {
			return false
		}
	}
	return true
}

func normalizeSlow(k string) string {
	if strings.ContainsAny(k, ".\n") {
		k = keyReplacer.Replace(k)
	}
	k = strings.TrimRight(k, `\`)
	return truncate(k, MaxKeyLen)
}

var keyReplacer = strings.NewReplacer(".", "_", "\n", " ")

func measurement(name string) string {
	if name == "" {
		return DefaultMeasurement
	}
	return truncate(name, MaxMeasurementLen)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence (protobuf strings
// must stay valid UTF-8).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
