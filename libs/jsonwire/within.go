package jsonwire

import "github.com/go-json-experiment/json/jsontext"

// StringWithin is String for the quoted string v[i:j] inside v, the last value Value
// returned (an object read whole and walked by its caller): unescaped, and a slice of the
// payload copy when it has no escapes.
func (r *Reader) StringWithin(v jsontext.Value, i, j int) string {
	q := v[i:j]
	if r.plain(q) {
		return r.Slice(v, i+1, j-1)
	}
	r.tmp, _ = jsontext.AppendUnquote(r.tmp[:0], q) // v was validated: only U+FFFD errors remain
	return string(r.tmp)
}
