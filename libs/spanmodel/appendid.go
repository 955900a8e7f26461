package spanmodel

import "strconv"

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

// appendHex16 appends v as 16 lowercase hex digits, zero-padded.
func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	var buf [16]byte
	for i := 15; i >= 0; i-- {
		buf[i] = digits[v&0xf]
		v >>= 4
	}
	return append(b, buf[:]...)
}
