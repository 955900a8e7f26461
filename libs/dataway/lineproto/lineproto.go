// Package lineproto writes and reads DataKit's line protocol (datakit-spec §3.2), the v1
// body of /v1/write/<category>, over Dataway's protobuf point model:
//
//	measurement[,tag=v...] field=v[,field=v...] [timestamp-ns]
//
// Ints end in i, uints in u, floats are shortest form, strings are quoted with \" and \\
// escapes, bytes are base64 "..."b, arrays are [v,...]. Measurements escape ',' and ' ';
// keys and tag values escape ',', '=' and ' '.
package lineproto

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/types/known/anypb"
)

// ErrNoFields is returned for a point that has no field line protocol can carry: such a
// line would not parse on Dataway.
var ErrNoFields = errors.New("point has no encodable field")

// AppendPoint appends p as one line (with the trailing newline) to dst. Tags are written
// sorted by key; tags with empty values and fields line protocol cannot carry (NaN, maps)
// are left out, since Dataway would reject the whole line.
func AppendPoint(dst []byte, p *pointpb.PBPoint) ([]byte, error) {
	start := len(dst)
	dst = appendEscaped(dst, measurementName(p.GetName()), measurementEscapes)
	// Tags usually come sorted (every span point does): then they are written in place.
	tags := p.GetFields()
	if !tagsInOrder(tags) {
		tags = tagsSorted(tags)
	}
	for _, t := range tags {
		if !t.GetIsTag() {
			continue
		}
		v := strings.TrimRight(t.GetS(), `\`)
		if v == "" || t.GetKey() == "" {
			continue
		}
		dst = append(dst, ',')
		dst = appendEscaped(dst, t.GetKey(), keyEscapes)
		dst = append(dst, '=')
		dst = appendEscaped(dst, v, keyEscapes)
	}
	sep := byte(' ')
	n := 0
	for _, f := range p.GetFields() {
		if f.GetIsTag() || f.GetKey() == "" {
			continue
		}
		mark := len(dst)
		dst = append(dst, sep)
		dst = appendEscaped(dst, f.GetKey(), keyEscapes)
		dst = append(dst, '=')
		var ok bool
		if dst, ok = appendValue(dst, f); !ok {
			dst = dst[:mark]
			continue
		}
		sep = ','
		n++
	}
	if n == 0 {
		return dst[:start], ErrNoFields
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.GetTime(), 10)
	return append(dst, '\n'), nil
}

func measurementName(n string) string {
	if n == "" {
		return "__default"
	}
	return n
}

// tagsInOrder reports whether the tags among fields are in non-decreasing key order.
func tagsInOrder(fields []*pointpb.Field) bool {
	prev := ""
	for _, f := range fields {
		if f.GetIsTag() {
			if f.GetKey() < prev {
				return false
			}
			prev = f.GetKey()
		}
	}
	return true
}

func tagsSorted(fields []*pointpb.Field) []*pointpb.Field {
	var tags []*pointpb.Field
	sorted := true
	for _, f := range fields {
		if f.GetIsTag() {
			if len(tags) > 0 && tags[len(tags)-1].GetKey() > f.GetKey() {
				sorted = false
			}
			tags = append(tags, f)
		}
	}
	if !sorted {
		sort.SliceStable(tags, func(i, j int) bool { return tags[i].GetKey() < tags[j].GetKey() })
	}
	return tags
}

func appendValue(dst []byte, f *pointpb.Field) ([]byte, bool) {
	switch v := f.GetVal().(type) {
	case *pointpb.Field_I:
		return append(strconv.AppendInt(dst, v.I, 10), 'i'), true
	case *pointpb.Field_U:
		return append(strconv.AppendUint(dst, v.U, 10), 'u'), true
	case *pointpb.Field_F:
		return appendFloat(dst, v.F)
	case *pointpb.Field_B:
		return strconv.AppendBool(dst, v.B), true
	case *pointpb.Field_S:
		return appendString(dst, v.S), true
	case *pointpb.Field_D:
		return appendBytes(dst, v.D), true
	case *pointpb.Field_A:
		return appendArray(dst, v.A)
	}
	return dst, false
}

func appendFloat(dst []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64), true
}

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"', 'b')
}

func appendArray(dst []byte, a *anypb.Any) ([]byte, bool) {
	var arr pointpb.Array
	if a == nil || a.MessageIs(&pointpb.Map{}) || a.UnmarshalTo(&arr) != nil || len(arr.GetArr()) == 0 {
		return dst, false
	}
	dst = append(dst, '[')
	for i, e := range arr.GetArr() {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		switch x := e.GetX().(type) {
		case *pointpb.BasicTypes_I:
			dst, ok = append(strconv.AppendInt(dst, x.I, 10), 'i'), true
		case *pointpb.BasicTypes_U:
			dst, ok = append(strconv.AppendUint(dst, x.U, 10), 'u'), true
		case *pointpb.BasicTypes_F:
			dst, ok = appendFloat(dst, x.F)
		case *pointpb.BasicTypes_B:
			dst, ok = strconv.AppendBool(dst, x.B), true
		case *pointpb.BasicTypes_S:
			dst, ok = appendString(dst, x.S), true
		case *pointpb.BasicTypes_D:
			dst, ok = appendBytes(dst, x.D), true
		}
		if !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

const (
	measurementEscapes = ", "
	keyEscapes         = ",= "
)

// appendEscaped writes s with a backslash before every byte in special; newlines cannot be
// escaped in line protocol and become spaces.
func appendEscaped(dst []byte, s, special string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			c = ' '
			if strings.IndexByte(special, ' ') >= 0 {
				dst = append(dst, '\\')
			}
		case strings.IndexByte(special, c) >= 0:
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst
}

// SyntaxError locates a decoding failure.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line protocol: line %d: %s", e.Line, e.Msg) }
