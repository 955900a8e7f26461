package lineproto

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/types/known/anypb"
)

// Decode parses a line-protocol body. Lines without a timestamp get defaultTime (unix ns);
// blank lines and lines starting with '#' are skipped. Any malformed line fails the whole
// body, as Dataway answers 400 for it.
func Decode(data []byte, defaultTime int64) ([]*pointpb.PBPoint, error) {
	if !utf8.Valid(data) {
		return nil, &SyntaxError{Line: 0, Msg: "body is not valid UTF-8"}
	}
	d := decoder{s: string(data), line: 1}
	var out []*pointpb.PBPoint
	for {
		d.skipBlank()
		if d.eof() {
			return out, nil
		}
		p, err := d.point(defaultTime)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

type decoder struct {
	s    string
	i    int
	line int
}

func (d *decoder) eof() bool { return d.i >= len(d.s) }

func (d *decoder) err(msg string) error { return &SyntaxError{Line: d.line, Msg: msg} }

// skipBlank skips empty lines, whitespace-only lines and comments.
func (d *decoder) skipBlank() {
	for !d.eof() {
		switch c := d.s[d.i]; {
		case c == '\n':
			d.line++
			d.i++
		case c == ' ' || c == '\t' || c == '\r':
			d.i++
		case c == '#':
			for !d.eof() && d.s[d.i] != '\n' {
				d.i++
			}
		default:
			return
		}
	}
}

func (d *decoder) point(defaultTime int64) (*pointpb.PBPoint, error) {
	name, stop := d.token(measurementEscapes, ", \n")
	if name == "" {
		return nil, d.err("missing measurement")
	}
	p := &pointpb.PBPoint{Name: name, Time: defaultTime}
	for stop == ',' {
		d.i++
		key, c := d.token(keyEscapes, "=, \n")
		if key == "" || c != '=' {
			return nil, d.err("malformed tag")
		}
		d.i++
		val, c2 := d.token(keyEscapes, ", \n=")
		if val == "" || c2 == '=' {
			return nil, d.err("missing tag value for " + strconv.Quote(key))
		}
		p.Fields = append(p.Fields, &pointpb.Field{Key: key, IsTag: true, Val: &pointpb.Field_S{S: val}})
		stop = c2
	}
	if stop != ' ' {
		return nil, d.err("missing fields")
	}
	d.skipSpaces()
	nFields := 0
	for {
		key, c := d.token(keyEscapes, "=, \n")
		if key == "" || c != '=' {
			return nil, d.err("malformed field")
		}
		d.i++
		f, err := d.value()
		if err != nil {
			return nil, err
		}
		f.Key = key
		p.Fields = append(p.Fields, f)
		nFields++
		if !d.eof() && d.s[d.i] == ',' {
			d.i++
			continue
		}
		break
	}
	d.skipSpaces()
	if !d.eof() && d.s[d.i] != '\n' && d.s[d.i] != '\r' {
		j := d.i
		for j < len(d.s) && d.s[j] != '\n' && d.s[j] != ' ' && d.s[j] != '\r' && d.s[j] != '\t' {
			j++
		}
		ts, err := strconv.ParseInt(d.s[d.i:j], 10, 64)
		if err != nil {
			return nil, d.err("bad timestamp " + strconv.Quote(d.s[d.i:j]))
		}
		p.Time = ts
		d.i = j
		d.skipSpaces()
	}
	if !d.eof() && d.s[d.i] == '\r' {
		d.i++
	}
	if !d.eof() {
		if d.s[d.i] != '\n' {
			return nil, d.err("unexpected text after the timestamp")
		}
		d.i++
		d.line++
	}
	return p, nil
}

func (d *decoder) skipSpaces() {
	for !d.eof() && (d.s[d.i] == ' ' || d.s[d.i] == '\t') {
		d.i++
	}
}

// token reads up to the first unescaped byte of stops (returned, 0 at EOF). A backslash
// before a byte of escapes yields that byte; any other backslash is literal.
func (d *decoder) token(escapes, stops string) (string, byte) {
	start := d.i
	var b *strings.Builder
	for !d.eof() {
		c := d.s[d.i]
		if c == '\\' && d.i+1 < len(d.s) && strings.IndexByte(escapes, d.s[d.i+1]) >= 0 {
			if b == nil {
				b = &strings.Builder{}
				b.WriteString(d.s[start:d.i])
			}
			b.WriteByte(d.s[d.i+1])
			d.i += 2
			continue
		}
		if strings.IndexByte(stops, c) >= 0 {
			return d.result(b, start), c
		}
		if b != nil {
			b.WriteByte(c)
		}
		d.i++
	}
	return d.result(b, start), 0
}

func (d *decoder) result(b *strings.Builder, start int) string {
	if b != nil {
		return b.String()
	}
	return d.s[start:d.i]
}

func (d *decoder) value() (*pointpb.Field, error) {
	if d.eof() {
		return nil, d.err("missing field value")
	}
	switch d.s[d.i] {
	case '"':
		s, err := d.quoted()
		if err != nil {
			return nil, err
		}
		if !d.eof() && d.s[d.i] == 'b' {
			d.i++
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, d.err("bad base64 bytes value")
			}
			return &pointpb.Field{Val: &pointpb.Field_D{D: raw}}, nil
		}
		return &pointpb.Field{Val: &pointpb.Field_S{S: s}}, nil
	case '[':
		return d.array()
	}
	j := d.i
	for j < len(d.s) && d.s[j] != ',' && d.s[j] != ' ' && d.s[j] != '\n' && d.s[j] != '\r' && d.s[j] != '\t' {
		j++
	}
	tok := d.s[d.i:j]
	d.i = j
	b, err := d.basic(tok)
	if err != nil {
		return nil, err
	}
	return fieldOf(b), nil
}

// quoted reads a "..." string: \" and \\ are escapes, any other backslash is literal, and
// newlines are allowed inside.
func (d *decoder) quoted() (string, error) {
	d.i++ // opening quote
	start := d.i
	var b *strings.Builder
	for !d.eof() {
		c := d.s[d.i]
		switch {
		case c == '\\' && d.i+1 < len(d.s) && (d.s[d.i+1] == '"' || d.s[d.i+1] == '\\'):
			if b == nil {
				b = &strings.Builder{}
				b.WriteString(d.s[start:d.i])
			}
			b.WriteByte(d.s[d.i+1])
			d.i += 2
			continue
		case c == '"':
			s := d.result(b, start)
			d.i++
			return s, nil
		case c == '\n':
			d.line++
		}
		if b != nil {
			b.WriteByte(c)
		}
		d.i++
	}
	return "", d.err("unterminated string")
}

func (d *decoder) array() (*pointpb.Field, error) {
	d.i++ // [
	arr := &pointpb.Array{}
	for {
		if d.eof() {
			return nil, d.err("unterminated array")
		}
		if d.s[d.i] == ']' && len(arr.Arr) == 0 {
			d.i++
			break
		}
		var e *pointpb.BasicTypes
		if d.s[d.i] == '"' {
			s, err := d.quoted()
			if err != nil {
				return nil, err
			}
			e = &pointpb.BasicTypes{X: &pointpb.BasicTypes_S{S: s}}
			if !d.eof() && d.s[d.i] == 'b' {
				d.i++
				raw, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, d.err("bad base64 bytes value")
				}
				e = &pointpb.BasicTypes{X: &pointpb.BasicTypes_D{D: raw}}
			}
		} else {
			j := d.i
			for j < len(d.s) && d.s[j] != ',' && d.s[j] != ']' && d.s[j] != '\n' {
				j++
			}
			var err error
			if e, err = d.basic(d.s[d.i:j]); err != nil {
				return nil, err
			}
			d.i = j
		}
		arr.Arr = append(arr.Arr, e)
		if d.eof() {
			return nil, d.err("unterminated array")
		}
		if d.s[d.i] == ',' {
			d.i++
			continue
		}
		if d.s[d.i] != ']' {
			return nil, d.err("malformed array")
		}
		d.i++
		break
	}
	a, err := anypb.New(arr)
	if err != nil {
		return nil, d.err("array: " + err.Error())
	}
	return &pointpb.Field{Val: &pointpb.Field_A{A: a}}, nil
}

