package spanmodel

import (
	"encoding/hex"
	"strconv"
)

// FormatSpanIDByBase is DataKit's id printer: 0 is "0", base 10 is decimal, anything else
// is zero-padded 16 lowercase hex digits.
func FormatSpanIDByBase(id uint64, base int) string {
	if id == 0 {
		return "0"
	}
	if base == 10 {
		return strconv.FormatUint(id, 10)
	}
	var buf [16]byte
	return string(appendHex16(buf[:0], id))
}

// HexID is the lowercase hex of raw id bytes; an empty id, or one of all zero bytes, is "0"
// as DataKit prints a missing parent.
func HexID(b []byte) string {
	zero := true
	for _, c := range b {
		if c != 0 {
			zero = false
			break
		}
	}
	if zero {
		return "0"
	}
	return hex.EncodeToString(b)
}

// UnifyToUint64ID maps any id string to the uint64 DataKit's sampler hashes, so a trace gets
// the same decision whichever protocol or instance saw it (datakit-spec §2.4).
func UnifyToUint64ID(id string) uint64 {
	if id == "" {
		return 0
	}
	if isDigits(id) {
		if v, err := strconv.ParseUint(id, 10, 64); err == nil {
			return v
		}
	} else if isLowerHex(id) {
		if v, err := strconv.ParseUint(id, 16, 64); err == nil {
			return v
		}
	}
	// The hex of the id's ASCII bytes, last 16 digits: the last 8 characters, big-endian.
	tail := id
	if len(tail) > 8 {
		tail = tail[len(tail)-8:]
	}
	var v uint64
	for i := 0; i < len(tail); i++ {
		v = v<<8 | uint64(tail[i])
	}
	return v
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// HTTPStatusClass is DataKit's GetClass: "2xx" for "200", "" when the code does not start
// with 1..5.
func HTTPStatusClass(code string) string {
	if code == "" || code[0] < '1' || code[0] > '5' {
		return ""
	}
	return code[:1] + "xx"
}
