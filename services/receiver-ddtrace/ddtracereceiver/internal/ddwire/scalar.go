package ddwire

import (
	"fmt"
	"math"

	"github.com/tinylib/msgp/msgp"
)

// Str is a string that also decodes from msgpack bin and nil (nil: ""), as the agent does.
type Str string

// Uint64 decodes from any msgpack integer width, signed or not (a negative signed value
// keeps its bit pattern, as Java and PHP tracers send ids), from floats, and from nil.
type Uint64 uint64

// Int64 decodes from any msgpack integer or float, and from nil.
type Int64 int64

// Int32 decodes like Int64 and keeps the low 32 bits.
type Int32 int32

// Float64 decodes from float32, float64, any integer, and nil: tracers send integer metrics.
type Float64 float64

// Bool decodes from bool, nil (false) and integers (non-zero: true).
type Bool bool

// IndexPair is one meta entry of a v0.5 span: both sides index the string dictionary.
type IndexPair struct{ Key, Value uint32 }

// IndexMap is a v0.5 span's meta: a msgpack map of dictionary index to dictionary index.
// msgpack maps with integer keys are outside what the generator handles.
type IndexMap []IndexPair

// IndexFloat is one metrics entry of a v0.5 span.
type IndexFloat struct {
	Key   uint32
	Value float64
}

// IndexFloatMap is a v0.5 span's metrics: dictionary index to number.
type IndexFloatMap []IndexFloat

// number reads any msgpack number or nil.
func number(b []byte) (u uint64, i int64, f float64, kind msgp.Type, o []byte, err error) {
	if len(b) == 0 {
		return 0, 0, 0, msgp.InvalidType, b, msgp.ErrShortBytes
	}
	kind = msgp.NextType(b)
	switch kind {
	case msgp.NilType:
		o, err = msgp.ReadNilBytes(b)
	case msgp.IntType:
		i, o, err = msgp.ReadInt64Bytes(b)
	case msgp.UintType:
		u, o, err = msgp.ReadUint64Bytes(b)
	case msgp.Float64Type, msgp.Float32Type:
		f, o, err = msgp.ReadFloat64Bytes(b)
	default:
		return 0, 0, 0, kind, b, fmt.Errorf("want a number, got msgpack %s", kind)
	}
	return u, i, f, kind, o, err
}

func readUint64(b []byte) (uint64, []byte, error) {
	u, i, f, kind, o, err := number(b)
	if err != nil {
		return 0, b, err
	}
	switch kind {
	case msgp.IntType:
		return uint64(i), o, nil
	case msgp.Float64Type, msgp.Float32Type:
		if f < 0 || f >= math.MaxUint64 || math.IsNaN(f) {
			return uint64(int64(f)), o, nil
		}
		return uint64(f), o, nil
	}
	return u, o, nil
}

func readInt64(b []byte) (int64, []byte, error) {
	u, i, f, kind, o, err := number(b)
	if err != nil {
		return 0, b, err
	}
	switch kind {
	case msgp.UintType:
		return int64(u), o, nil
	case msgp.Float64Type, msgp.Float32Type:
		return int64(f), o, nil
	}
	return i, o, nil
}

func readFloat64(b []byte) (float64, []byte, error) {
	u, i, f, kind, o, err := number(b)
	if err != nil {
		return 0, b, err
	}
	switch kind {
	case msgp.UintType:
		return float64(u), o, nil
	case msgp.IntType:
		return float64(i), o, nil
	}
	return f, o, nil
}

