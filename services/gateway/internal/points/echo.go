package points

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/tracekit/tracekit/libs/dataway/lineproto"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"github.com/tracekit/tracekit/services/gateway/internal/apierr"
	"google.golang.org/protobuf/encoding/protojson"
)

// EchoForm is the query `echo` value, normalised ("" for none).
func EchoForm(echo string) (string, error) {
	switch echo {
	case "", "lp", "json", "pbjson":
		return echo, nil
	}
	return "", apierr.New(apierr.InvalidEcho, "echo %q is not lp, json or pbjson", echo)
}

// Echo renders pts in the echo form and returns the Content-Type with the bytes.
func Echo(pts []*pointpb.PBPoint, form string) (string, []byte, error) {
	switch form {
	case "lp":
		var buf []byte
		for _, p := range pts {
			var err error
			buf, err = lineproto.AppendPoint(buf, p)
			if err != nil && !errors.Is(err, lineproto.ErrNoFields) {
				return "", nil, apierr.Wrap(apierr.InvalidAPIHandler, err, "echo line protocol")
			}
		}
		return ContentTypeLineProtocol, buf, nil
	case "json":
		out := make([]simplePoint, 0, len(pts))
		for _, p := range pts {
			out = append(out, toSimple(p))
		}
		b, err := json.Marshal(out)
		if err != nil {
			return "", nil, apierr.Wrap(apierr.InvalidAPIHandler, err, "echo JSON")
		}
		return ContentTypeJSON, b, nil
	case "pbjson":
		b, err := protojson.Marshal(&pointpb.PBPoints{Arr: pts})
		if err != nil {
			return "", nil, apierr.Wrap(apierr.InvalidAPIHandler, err, "echo PBJSON")
		}
		return ContentTypePBJSON, b, nil
	}
	return "", nil, nil
}

type simplePoint struct {
	Measurement string            `json:"measurement"`
	Tags        map[string]string `json:"tags,omitempty"`
	Fields      map[string]any    `json:"fields"`
	Time        int64             `json:"time"`
}

func toSimple(p *pointpb.PBPoint) simplePoint {
	s := simplePoint{Measurement: p.GetName(), Fields: map[string]any{}, Time: p.GetTime()}
	for _, f := range p.GetFields() {
		if f.GetIsTag() {
			if s.Tags == nil {
				s.Tags = map[string]string{}
			}
			s.Tags[f.GetKey()] = f.GetS()
			continue
		}
		switch v := f.GetVal().(type) {
		case *pointpb.Field_I:
			s.Fields[f.GetKey()] = v.I
		case *pointpb.Field_U:
			s.Fields[f.GetKey()] = v.U
		case *pointpb.Field_F:
			s.Fields[f.GetKey()] = v.F
		case *pointpb.Field_B:
			s.Fields[f.GetKey()] = v.B
		case *pointpb.Field_S:
			s.Fields[f.GetKey()] = v.S
		case *pointpb.Field_D:
			s.Fields[f.GetKey()] = base64.StdEncoding.EncodeToString(v.D)
		case *pointpb.Field_A:
			var arr pointpb.Array
			if v.A.UnmarshalTo(&arr) == nil {
				vals := make([]any, 0, len(arr.GetArr()))
				for _, e := range arr.GetArr() {
					vals = append(vals, basicValue(e))
				}
				s.Fields[f.GetKey()] = vals
			}
		}
	}
	return s
}

func basicValue(b *pointpb.BasicTypes) any {
	switch x := b.GetX().(type) {
	case *pointpb.BasicTypes_I:
		return x.I
	case *pointpb.BasicTypes_U:
		return x.U
	case *pointpb.BasicTypes_F:
		return x.F
	case *pointpb.BasicTypes_B:
		return x.B
	case *pointpb.BasicTypes_S:
		return x.S
	case *pointpb.BasicTypes_D:
		return base64.StdEncoding.EncodeToString(x.D)
	}
	return nil
}
