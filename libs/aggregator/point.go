package aggregator

import (
	"strconv"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
)

// ptSource is a condition.Source over a point's tags and fields, with cliutils' value
// types (D stays []byte).
type ptSource struct{ p *pointpb.PBPoint }

// Get implements condition.Source. A point has few keys, so a scan beats building a map.
func (s ptSource) Get(key string) (any, bool) {
	f := lookup(s.p, key)
	if f == nil {
		return nil, false
	}
	switch v := f.GetVal().(type) {
	case *pointpb.Field_S:
		return v.S, true
	case *pointpb.Field_I:
		return v.I, true
	case *pointpb.Field_U:
		return v.U, true
	case *pointpb.Field_F:
		return v.F, true
	case *pointpb.Field_B:
		return v.B, true
	case *pointpb.Field_D:
		return v.D, true
	}
	return nil, true
}

func lookup(p *pointpb.PBPoint, key string) *pointpb.Field {
	for _, f := range p.GetFields() {
		if f.GetKey() == key {
			return f
		}
	}
	return nil
}

// stringValue is a key's value as a string (tags, string fields); ok is false otherwise.
func stringValue(p *pointpb.PBPoint, key string) (string, bool) {
	f := lookup(p, key)
	if f == nil {
		return "", false
	}
	s, ok := f.GetVal().(*pointpb.Field_S)
	if !ok {
		return "", false
	}
	return s.S, true
}

// anyString stringifies a tag or field value (logging/RUM group keys).
func anyString(p *pointpb.PBPoint, key string) string {
	f := lookup(p, key)
	if f == nil {
		return ""
	}
	switch v := f.GetVal().(type) {
	case *pointpb.Field_S:
		return v.S
	case *pointpb.Field_I:
		return strconv.FormatInt(v.I, 10)
	case *pointpb.Field_U:
		return strconv.FormatUint(v.U, 10)
	case *pointpb.Field_F:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case *pointpb.Field_B:
		return strconv.FormatBool(v.B)
	case *pointpb.Field_D:
		return string(v.D)
	}
	return ""
}

// intValue reads an int, uint or float field as int64.
func intValue(p *pointpb.PBPoint, key string) (int64, bool) {
	f := lookup(p, key)
	if f == nil {
		return 0, false
	}
	switch v := f.GetVal().(type) {
	case *pointpb.Field_I:
		return v.I, true
	case *pointpb.Field_U:
		return int64(v.U), true
	case *pointpb.Field_F:
		return int64(v.F), true
	}
	return 0, false
}

func tagValue(p *pointpb.PBPoint, key string) (string, bool) {
	f := lookup(p, key)
	if f == nil || !f.GetIsTag() {
		return "", false
	}
	return f.GetS(), true
}