func readStr(b []byte) (string, []byte, error) {
	if len(b) == 0 {
		return "", b, msgp.ErrShortBytes
	}
	switch t := msgp.NextType(b); t {
	case msgp.StrType:
		return msgp.ReadStringBytes(b)
	case msgp.BinType:
		v, o, err := msgp.ReadBytesZC(b)
		return string(v), o, err
	case msgp.NilType:
		o, err := msgp.ReadNilBytes(b)
		return "", o, err
	default:
		return "", b, fmt.Errorf("want a string, got msgpack %s", t)
	}
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (s *Str) UnmarshalMsg(b []byte) ([]byte, error) {
	v, o, err := readStr(b)
	*s = Str(v)
	return o, err
}

// MarshalMsg implements msgp.Marshaler.
func (s Str) MarshalMsg(b []byte) ([]byte, error) { return msgp.AppendString(b, string(s)), nil }

// Msgsize implements msgp.Sizer.
func (s Str) Msgsize() int { return msgp.StringPrefixSize + len(s) }

// UnmarshalMsg implements msgp.Unmarshaler.
func (v *Uint64) UnmarshalMsg(b []byte) ([]byte, error) {
	n, o, err := readUint64(b)
	*v = Uint64(n)
	return o, err
}

// MarshalMsg implements msgp.Marshaler.
func (v Uint64) MarshalMsg(b []byte) ([]byte, error) { return msgp.AppendUint64(b, uint64(v)), nil }

// Msgsize implements msgp.Sizer.
func (v Uint64) Msgsize() int { return msgp.Uint64Size }

// UnmarshalMsg implements msgp.Unmarshaler.
func (v *Int64) UnmarshalMsg(b []byte) ([]byte, error) {
	n, o, err := readInt64(b)
	*v = Int64(n)
	return o, err
}

// MarshalMsg implements msgp.Marshaler.
func (v Int64) MarshalMsg(b []byte) ([]byte, error) { return msgp.AppendInt64(b, int64(v)), nil }

// Msgsize implements msgp.Sizer.
func (v Int64) Msgsize() int { return msgp.Int64Size }

// UnmarshalMsg implements msgp.Unmarshaler.
func (v *Int32) UnmarshalMsg(b []byte) ([]byte, error) {
	n, o, err := readInt64(b)
	*v = Int32(n)
	return o, err
}

// MarshalMsg implements msgp.Marshaler.
func (v Int32) MarshalMsg(b []byte) ([]byte, error) { return msgp.AppendInt32(b, int32(v)), nil }

// Msgsize implements msgp.Sizer.
func (v Int32) Msgsize() int { return msgp.Int32Size }

// UnmarshalMsg implements msgp.Unmarshaler.
func (v *Float64) UnmarshalMsg(b []byte) ([]byte, error) {
	n, o, err := readFloat64(b)
	*v = Float64(n)
	return o, err
}

// MarshalMsg implements msgp.Marshaler.
func (v Float64) MarshalMsg(b []byte) ([]byte, error) { return msgp.AppendFloat64(b, float64(v)), nil }

// Msgsize implements msgp.Sizer.
func (v Float64) Msgsize() int { return msgp.Float64Size }

// UnmarshalMsg implements msgp.Unmarshaler.
func (v *Bool) UnmarshalMsg(b []byte) ([]byte, error) {
	if len(b) > 0 && msgp.NextType(b) == msgp.BoolType {
		x, o, err := msgp.ReadBoolBytes(b)
		*v = Bool(x)
		return o, err
	}
	n, o, err := readInt64(b)
	*v = n != 0
	return o, err
}

// MarshalMsg implements msgp.Marshaler.
func (v Bool) MarshalMsg(b []byte) ([]byte, error) { return msgp.AppendBool(b, bool(v)), nil }

// Msgsize implements msgp.Sizer.
func (v Bool) Msgsize() int { return msgp.BoolSize }

// mapHeader reads a map header (nil: empty) and refuses sizes the remaining bytes cannot
// hold, so a forged header cannot make us allocate.
func mapHeader(b []byte, minEntry int) (int, []byte, error) {
	if len(b) > 0 && msgp.IsNil(b) {
		o, err := msgp.ReadNilBytes(b)
		return 0, o, err
	}
	sz, o, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return 0, b, err
	}
	if uint64(sz)*uint64(minEntry) > uint64(len(o)) {
		return 0, b, fmt.Errorf("map of %d entries in %d bytes: %w", sz, len(o), msgp.ErrShortBytes)
	}
	return int(sz), o, nil
}

func index(b []byte) (uint32, []byte, error) {
	n, o, err := readUint64(b)
	if err != nil {
		return 0, b, err
	}
	if n > math.MaxUint32 {
		return 0, b, fmt.Errorf("string index %d out of range", n)
	}
	return uint32(n), o, nil
}

// UnmarshalMsg implements msgp.Unmarshaler.
func (m *IndexMap) UnmarshalMsg(b []byte) ([]byte, error) {
	sz, o, err := mapHeader(b, 2)
	if err != nil {
		return b, fmt.Errorf("meta: %w", err)
	}
	out := (*m)[:0]
	for range sz {
		var p IndexPair
		if p.Key, o, err = index(o); err != nil {
			return b, fmt.Errorf("meta key: %w", err)
		}
		if p.Value, o, err = index(o); err != nil {
			return b, fmt.Errorf("meta value: %w", err)
		}
		out = append(out, p)
	}
	*m = out
	return o, nil
}

// MarshalMsg implements msgp.Marshaler.
func (m IndexMap) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, uint32(len(m)))
	for _, p := range m {
		b = msgp.AppendUint32(b, p.Key)
		b = msgp.AppendUint32(b, p.Value)
	}
	return b, nil
}

// Msgsize implements msgp.Sizer.
func (m IndexMap) Msgsize() int { return msgp.MapHeaderSize + len(m)*2*msgp.Uint32Size }

// UnmarshalMsg implements msgp.Unmarshaler.
func (m *IndexFloatMap) UnmarshalMsg(b []byte) ([]byte, error) {
	sz, o, err := mapHeader(b, 2)
	if err != nil {
		return b, fmt.Errorf("metrics: %w", err)
	}
	out := (*m)[:0]
	for range sz {
		var p IndexFloat
		if p.Key, o, err = index(o); err != nil {
			return b, fmt.Errorf("metrics key: %w", err)
		}
		if p.Value, o, err = readFloat64(o); err != nil {
			return b, fmt.Errorf("metrics value: %w", err)
		}
		out = append(out, p)
	}
	*m = out
	return o, nil
}

// MarshalMsg implements msgp.Marshaler.
func (m IndexFloatMap) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, uint32(len(m)))
	for _, p := range m {
		b = msgp.AppendUint32(b, p.Key)
		b = msgp.AppendFloat64(b, p.Value)
	}
	return b, nil
}

// Msgsize implements msgp.Sizer.
func (m IndexFloatMap) Msgsize() int {
	return msgp.MapHeaderSize + len(m)*(msgp.Uint32Size+msgp.Float64Size)
}
