package spanmodel

// Hex128 is a 128-bit id as 32 lowercase hex digits, each half zero-padded to 16 (how
// Zipkin and Jaeger print a trace id whose high half is set).
func Hex128(high, low uint64) string {
	var buf [32]byte
	return string(AppendHex128(buf[:0], high, low))
}
