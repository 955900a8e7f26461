package spanmodel

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestIsASCII puts a non-ASCII byte at every position of strings around the 8-byte steps.
func TestIsASCII(t *testing.T) {
	for n := 0; n <= 20; n++ {
		s := strings.Repeat("a", n)
		if !isASCII(s) {
			t.Fatalf("isASCII(%q) = false", s)
		}
		for i := 0; i < n; i++ {
			for _, c := range []byte{0x80, 0xff, 0xc3} {
				b := []byte(s)
				b[i] = c
				if isASCII(string(b)) {
					t.Fatalf("isASCII(%q) = true", b)
				}
				if got, want := ValidString(string(b)), strings.ToValidUTF8(string(b), "\uFFFD"); got != want || !utf8.ValidString(got) {
					t.Fatalf("ValidString(%q) = %q, want %q", b, got, want)
				}
			}
		}
	}
}
