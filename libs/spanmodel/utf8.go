package spanmodel

import (
	"strings"
	"unicode/utf8"
)

// ValidString returns s with every invalid UTF-8 sequence replaced by U+FFFD. Wire decoders
// that do not validate strings (pdata, thrift) can hand a translator invalid UTF-8, and a
// proto3 string holding it makes the whole TraceBatch unmarshalable on the bus.
func ValidString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
