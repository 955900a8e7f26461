package spanmodel

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// jsonSafe (jsonHTMLSafe) marks the ASCII bytes AppendJSONString copies as they are: one
// table load per byte in the loop every hand-built message spends most of its time in.
var jsonSafe, jsonHTMLSafe = func() (plain, html [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		plain[c] = c >= 0x20 && c != '"' && c != '\\'
		html[c] = plain[c] && c != '<' && c != '>' && c != '&'
	}
	return plain, html
}()

// jsonSafeWord reports whether all eight bytes of w are safe ASCII (the table's true
// entries), eight at a time: a byte is unsafe when its high bit is set, when it is below
// 0x20, or when it equals one of the escaped characters (the has-zero-byte trick on w
// xor that character: exact for whether some byte matches).
func jsonSafeWord(w string, escapeHTML bool) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	has := func(c uint64) uint64 { v := x ^ (c * lo); return (v - lo) &^ v }
	bad := x | (x-0x20*lo)&^x | has('"') | has('\\')
	if escapeHTML {
		bad |= has('<') | has('>') | has('&')
	}
	return bad&hi == 0
}

// AppendJSONString appends s as a JSON string exactly as encoding/json writes it: invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped, \b \f \n \r \t short forms, other control
// characters as \u00XX, and with escapeHTML (json.Marshal's default) also <, > and &.
// Translators that build a span's `message` JSON by hand use it to match DataKit's bytes
// without reflection.
func AppendJSONString(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	safe := &jsonSafe
	if escapeHTML {
		safe = &jsonHTMLSafe
	}
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && jsonSafeWord(s[i:i+8], escapeHTML) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
