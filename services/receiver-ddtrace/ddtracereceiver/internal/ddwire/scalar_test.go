package ddwire

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every numeric encoding a tracer may use decodes into every numeric field type.
func TestNumericVariants(t *testing.T) {
	tests := []struct {
		name string
		enc  []byte
		u    uint64
		i    int64
		f    float64
	}{
		{"nil", msgp.AppendNil(nil), 0, 0, 0},
		{"fixint", []byte{0x05}, 5, 5, 5},
		{"negative fixint", []byte{0xff}, math.MaxUint64, -1, -1},
		{"uint8", msgp.AppendUint8(nil, 200), 200, 200, 200},
		{"uint16", msgp.AppendUint16(nil, 60000), 60000, 60000, 60000},
		{"uint32", msgp.AppendUint32(nil, 4e9), 4e9, 4e9, 4e9},
		{"uint64 max", msgp.AppendUint64(nil, math.MaxUint64), math.MaxUint64, -1, math.MaxUint64},
		{"int8", []byte{0xd0, 0x85}, uint64(math.MaxUint64 - 122), -123, -123},
		{"int16", msgp.AppendInt16(nil, -300), uint64(1<<64 - 300), -300, -300},
		{"int32", []byte{0xd2, 0x7f, 0xff, 0xff, 0xff}, math.MaxInt32, math.MaxInt32, math.MaxInt32},
		{"int64", msgp.AppendInt64(nil, -2), math.MaxUint64 - 1, -2, -2},
		{"float32", msgp.AppendFloat32(nil, 2.5), 2, 2, 2.5},
		{"float64", msgp.AppendFloat64(nil, 1e3), 1000, 1000, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u Uint64
			rest, err := u.UnmarshalMsg(append(tt.enc, 0xc3))
			require.NoError(t, err)
			assert.Equal(t, []byte{0xc3}, rest, "exactly one value consumed")
			assert.Equal(t, tt.u, uint64(u))
			var i Int64
			_, err = i.UnmarshalMsg(tt.enc)
			require.NoError(t, err)
			assert.Equal(t, tt.i, int64(i))
			var f Float64
			_, err = f.UnmarshalMsg(tt.enc)
			require.NoError(t, err)
			assert.InDelta(t, tt.f, float64(f), 1e-9*math.Abs(tt.f))
		})
	}
}

func TestStrAndBool(t *testing.T) {
	var s Str
	_, err := s.UnmarshalMsg(msgp.AppendBytes(nil, []byte("bin")))
	require.NoError(t, err)
	assert.Equal(t, Str("bin"), s)
	_, err = s.UnmarshalMsg(msgp.AppendNil(nil))
	require.NoError(t, err)
	assert.Equal(t, Str(""), s)
	_, err = s.UnmarshalMsg(msgp.AppendInt(nil, 1))
	assert.ErrorContains(t, err, "want a string, got msgpack int")
	_, err = s.UnmarshalMsg(nil)
	require.ErrorIs(t, err, msgp.ErrShortBytes)

	var b Bool
	for enc, want := range map[string]bool{string(msgp.AppendBool(nil, true)): true, string(msgp.AppendNil(nil)): false, "\x01": true, "\x00": false} {
		_, err := b.UnmarshalMsg([]byte(enc))
		require.NoError(t, err)
		assert.Equal(t, want, bool(b))
	}
	var u Uint64
	_, err = u.UnmarshalMsg(msgp.AppendString(nil, "1"))
	assert.ErrorContains(t, err, "want a number, got msgpack str")
}

func TestIndexMapRefusesForgedSizes(t *testing.T) {
	var m IndexMap
	_, err := m.UnmarshalMsg([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	require.ErrorContains(t, err, "map of 4294967295 entries")
	var fm IndexFloatMap
	_, err = fm.UnmarshalMsg(msgp.AppendNil(nil))
	require.NoError(t, err)
	assert.Empty(t, fm)
	enc, err := IndexFloatMap{{Key: 1, Value: 0.5}}.MarshalMsg(nil)
	require.NoError(t, err)
	_, err = fm.UnmarshalMsg(enc)
	require.NoError(t, err)
	assert.Equal(t, IndexFloatMap{{Key: 1, Value: 0.5}}, fm)
}

func TestDecodeRejectsTruncatedAndEmpty(t *testing.T) {
	for name, body := range map[string][]byte{"empty": nil, "truncated": {0x91, 0x92, 0x80}} {
		_, err := DecodeTraces(body, MsgPack)
		assert.ErrorContains(t, err, "malformed msgpack", name)
	}
	ts, err := DecodeTraces([]byte(" [[]]"), Sniff)
	require.NoError(t, err, "JSON sniffed from the first byte")
	assert.Len(t, ts, 1)
}
