package sim

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/tracekit/tracekit/libs/dataway/lineproto"
	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/proto"
)

// DecodeWrite decodes a /v1/write/<category> body (already decompressed) by its
// Content-Type, as Dataway does: protobuf for application/protobuf (or x-protobuf), line
// protocol for anything else. now stamps lines that carry no timestamp.
func DecodeWrite(contentType string, body []byte, now int64) ([]*pointpb.PBPoint, error) {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if strings.HasPrefix(ct, "application/protobuf") || strings.HasPrefix(ct, "application/x-protobuf") {
		var pts pointpb.PBPoints
		if err := proto.Unmarshal(body, &pts); err != nil {
			return nil, fmt.Errorf("decode protobuf points: %w", err)
		}
		return pts.GetArr(), nil
	}
	pts, err := lineproto.Decode(body, now)
	if err != nil {
		return nil, fmt.Errorf("decode line protocol: %w", err)
	}
	return pts, nil
}

// DecodeAggregate decodes a /v1/aggregate body.
func DecodeAggregate(body []byte) (*aggregatev1.Batchs, error) {
	var b aggregatev1.Batchs
	if err := proto.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("decode aggregate batchs: %w", err)
	}
	return &b, nil
}

// maxPayload bounds a decompressed tail-sampling payload (a zip bomb must not take the
// simulator down).
const maxPayload = 256 << 20

// DecodeTailSampling decodes a /v1/tail_sampling body: one DataPacket whose points_payload
// is PBPoints bytes, zstd-compressed when payload_compression is 1.
func DecodeTailSampling(body []byte) (*aggregatev1.DataPacket, []*pointpb.PBPoint, error) {
	var pkt aggregatev1.DataPacket
	if err := proto.Unmarshal(body, &pkt); err != nil {
		return nil, nil, fmt.Errorf("decode data packet: %w", err)
	}
	payload := pkt.GetPointsPayload()
	switch pkt.GetPayloadCompression() {
	case 0:
	case 1:
		zr, err := zstd.NewReader(bytes.NewReader(payload), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxPayload))
		if err != nil {
			return nil, nil, fmt.Errorf("points payload: %w", err)
		}
		defer zr.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(zr); err != nil {
			return nil, nil, fmt.Errorf("points payload: zstd: %w", err)
		}
		payload = buf.Bytes()
	default:
		return nil, nil, fmt.Errorf("points payload: unknown payload_compression %d", pkt.GetPayloadCompression())
	}
	var pts pointpb.PBPoints
	if err := proto.Unmarshal(payload, &pts); err != nil {
		return nil, nil, fmt.Errorf("points payload: %w", err)
	}
	return &pkt, pts.GetArr(), nil
}

// Point is the simulator's JSON view of a point (cliutils' simple JSON form plus the
// category): tags as strings, fields JSON-typed.
type Point struct {
	Category    string            `json:"category"`
	Measurement string            `json:"measurement"`
	Tags        map[string]string `json:"tags"`
	Fields      map[string]any    `json:"fields"`
	Time        int64             `json:"time"`
}

// ToPoint converts a protobuf point to its JSON view.
func ToPoint(category string, p *pointpb.PBPoint) Point {
	out := Point{Category: category, Measurement: p.GetName(), Tags: map[string]string{}, Fields: map[string]any{}, Time: p.GetTime()}
	for _, f := range p.GetFields() {
		if f.GetIsTag() {
			out.Tags[f.GetKey()] = f.GetS()
			continue
		}
		out.Fields[f.GetKey()] = fieldJSON(f)
	}
	return out
}

func fieldJSON(f *pointpb.Field) any {
	switch v := f.GetVal().(type) {
	case *pointpb.Field_I:
		return v.I
	case *pointpb.Field_U:
		return v.U
	case *pointpb.Field_F:
		return floatJSON(v.F)
	case *pointpb.Field_B:
		return v.B
	case *pointpb.Field_D:
		return v.D // base64 in JSON
	case *pointpb.Field_S:
		return v.S
	case *pointpb.Field_A:
		var arr pointpb.Array
		if v.A.UnmarshalTo(&arr) == nil {
			out := make([]any, 0, len(arr.GetArr()))
			for _, e := range arr.GetArr() {
				out = append(out, basicJSON(e))
			}
			return out
		}
		var m pointpb.Map
		if v.A.UnmarshalTo(&m) == nil {
			out := make(map[string]any, len(m.GetMap()))
			for k, e := range m.GetMap() {
				out[k] = basicJSON(e)
			}
			return out
		}
		return v.A.GetTypeUrl()
	}
	return nil
}

func basicJSON(b *pointpb.BasicTypes) any {
	switch x := b.GetX().(type) {
	case *pointpb.BasicTypes_I:
		return x.I
	case *pointpb.BasicTypes_U:
		return x.U
	case *pointpb.BasicTypes_F:
		return floatJSON(x.F)
	case *pointpb.BasicTypes_B:
		return x.B
	case *pointpb.BasicTypes_D:
		return x.D
	case *pointpb.BasicTypes_S:
		return x.S
	}
	return nil
}

// floatJSON keeps NaN and infinities (which JSON cannot carry) visible as strings.
func floatJSON(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	return f
}
