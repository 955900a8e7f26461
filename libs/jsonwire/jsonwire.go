// Package jsonwire reads a JSON payload token by token with the Go team's jsontext
// tokenizer (github.com/go-json-experiment/json), for receivers that decode a protocol's
// JSON into its library's model with that library's exact rules instead of reflection.
//
// A Reader works on one payload held in memory: strings without escapes come out as
// slices of one private string copy of the payload, so a payload's strings cost one
// allocation in all (and keep each other alive, as a payload's spans do anyway).
package jsonwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Syntax is the grammar a Reader accepts beyond RFC 8259's.
type Syntax int

const (
	// Strict is RFC 8259 with valid UTF-8 (protojson's strings), duplicate names allowed.
	Strict Syntax = iota
	// Lenient is encoding/json's: invalid UTF-8 and lone surrogate escapes are accepted
	// (and decode to U+FFFD), duplicate names too.
	Lenient
)

var (
	strictOpts  = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(false)}
	lenientOpts = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}
)

// Reader reads one payload. Get one with NewReader and hand it back with Release.
type Reader struct {
	dec   jsontext.Decoder
	buf   bytes.Buffer
	data  []byte // the payload
	str   string // the payload, for the strings without escapes
	raw   []byte // a private copy of the payload, made by the first Bytes
	start int64  // offset of the last value read
	tmp   []byte
	// strict: the tokenizer refused invalid UTF-8, so only escapes make a string differ
	// from its bytes.
	strict bool
}

var readers = sync.Pool{New: func() any { return new(Reader) }}

// NewReader reads data, which must not change until Release.
func NewReader(data []byte, syntax Syntax) *Reader {
	return newReader(data, string(data), syntax)
}

// Sub reads v, the last value Value returned, on its own with the same syntax: its
// strings are slices of r's payload copy too. Release it before reading on with r.
func (r *Reader) Sub(v jsontext.Value) *Reader {
	syntax := Lenient
	if r.strict {
		syntax = Strict
	}
	if s := r.start; s >= 0 && int(s)+len(v) <= len(r.str) {
		return newReader(v, r.str[s:int(s)+len(v)], syntax)
	}
	return NewReader(v, syntax)
}

func newReader(data []byte, str string, syntax Syntax) *Reader {
	r := readers.Get().(*Reader)
	r.buf = *bytes.NewBuffer(data)
	r.data, r.str, r.raw = data, str, nil
	opts := strictOpts
	r.strict = syntax != Lenient
	if syntax == Lenient {
		opts = lenientOpts
	}
	// A bytes.Buffer is tokenized in place, without a copy.
	r.dec.Reset(&r.buf, opts...)
	return r
}

// Release returns r to the pool; r and the values it returned must not be used after.
func (r *Reader) Release() {
	r.buf = bytes.Buffer{}
	r.data, r.str, r.raw = nil, "", nil
	r.dec.Reset(&r.buf)
	if cap(r.tmp) > 64<<10 {
		r.tmp = nil
	}
	readers.Put(r)
}

// Peek is the kind of the next token: 'n', 'f', 't', '"', '0', '{', '}', '[', ']', or 0
// when the input ends or is invalid there (the next read reports why).
func (r *Reader) Peek() jsontext.Kind { return r.dec.PeekKind() }

// Open reads the '{' or '[' that must come next.
func (r *Reader) Open(kind jsontext.Kind) error {
	tok, err := r.dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != kind {
		return fmt.Errorf("want %v, got %v", kind, tok.Kind())
	}
	return nil
}

// More reports whether the object or array being read has another member (or name).
func (r *Reader) More() bool {
	k := r.dec.PeekKind()
	return k != '}' && k != ']' && k != 0
}

// Close reads the '}' or ']' that ends the object or array (or the error More hid).
func (r *Reader) Close() error {
	_, err := r.dec.ReadToken()
	return err
}

// Value reads the next value (or object name) raw, as in the input; it is only valid
// until the next read.
func (r *Reader) Value() (jsontext.Value, error) {
	v, err := r.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	r.start = r.dec.InputOffset() - int64(len(v))
	return v, nil
}

// Skip reads the next value and drops it.
func (r *Reader) Skip() error { return r.dec.SkipValue() }

// Errors for a value of the wrong kind, for the decoders built on a Reader.
var (
	ErrTrailingData = errors.New("invalid data after the top-level value") // from End
	ErrWantObject   = errors.New("want an object")
	ErrWantArray    = errors.New("want an array")
	ErrWantString   = errors.New("want a string")
	ErrWantBool     = errors.New("want true or false")
)

// End checks that nothing but whitespace follows the top-level value.
func (r *Reader) End() error {
	_, err := r.dec.ReadToken()
	switch {
	case err == io.EOF:
		return nil
	case err == nil:
		return ErrTrailingData
	}
	return err
}

