package points

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"github.com/tracekit/tracekit/services/gateway/internal/apierr"
	"google.golang.org/protobuf/types/known/anypb"
)

// jsonPoint is one element of a simple JSON body (GuanceCloud/cliutils point/json.go):
// {"measurement": "...", "tags": {...}, "fields": {...}, "time": <int>}. An element whose
// "fields" is an array is a PBJSON PBPoint instead, which DataKit tries first.
type jsonPoint struct {
	Measurement string            `json:"measurement"`
	Tags        map[string]string `json:"tags"`
	Fields      json.RawMessage   `json:"fields"`
	Time        json.Number       `json:"time"`
}

// timeRule converts decoded times: simple JSON times follow the precision, PBJSON ones are
// nanoseconds.
type timeRule struct{ scale, now int64 }

func (r timeRule) simple(t int64) int64 { return scaleTime(t, r.scale, r.now) }

func (r timeRule) pb(t int64) int64 {
	if t == 0 {
		return r.now
	}
	return t
}

// decodeJSONArray decodes a JSON array of points; pbOnly refuses simple-JSON elements.
func decodeJSONArray(body []byte, pbOnly bool, tr timeRule) ([]*pointpb.PBPoint, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, apierr.Wrap(apierr.InvalidJSONPoint, err, "decode JSON body (want an array of points)")
	}
	out := make([]*pointpb.PBPoint, 0, len(raws))
	for i, raw := range raws {
		p, err := decodeJSONPoint(i, raw, pbOnly, tr)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func decodeJSONPoint(i int, raw json.RawMessage, pbOnly bool, tr timeRule) (*pointpb.PBPoint, error) {
	var jp jsonPoint
	if err := json.Unmarshal(raw, &jp); err != nil {
		// A PBJSON element has "time" as a string and "fields" as an array: retry as that.
		if p, perr := pbPoint(raw); perr == nil {
			p.Time = tr.pb(p.Time)
			return p, nil
		}
		return nil, fieldErr(i, "%v", err)
	}
	if f := bytes.TrimSpace(jp.Fields); pbOnly || (len(f) > 0 && f[0] == '[') {
		p, err := pbPoint(raw)
		if err != nil {
			return nil, fieldErr(i, "PBJSON: %v", err)
		}
		p.Time = tr.pb(p.Time)
		return p, nil
	}
	p := &pointpb.PBPoint{Name: jp.Measurement}
	if jp.Time != "" {
		t, err := jsonTime(jp.Time)
		if err != nil {
			return nil, fieldErr(i, "time %q: %v", jp.Time, err)
		}
		p.Time = t
	}
	p.Time = tr.simple(p.Time)
	for _, k := range sortedKeys(jp.Tags) {
		p.Fields = append(p.Fields, &pointpb.Field{Key: k, IsTag: true, Val: &pointpb.Field_S{S: jp.Tags[k]}})
	}
	var fields map[string]any
	if len(jp.Fields) > 0 {
		if err := json.Unmarshal(jp.Fields, &fields); err != nil {
			return nil, fieldErr(i, "fields: %v", err)
		}
	}
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		if v == nil {
			p.Warns = append(p.Warns, &pointpb.Warn{Type: WarnNilField, Msg: fmt.Sprintf("field %q is null: dropped", k)})
			continue
		}
		f, err := jsonField(v)
		if err != nil {
			return nil, fieldErr(i, "field %q: %v", k, err)
		}
		f.Key = k
		p.Fields = append(p.Fields, f)
	}
	return p, nil
}

func pbPoint(raw []byte) (*pointpb.PBPoint, error) {
	var p pointpb.PBPoint
	if err := pbjsonOpts.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// jsonTime reads an integer time; a float form (1.7e18) is accepted when it is integral.
func jsonTime(n json.Number) (int64, error) {
	if t, err := n.Int64(); err == nil {
		return t, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("not an integer")
	}
	return int64(f), nil
}

// jsonField converts a decoded JSON value. Numbers are floats, as in DataKit (encoding/json
// into interface{}); arrays of one basic type become point.Array.
func jsonField(v any) (*pointpb.Field, error) {
	switch x := v.(type) {
	case float64:
		return &pointpb.Field{Val: &pointpb.Field_F{F: x}}, nil
	case string:
		return &pointpb.Field{Val: &pointpb.Field_S{S: x}}, nil
	case bool:
		return &pointpb.Field{Val: &pointpb.Field_B{B: x}}, nil
	case []any:
		arr := &pointpb.Array{Arr: make([]*pointpb.BasicTypes, 0, len(x))}
		var kind string
		for _, e := range x {
			var b *pointpb.BasicTypes
			var k string
			switch y := e.(type) {
			case float64:
				b, k = &pointpb.BasicTypes{X: &pointpb.BasicTypes_F{F: y}}, "number"
			case string:
				b, k = &pointpb.BasicTypes{X: &pointpb.BasicTypes_S{S: y}}, "string"
			case bool:
				b, k = &pointpb.BasicTypes{X: &pointpb.BasicTypes_B{B: y}}, "bool"
			default:
				return nil, fmt.Errorf("array elements must be numbers, strings or bools")
			}
			if kind != "" && k != kind {
				return nil, fmt.Errorf("array mixes %s and %s", kind, k)
			}
			kind = k
			arr.Arr = append(arr.Arr, b)
		}
		a, err := anypb.New(arr)
		if err != nil {
			return nil, err
		}
		return &pointpb.Field{Val: &pointpb.Field_A{A: a}}, nil
	default:
		return nil, fmt.Errorf("unsupported value of type %T (objects are not fields)", v)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
