package ddwire

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/tinylib/msgp/msgp"
)

// KV is one entry of a span's meta or metrics.
type KV[V any] struct {
	Key   string
	Value V
}

// Meta is a span's meta. On the wire it is a map; here it is its entries sorted by key,
// each key once (a repeated key keeps its last value, as a Go map would). A slice because
// a Go map per span was half the allocations of a payload and its hashing, growth and
// random-order iteration (then sorted again for the message) most of the rest; the sorted
// slice is what the translator needs: lookups of a few keys, and the message in key order.
// Every decoder returns it normalized; one built by hand goes through MetaOf.
type Meta []KV[Str]

// Metrics is a span's metrics, sorted and unique like Meta.
type Metrics []KV[Float64]

// MetaOf is m as a Meta (nil when empty).
func MetaOf(m map[string]Str) Meta { return fromMap[Meta](m) }

// MetricsOf is m as a Metrics (nil when empty).
func MetricsOf(m map[string]Float64) Metrics { return fromMap[Metrics](m) }

// Get is the value of key k.
func (m Meta) Get(k string) (Str, bool) { return get(m, k) }

// Index is the position of key k.
func (m Meta) Index(k string) (int, bool) { return slices.BinarySearchFunc(m, k, compareKey[Str]) }

// Set stores v under k.
func (m *Meta) Set(k string, v Str) { *m = set(*m, k, v) }

// Get is the value of key k.
func (m Metrics) Get(k string) (Float64, bool) { return get(m, k) }

// Set stores v under k.
func (m *Metrics) Set(k string, v Float64) { *m = set(*m, k, v) }

func compareKey[V any](a KV[V], k string) int { return strings.Compare(a.Key, k) }

func get[S ~[]KV[V], V any](m S, k string) (V, bool) {
	if i, ok := slices.BinarySearchFunc(m, k, compareKey[V]); ok {
		return m[i].Value, true
	}
	var zero V
	return zero, false
}

func set[S ~[]KV[V], V any](m S, k string, v V) S {
	i, ok := slices.BinarySearchFunc(m, k, compareKey[V])
	if ok {
		m[i].Value = v
		return m
	}
	return slices.Insert(m, i, KV[V]{k, v})
}

func fromMap[S ~[]KV[V], V any](src map[string]V) S {
	if len(src) == 0 {
		return nil
	}
	m := make(S, 0, len(src))
	for k, v := range src {
		m = append(m, KV[V]{k, v})
	}
	return normalize(m)
}

// normalize sorts m by key and keeps the last entry of each repeated key, in place; empty
// is nil, so decoders agree on "no entries" whatever the wire said (a nil or an empty map).
func normalize[S ~[]KV[V], V any](m S) S {
	if len(m) == 0 {
		return nil
	}
	sorted := true
	for i := 1; i < len(m); i++ {
		if m[i-1].Key >= m[i].Key {
			sorted = false
			break
		}
	}
	if sorted {
		return m
	}
	// Stable, so that of equal keys the last one on the wire is the last one here.
	slices.SortStableFunc(m, func(a, b KV[V]) int { return strings.Compare(a.Key, b.Key) })
	out := m[:0]
	for i := range m {
		if i+1 < len(m) && m[i+1].Key == m[i].Key {
			continue
		}
		out = append(out, m[i])
	}
	return out
}

// readKVs reads a msgpack map of string keys the way the generated code read a Go map of
// them: same limit, nil handling and errors, wrapped with field as the generated code
// wraps them (the generated codec, which wraps what Meta.UnmarshalMsg returns itself,
// passes ""). Strings are copied or shared as d reads them (see strDecoder); entries are
// carved from *arena when arena is not nil.
func readKVs[S ~[]KV[V], V any](d *strDecoder, arena *S, b []byte, val func(*strDecoder, []byte) (V, []byte, error), field string) (S, []byte, error) {
	// wrap is the generated code's wrapping: the field, and the key for a value's error.
	wrap := func(err error, key string, valueErr bool) error {
		var ctx []any
		if field != "" {
			ctx = append(ctx, field)
		}
		if valueErr {
			ctx = append(ctx, key)
		}
		if len(ctx) == 0 {
			return err
		}
		return msgp.WrapError(err, ctx...)
	}
	if msgp.IsNil(b) {
		return nil, b[1:], nil
	}
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, b, wrap(err, "", false)
	}
	if n > limitMaps {
		return nil, b, msgp.ErrLimitExceeded
	}
	if 2*int64(n) > int64(len(b)) { // a key and a value take a byte each at least
		return nil, b, msgp.ErrShortBytes
	}
	if n <= smallMap {
		// Sorted (and deduplicated) in a stack array as the entries are read, then
		// copied once: sorting in the heap moved strings under write barriers, a fifth
		// of the decoding time while the GC runs.
		var buf [smallMap]KV[V]
		sm := buf[:0]
		for range n {
			e, o, valueErr, err := readEntry(d, b, val)
			if err != nil {
				return nil, o, wrap(err, e.Key, valueErr)
			}
			b = o
			sm = insertSorted(sm, e)
		}
		m := carve(arena, len(sm), len(b)+2*len(sm))
		return append(m, sm...), b, nil
	}
	m := carve(arena, int(n), len(b))
	for range n {
		e, o, valueErr, err := readEntry(d, b, val)
		if err != nil {
			return nil, o, wrap(err, e.Key, valueErr)
		}
		b = o
		m = append(m, e)
	}
	return normalize(m), b, nil
}

// readEntry reads a key and its value; valueErr tells that the value failed (the error
// then names the key).
func readEntry[V any](d *strDecoder, b []byte, val func(*strDecoder, []byte) (V, []byte, error)) (e KV[V], o []byte, valueErr bool, err error) {
	if e.Key, o, err = d.readString(b); err != nil {
		return e, o, false, err
	}
	if e.Value, o, err = val(d, o); err != nil {
		return e, o, true, err
	}
	return e, o, false, nil
}

