package spanmodel

import "strconv"

// Hex128 is a 128-bit id as 32 lowercase hex digits, each half zero-padded to 16 (how
// Zipkin and Jaeger print a trace id whose high half is set).
func Hex128(high, low uint64) string {
	var buf [32]byte
	for i := range buf {
		buf[i] = '0'
	}
	h := strconv.AppendUint(make([]byte, 0, 16), high, 16)
	l := strconv.AppendUint(make([]byte, 0, 16), low, 16)
	copy(buf[16-len(h):16], h)
	copy(buf[32-len(l):], l)
	return string(buf[:])
}
