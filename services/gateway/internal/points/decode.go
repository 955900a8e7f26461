// Package points turns a /v1/write body into Dataway points and back: the four body
// encodings of datakit-spec §5 (line protocol, simple JSON, PBJSON, PBPoints protobuf), the
// timestamp precision rules, DataKit's per-category point checks (§3.4) and the echo forms.
// It is pure: no HTTP, no bus, no clock (the caller passes "now").
package points

import (
	"fmt"
	"math"
	"mime"
	"strings"

	"github.com/tracekit/tracekit/libs/dataway/lineproto"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"github.com/tracekit/tracekit/services/gateway/internal/apierr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Encoding is a body format.
type Encoding int

// Body formats; Content-Type selects one (datakit-spec §3.3, §5).
const (
	LineProtocol Encoding = iota
	JSON
	PBJSON
	Protobuf
)

// Content types of the encodings (echo answers and Dataway bodies).
const (
	ContentTypeLineProtocol = "application/line-protocol"
	ContentTypeJSON         = "application/json"
	ContentTypePBJSON       = "application/pbjson; proto=com.guance.Point"
	ContentTypeProtobuf     = "application/protobuf; proto=com.guance.Point"
)

// EncodingOf picks the decoder for a Content-Type the way DataKit does: anything with
// application/json is simple JSON (PBJSON-shaped elements accepted), pbjson and protobuf
// need their media type, and everything else (text/plain, form-urlencoded from curl -d, no
// header) is line protocol.
func EncodingOf(contentType string) Encoding {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch mt {
	case "application/json":
		return JSON
	case "application/pbjson":
		return PBJSON
	case "application/protobuf", "application/x-protobuf":
		return Protobuf
	}
	return LineProtocol
}

// Options are the decode settings of one request.
type Options struct {
	// Precision is the query `precision`: n, u, ms, s, m, h, or "" to guess from magnitude.
	Precision string
	// NowUnixNano is the time of points that carry none.
	NowUnixNano int64
}

// noTime marks a line-protocol point without timestamp; it cannot be a real one because
// scaling would overflow anyway.
const noTime = math.MinInt64

// Decode parses body in enc. Line protocol and simple JSON timestamps are scaled by the
// precision; protobuf and PBJSON timestamps are nanoseconds by definition. Points without a
// time get opt.NowUnixNano.
func Decode(body []byte, enc Encoding, opt Options) ([]*pointpb.PBPoint, error) {
	scale, err := ParsePrecision(opt.Precision)
	if err != nil {
		return nil, err
	}
	var pts []*pointpb.PBPoint
	switch enc {
	case JSON:
		pts, err = decodeJSONArray(body, false, timeRule{scale, opt.NowUnixNano})
		if err != nil {
			return nil, err
		}
	case PBJSON:
		pts, err = decodePBJSON(body, timeRule{scale, opt.NowUnixNano})
		if err != nil {
			return nil, err
		}
	case Protobuf:
		var msg pointpb.PBPoints
		if err := proto.Unmarshal(body, &msg); err != nil {
			return nil, apierr.Wrap(apierr.InvalidProtobufPoint, err, "decode PBPoints")
		}
		pts = msg.GetArr()
		for i, p := range pts {
			if p == nil {
				return nil, apierr.New(apierr.InvalidProtobufPoint, "point %d is empty", i)
			}
		}
		setNow(pts, opt.NowUnixNano)
	default:
		pts, err = lineproto.Decode(body, noTime)
		if err != nil {
			return nil, apierr.Wrap(apierr.InvalidLinePoint, err, "")
		}
		for _, p := range pts {
			if p.GetTime() == noTime {
				p.Time = opt.NowUnixNano
				continue
			}
			p.Time = scaleTime(p.GetTime(), scale, opt.NowUnixNano)
		}
	}
	if len(pts) == 0 {
		return nil, apierr.New(apierr.NoPoints, "the body holds no point")
	}
	return pts, nil
}

func setNow(pts []*pointpb.PBPoint, now int64) {
	for _, p := range pts {
		if p.GetTime() == 0 {
			p.Time = now
		}
	}
}

// precision multipliers to nanoseconds; 0 means auto-detect.
var precisions = map[string]int64{
	"": 0, "n": 1, "ns": 1, "u": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
}

// ParsePrecision returns the nanosecond multiplier of a `precision` value (0: auto).
func ParsePrecision(p string) (int64, error) {
	m, ok := precisions[p]
	if !ok {
		return 0, apierr.New(apierr.InvalidPrecision, "precision %q is not n, u, ms, s, m or h", p)
	}
	return m, nil
}

// scaleTime converts ts of the given multiplier to ns. Auto-detect follows DataKit:
// ts/1e9 < 10 is seconds, /1e12 < 10 ms, /1e15 < 10 µs, else ns. Zero means now.
func scaleTime(ts, scale, now int64) int64 {
	if ts == 0 {
		return now
	}
	if scale == 0 {
		a := ts
		if a < 0 {
			a = -a
		}
		switch {
		case a < 10e9:
			scale = 1e9
		case a < 10e12:
			scale = 1e6
		case a < 10e15:
			scale = 1e3
		default:
			scale = 1
		}
	}
	if scale == 1 {
		return ts
	}
	if ts > math.MaxInt64/scale || ts < math.MinInt64/scale {
		// Out of range for nanoseconds: keep the value rather than wrap around.
		return ts
	}
	return ts * scale
}

func decodePBJSON(body []byte, tr timeRule) ([]*pointpb.PBPoint, error) {
	trimmed := strings.TrimSpace(string(body[:min(len(body), 64)]))
	if strings.HasPrefix(trimmed, "[") {
		// A bare array of PBPoint objects, as some clients send.
		return decodeJSONArray(body, true, tr)
	}
	var msg pointpb.PBPoints
	if err := pbjsonOpts.Unmarshal(body, &msg); err != nil {
		return nil, apierr.Wrap(apierr.InvalidJSONPoint, err, "decode PBJSON")
	}
	for _, p := range msg.GetArr() {
		if p == nil {
			return nil, apierr.New(apierr.InvalidJSONPoint, "PBJSON holds a null point")
		}
		p.Time = tr.pb(p.Time)
	}
	return msg.GetArr(), nil
}

var pbjsonOpts = protojson.UnmarshalOptions{DiscardUnknown: true}

func fieldErr(i int, format string, args ...any) error {
	return apierr.New(apierr.InvalidJSONPoint, "point %d: %s", i, fmt.Sprintf(format, args...))
}