// Bytes is a copy of v (the last value Value returned) that stays valid: a slice of one
// private copy of the payload, capped so that appending to it copies.
func (r *Reader) Bytes(v jsontext.Value) []byte {
	if r.raw == nil {
		r.raw = bytes.Clone(r.data)
	}
	s := int(r.start)
	if s < 0 || s+len(v) > len(r.raw) {
		return bytes.Clone(v)
	}
	return r.raw[s : s+len(v) : s+len(v)]
}

// String is the string value v (the last one Value returned) unescaped; invalid UTF-8
// and lone surrogates decode to U+FFFD (reachable only with Lenient).
func (r *Reader) String(v jsontext.Value) string {
	if s, ok := r.verbatim(v); ok {
		return s
	}
	r.tmp, _ = jsontext.AppendUnquote(r.tmp[:0], v) // v was validated: only U+FFFD errors remain
	return string(r.tmp)
}

// Slice is v[i:j] (v the last value Value returned) as a string that stays valid, a slice
// of the payload string; the caller vouches that those bytes are what it wants verbatim.
func (r *Reader) Slice(v jsontext.Value, i, j int) string {
	if s := r.start + int64(i); s >= 0 && int(s)+j-i <= len(r.str) {
		return r.str[s : int(s)+j-i]
	}
	return string(v[i:j])
}

// Name is the object name or string v (the last one Value returned) unescaped, valid
// until the next read.
func (r *Reader) Name(v jsontext.Value) []byte {
	if r.plain(v) {
		return v[1 : len(v)-1]
	}
	r.tmp, _ = jsontext.AppendUnquote(r.tmp[:0], v)
	return r.tmp
}

// verbatim is v's contents as a slice of the payload string when it has no escapes and
// is valid UTF-8.
func (r *Reader) verbatim(v jsontext.Value) (string, bool) {
	if !r.plain(v) {
		return "", false
	}
	if s := r.start + 1; s >= 0 && int(s)+len(v)-2 <= len(r.str) {
		return r.str[s : int(s)+len(v)-2], true
	}
	return string(v[1 : len(v)-1]), true
}

// plain reports whether the quoted string v, as the tokenizer took it, decodes to its own
// bytes.
func (r *Reader) plain(v jsontext.Value) bool {
	if r.strict {
		return bytes.IndexByte(v[1:len(v)-1], '\\') < 0
	}
	return plain(v)
}

// plain reports whether the quoted string v decodes to its own bytes.
func plain(v jsontext.Value) bool {
	s := v[1 : len(v)-1]
	// Eight bytes at a time while they are ASCII without a backslash.
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64(s)
		y := x ^ 0x5c5c5c5c5c5c5c5c // a zero byte where x has '\\'
		if (x|((y-0x0101010101010101)&^y))&0x8080808080808080 != 0 {
			break
		}
		s = s[8:]
	}
	ascii := true
	for _, c := range s {
		if c == '\\' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(v[1:len(v)-1])
}

// Fields matches object names to a struct's fields as encoding/json (v1) does: an exact
// match first, else the first field whose name is equal under Unicode case folding.
type Fields struct {
	names     []string
	spellings []spelling
	folded    map[string]int
}

type spelling struct {
	name  string
	field int
}

// NewFields takes the field names in encoding/json's field order (by index sequence);
// Lookup returns the position of the matching one.
func NewFields(names ...string) *Fields {
	f := &Fields{names: names, folded: make(map[string]int, len(names))}
	for i, n := range names {
		k := string(FoldName(nil, []byte(n)))
		if _, ok := f.folded[k]; !ok {
			f.folded[k] = i
		}
	}
	return f
}

// WithSpellings makes the usual spellings of names that only match by folding (a struct
// without tags: "serviceName" for ServiceName) as quick to look up as exact names; they
// match what they matched before.
func (f *Fields) WithSpellings(names ...string) *Fields {
	for _, n := range names {
		if i := f.Lookup([]byte(n)); i >= 0 {
			f.spellings = append(f.spellings, spelling{name: n, field: i})
		}
	}
	return f
}

// Lookup is the field name matches, or -1.
func (f *Fields) Lookup(name []byte) int {
	// A struct has a handful of fields: comparing beats hashing.
	for i, n := range f.names {
		if len(n) == len(name) && n == string(name) {
			return i
		}
	}
	for _, sp := range f.spellings {
		if len(sp.name) == len(name) && sp.name == string(name) {
			return sp.field
		}
	}
	var buf [32]byte
	if i, ok := f.folded[string(FoldName(buf[:0], name))]; ok {
		return i
	}
	return -1
}

// FoldName appends encoding/json's folded form of name: ASCII upper-cased, any other
// rune replaced by the smallest rune of its simple-folding orbit.
func FoldName(dst, name []byte) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
