package spanmodel

import (
	"strings"
	"unicode/utf8"
)

// ValidString returns s with every invalid UTF-8 sequence replaced by U+FFFD. Wire decoders
// that do not validate strings (pdata, thrift) can hand a translator invalid UTF-8, and a
// proto3 string holding it makes the whole TraceBatch unmarshalable on the bus.
func ValidString(s string) string {
	if isASCII(s) || utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// isASCII is the translators' common case (short ASCII keys and values) at about half
// utf8.ValidString's cost: eight bytes per step, no per-rune branches.
func isASCII(s string) bool {
	// Re-slicing (rather than indexing s[i+k]) lets the compiler drop the bounds checks and
	// merge the eight byte loads into one.
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if w&0x8080808080808080 != 0 {
			return false
		}
		s = s[8:]
	}
	var acc byte
	for i := 0; i < len(s); i++ {
		acc |= s[i]
	}
	return acc < utf8.RuneSelf
}