// smallMap is the largest map readKVs sorts on the stack: spans carry a few dozen
// meta entries at most, usually about ten.
const smallMap = 32

// insertSorted adds e to the sorted, unique s, replacing the entry of the same key (the
// last on the wire wins, as in a map). s has room for e.
func insertSorted[V any](s []KV[V], e KV[V]) []KV[V] {
	i := len(s)
	for i > 0 && s[i-1].Key > e.Key {
		i--
	}
	if i > 0 && s[i-1].Key == e.Key {
		s[i-1].Value = e.Value
		return s
	}
	s = s[:len(s)+1]
	copy(s[i+1:], s[i:])
	s[i] = e
	return s
}

// carve is an empty slice with room for n entries, from *arena when there is one. Its
// capacity is exactly n, so an append by Set reallocates instead of writing over the next
// span's entries. The spans of a payload live and die together, so sharing costs nothing.
// rest is the number of bytes left in the body: every entry takes two at least, which
// keeps a small payload from allocating a whole chunk.
func carve[S ~[]KV[V], V any](arena *S, n, rest int) S {
	if n == 0 {
		return nil
	}
	if arena == nil || n > arenaChunk/4 {
		return make(S, 0, n)
	}
	if cap(*arena)-len(*arena) < n {
		*arena = make(S, 0, max(n, min(arenaChunk, rest/2)))
	}
	l := len(*arena)
	*arena = (*arena)[:l+n]
	return (*arena)[l : l : l+n]
}

// arenaChunk is how many meta (or metrics) entries the decoder allocates at once.
const arenaChunk = 256

func readStrValue(d *strDecoder, b []byte) (Str, []byte, error) { return d.readStr(b) }

func readFloatValue(_ *strDecoder, b []byte) (Float64, []byte, error) {
	v, o, err := readFloat64(b)
	return Float64(v), o, err
}

// copying is the decoder that copies strings; without an arena nothing writes to it.
var copying strDecoder

// UnmarshalMsg implements msgp.Unmarshaler.
func (m *Meta) UnmarshalMsg(b []byte) ([]byte, error) { return unmarshalKVs(m, b, readStrValue) }

// UnmarshalMsg implements msgp.Unmarshaler.
func (m *Metrics) UnmarshalMsg(b []byte) ([]byte, error) { return unmarshalKVs(m, b, readFloatValue) }

// MarshalMsg implements msgp.Marshaler: nil is msgpack nil, as the generated map code wrote.
func (m Meta) MarshalMsg(b []byte) ([]byte, error) { return marshalKVs(b, m) }

// MarshalMsg implements msgp.Marshaler.
func (m Metrics) MarshalMsg(b []byte) ([]byte, error) { return marshalKVs(b, m) }

// Msgsize implements msgp.Sizer.
func (m Meta) Msgsize() int { return msgsizeKVs(m) }

// Msgsize implements msgp.Sizer.
func (m Metrics) Msgsize() int { return msgsizeKVs(m) }

func unmarshalKVs[S ~[]KV[V], V any](m *S, b []byte, val func(*strDecoder, []byte) (V, []byte, error)) ([]byte, error) {
	v, o, err := readKVs[S](&copying, nil, b, val, "")
	if err != nil {
		return o, err
	}
	*m = v
	return o, nil
}

// wireValue is a value type of the wire model (Str, Float64).
type wireValue interface {
	msgp.Marshaler
	msgp.Sizer
}

func marshalKVs[S ~[]KV[V], V wireValue](b []byte, m S) ([]byte, error) {
	if m == nil {
		return msgp.AppendNil(b), nil
	}
	b = msgp.AppendMapHeader(b, uint32(len(m)))
	for _, e := range m {
		b = msgp.AppendString(b, e.Key)
		var err error
		if b, err = e.Value.MarshalMsg(b); err != nil {
			return b, msgp.WrapError(err, e.Key)
		}
	}
	return b, nil
}

func msgsizeKVs[S ~[]KV[V], V wireValue](m S) int {
	s := msgp.MapHeaderSize
	for _, e := range m {
		s += msgp.StringPrefixSize + len(e.Key) + e.Value.Msgsize()
	}
	return s
}

// UnmarshalJSON decodes a JSON object exactly as into a Go map (null clears, a repeated
// "meta" merges into the entries already there), then normalizes.
func (m *Meta) UnmarshalJSON(b []byte) error { return unmarshalJSON(m, b) }

// UnmarshalJSON is Meta.UnmarshalJSON for metrics.
func (m *Metrics) UnmarshalJSON(b []byte) error { return unmarshalJSON(m, b) }

func unmarshalJSON[S ~[]KV[V], V any](m *S, b []byte) error {
	var mp map[string]V
	if *m != nil {
		mp = make(map[string]V, len(*m))
		for _, e := range *m {
			mp[e.Key] = e.Value
		}
	}
	if err := json.Unmarshal(b, &mp); err != nil {
		return err
	}
	*m = fromMap[S](mp)
	return nil
}

// MarshalJSON writes the object encoding/json writes for the map (keys sorted).
func (m Meta) MarshalJSON() ([]byte, error) { return marshalJSON(m) }

// MarshalJSON writes the object encoding/json writes for the map (keys sorted).
func (m Metrics) MarshalJSON() ([]byte, error) { return marshalJSON(m) }

func marshalJSON[S ~[]KV[V], V any](m S) ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	mp := make(map[string]V, len(m))
	for _, e := range m {
		mp[e.Key] = e.Value
	}
	return json.Marshal(mp)
}
