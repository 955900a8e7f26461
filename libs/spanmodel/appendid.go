package spanmodel

import (
	"encoding/binary"
	"strconv"
)

// AppendSpanIDByBase appends FormatSpanIDByBase(id, base), for a translator that prints all
// of a payload's ids into one buffer and takes substrings of it (one allocation instead of
// one per id).
func AppendSpanIDByBase(b []byte, id uint64, base int) []byte {
	if id == 0 {
		return append(b, '0')
	}
	if base == 10 {
		return strconv.AppendUint(b, id, 10)
	}
	return appendHex16(b, id)
}

// AppendHex128 appends Hex128(high, low).
func AppendHex128(b []byte, high, low uint64) []byte {
	return appendHex16(appendHex16(b, high), low)
}

// AppendHex16 appends v as 16 lowercase hex digits, zero-padded (%016x, 0 included),
// as Zipkin's JSON writes ids.
func AppendHex16(b []byte, v uint64) []byte { return appendHex16(b, v) }

// appendHex16 appends v as 16 lowercase hex digits, zero-padded, eight digits per word
// operation (hex8): ids are printed for every span of every payload.
func appendHex16(b []byte, v uint64) []byte {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], hex8(uint32(v>>32)))
	binary.BigEndian.PutUint64(buf[8:], hex8(uint32(v)))
	return append(b, buf[:]...)
}

// hex8 is the 8 lowercase hex digits of v, the first in the most significant byte: the
// nibbles are spread one per byte and turned into digits with word arithmetic.
func hex8(v uint32) uint64 {
	const lo = 0x0101010101010101
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f // byte i holds nibble i
	letter := ((x + 6*lo) >> 4) & lo    // 1 in each byte whose nibble is 10..15
	return x + '0'*lo + letter*('a'-'0'-10)
}