// basic parses an unquoted scalar: 1i, 1u, true/t/T/false/f/F, or a float.
func (d *decoder) basic(tok string) (*pointpb.BasicTypes, error) {
	if tok == "" {
		return nil, d.err("missing field value")
	}
	switch tok {
	case "t", "T", "true", "True", "TRUE":
		return &pointpb.BasicTypes{X: &pointpb.BasicTypes_B{B: true}}, nil
	case "f", "F", "false", "False", "FALSE":
		return &pointpb.BasicTypes{X: &pointpb.BasicTypes_B{B: false}}, nil
	}
	switch tok[len(tok)-1] {
	case 'i':
		v, err := strconv.ParseInt(tok[:len(tok)-1], 10, 64)
		if err != nil {
			return nil, d.err("bad integer " + strconv.Quote(tok))
		}
		return &pointpb.BasicTypes{X: &pointpb.BasicTypes_I{I: v}}, nil
	case 'u':
		v, err := strconv.ParseUint(tok[:len(tok)-1], 10, 64)
		if err != nil {
			return nil, d.err("bad unsigned integer " + strconv.Quote(tok))
		}
		return &pointpb.BasicTypes{X: &pointpb.BasicTypes_U{U: v}}, nil
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, d.err("bad field value " + strconv.Quote(tok))
	}
	return &pointpb.BasicTypes{X: &pointpb.BasicTypes_F{F: v}}, nil
}

func fieldOf(b *pointpb.BasicTypes) *pointpb.Field {
	switch x := b.GetX().(type) {
	case *pointpb.BasicTypes_I:
		return &pointpb.Field{Val: &pointpb.Field_I{I: x.I}}
	case *pointpb.BasicTypes_U:
		return &pointpb.Field{Val: &pointpb.Field_U{U: x.U}}
	case *pointpb.BasicTypes_F:
		return &pointpb.Field{Val: &pointpb.Field_F{F: x.F}}
	case *pointpb.BasicTypes_B:
		return &pointpb.Field{Val: &pointpb.Field_B{B: x.B}}
	}
	return &pointpb.Field{}
}
