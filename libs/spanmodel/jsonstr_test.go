package spanmodel

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encodingJSON(t testing.TB, s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	require.NoError(t, enc.Encode(s))
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `<a href="x">&amp;</a>`, "\\\b\f\n\r\t\x00\x01\x1f\x7f", "é ü 😀", "\u2028\u2029",
		"\xff\xfe bad \xc3", "mixed <\xff> \u2028 \"q\"",
	} {
		for _, html := range []bool{true, false} {
			assert.Equal(t, encodingJSON(t, s, html), string(AppendJSONString([]byte("x"), s, html))[1:], "%q html=%v", s, html)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("<&>\u2028\xff\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			if got, want := string(AppendJSONString(nil, s, html)), encodingJSON(t, s, html); got != want {
				t.Fatalf("%q html=%v: got %s want %s", s, html, got, want)
			}
		}
	})
}

// TestJSONSafeWord checks the eight-byte test against the table for every byte at every
// position of a word of safe bytes.
func TestJSONSafeWord(t *testing.T) {
	for _, html := range []bool{true, false} {
		safe := &jsonSafe
		if html {
			safe = &jsonHTMLSafe
		}
		for c := 0; c < 256; c++ {
			for pos := 0; pos < 8; pos++ {
				for _, fill := range []byte{'a', ' ', '~', '!'} {
					w := bytes.Repeat([]byte{fill}, 8)
					w[pos] = byte(c)
					want := c < 0x80 && safe[c]
					if got := jsonSafeWord(string(w), html); got != want {
						t.Fatalf("jsonSafeWord(%q, html=%v) = %v, want %v", w, html, got, want)
					}
				}
			}
		}
	}
}
