package dataway

import (
	"math"
	"unicode/utf8"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/encoding/protowire"
)

// appendPoint appends p's protobuf encoding exactly as proto.Marshal writes it (fields in
// number order but the oneof value last, proto3 zero values left out),
// without protobuf-go's per-field oneof dispatch, which with proto.Size was most of the
// encoding cost. ok is false for what it does not write by hand (warns, debugs, Any values,
// nil fields, unknown fields: none of which span points carry) and for invalid UTF-8, where
// proto.Marshal fails: the caller then uses proto.Marshal.
func appendPoint(b []byte, p *pointpb.PBPoint) (_ []byte, ok bool) {
	if len(p.Warns) > 0 || len(p.Debugs) > 0 || len(p.ProtoReflect().GetUnknown()) > 0 {
		return b, false
	}
	if p.Name != "" {
		if !utf8.ValidString(p.Name) {
			return b, false
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, p.Name)
	}
	for _, f := range p.Fields {
		if f == nil || len(f.ProtoReflect().GetUnknown()) > 0 {
			return b, false
		}
		n, ok := fieldSize(f)
		if !ok {
			return b, false
		}
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		b = appendField(b, f)
	}
	if p.Time != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(p.Time))
	}
	return b, true
}

// fieldSize is the encoded size of f; ok is false where appendPoint gives up.
func fieldSize(f *pointpb.Field) (n int, ok bool) {
	str := func(num protowire.Number, s string, always bool) bool {
		if s == "" && !always {
			return true
		}
		if !utf8.ValidString(s) {
			return false
		}
		n += protowire.SizeTag(num) + protowire.SizeBytes(len(s))
		return true
	}
	if !str(1, f.Key, false) {
		return 0, false
	}
	switch v := f.Val.(type) {
	case nil:
	case *pointpb.Field_I:
		n += protowire.SizeTag(2) + protowire.SizeVarint(uint64(v.I))
	case *pointpb.Field_U:
		n += protowire.SizeTag(3) + protowire.SizeVarint(v.U)
	case *pointpb.Field_F:
		n += protowire.SizeTag(4) + protowire.SizeFixed64()
	case *pointpb.Field_B:
		n += protowire.SizeTag(5) + protowire.SizeVarint(protowire.EncodeBool(v.B))
	case *pointpb.Field_D:
		n += protowire.SizeTag(6) + protowire.SizeBytes(len(v.D))
	case *pointpb.Field_S:
		if !str(11, v.S, true) {
			return 0, false
		}
	default:
		return 0, false // Any
	}
	if f.IsTag {
		n += protowire.SizeTag(8) + 1
	}
	if f.Type != 0 {
		n += protowire.SizeTag(9) + protowire.SizeVarint(uint64(int64(f.Type)))
	}
	if !str(10, f.Unit, false) || !str(12, f.Description, false) {
		return 0, false
	}
	return n, true
}

// appendField writes f, which fieldSize accepted.
func appendField(b []byte, f *pointpb.Field) []byte {
	if f.Key != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, f.Key)
	}
	if f.IsTag {
		b = protowire.AppendTag(b, 8, protowire.VarintType)
		b = append(b, 1)
	}
	if f.Type != 0 {
		b = protowire.AppendTag(b, 9, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(f.Type)))
	}
	if f.Unit != "" {
		b = protowire.AppendTag(b, 10, protowire.BytesType)
		b = protowire.AppendString(b, f.Unit)
	}
	if f.Description != "" {
		b = protowire.AppendTag(b, 12, protowire.BytesType)
		b = protowire.AppendString(b, f.Description)
	}
	// protobuf-go writes oneof members after the other fields (its legacy field order).
	switch v := f.Val.(type) {
	case *pointpb.Field_I:
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.I))
	case *pointpb.Field_U:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, v.U)
	case *pointpb.Field_F:
		b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.F))
	case *pointpb.Field_B:
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v.B))
	case *pointpb.Field_D:
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, v.D)
	case *pointpb.Field_S:
		b = protowire.AppendTag(b, 11, protowire.BytesType)
		b = protowire.AppendString(b, v.S)
	}
	return b
}
