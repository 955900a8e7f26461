package aggregator

import (
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Data types of a DataPacket.
const (
	DataTracing = "tracing"
	DataLogging = "logging"
	DataRUM     = "rum"
)

// PredicateSummaryVersion marks packets whose pred_* fields are filled (cliutils'
// predicate summary); Dataway may then skip re-deriving them from the payload.
const PredicateSummaryVersion = 1

// packet is one DataPacket to post, with its routing key and the points it carries.
type packet struct {
	pkt    *aggregatev1.DataPacket
	pick   uint64
	points []*pointpb.PBPoint
}

// packOptions are the per-feed values of every packet.
type packOptions struct {
	Token   string
	Source  string
	Version int64
	// MaxRawBodySize splits packets whose payload passes it (§4.4).
	MaxRawBodySize int
}

// group is the points of one trace (or logging/RUM group) in arrival order.
type group struct {
	id     string
	key    string // group_key for logging/RUM, "" for tracing
	points []*pointpb.PBPoint
}

// groupTraces groups tracing points by their string trace_id field. Points without one
// cannot be tail-sampled and are returned in rest (written normally).
func groupTraces(pts []*pointpb.PBPoint) (groups []*group, rest []*pointpb.PBPoint) {
	idx := map[string]*group{}
	for _, p := range pts {
		id, ok := stringValue(p, "trace_id")
		if !ok || id == "" {
			rest = append(rest, p)
			continue
		}
		g := idx[id]
		if g == nil {
			g = &group{id: id}
			idx[id] = g
			groups = append(groups, g)
		}
		g.points = append(g.points, p)
	}
	return groups, rest
}

// groupByDimensions groups logging/RUM points by the first dimension whose key they
// carry (tag or field, stringified); the others are returned in rest.
func groupByDimensions(pts []*pointpb.PBPoint, dims []*GroupDimension) (groups []*group, rest []*pointpb.PBPoint) {
	rest = pts
	for _, d := range dims {
		var next []*pointpb.PBPoint
		idx := map[string]*group{}
		for _, p := range rest {
			v := anyString(p, d.GroupKey)
			if v == "" {
				next = append(next, p)
				continue
			}
			g := idx[v]
			if g == nil {
				g = &group{id: v, key: d.GroupKey}
				idx[v] = g
				groups = append(groups, g)
			}
			g.points = append(g.points, p)
		}
		rest = next
	}
	return groups, rest
}

// fnv64a is the group_id_hash of a group id.
func fnv64a(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// hashCombine is cliutils' HashCombine.
func hashCombine(seed, h uint64) uint64 { return ((seed + 0x9e3779b9) ^ h) * 0x517cc1b727220a95 }

// hashToken is cliutils' HashToken.
func hashToken(token string, h uint64) uint64 { return hashCombine(h, xxhash.Sum64String(token)) }

// groupPickKey is the pick key of a logging/RUM packet (§4.4).
func groupPickKey(token string, gidHash uint64, dataType, groupKey string) uint64 {
	return hashCombine(hashCombine(hashToken(token, gidHash), xxhash.Sum64String(dataType)), xxhash.Sum64String(groupKey))
}

// pack builds the DataPackets of one group: predicates over the whole group, payload
// split by MaxRawBodySize (every part keeps the group's meta fields and pick key).
func pack(g *group, dataType string, o packOptions) ([]*packet, error) {
	gid := fnv64a(g.id)
	meta := &aggregatev1.DataPacket{
		GroupIdHash:             gid,
		RawGroupId:              g.id,
		Token:                   o.Token,
		Source:                  o.Source,
		DataType:                dataType,
		ConfigVersion:           o.Version,
		GroupKey:                g.key,
		PredicateSummaryVersion: PredicateSummaryVersion,
	}
	pick := gid
	if dataType != DataTracing {
		pick = groupPickKey(o.Token, gid, dataType, g.key)
	}
	summarize(meta, g.points)

	// One buffer holds every point as a PBPoints entry; parts are sub-slices of it.
	buf := make([]byte, 0, len(g.points)*512)
	offs := make([]int, len(g.points)+1)
	for i, p := range g.points {
		n := proto.Size(p)
		buf = protowire.AppendTag(buf, 1, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(n))
		var err error
		if buf, err = (proto.MarshalOptions{UseCachedSize: true}).MarshalAppend(buf, p); err != nil {
			return nil, fmt.Errorf("marshal point: %w", err)
		}
		offs[i+1] = len(buf)
	}
	limit := o.MaxRawBodySize
	metaSize := proto.Size(meta) + 32 // count, max time, payload tag and length, compression
	var parts [][2]int
	if limit <= 0 || len(g.points) < 2 || metaSize+len(buf) <= limit {
		parts = [][2]int{{0, len(g.points)}}
	} else {
		start, size := 0, metaSize
		for i := range g.points {
			es := offs[i+1] - offs[i]
			if i > start && size+es > limit {
				parts = append(parts, [2]int{start, i})
				start, size = i, metaSize
			}
			size += es
		}
		parts = append(parts, [2]int{start, len(g.points)})
	}
	out := make([]*packet, 0, len(parts))
	for k, r := range parts {
		pkt := meta
		if k < len(parts)-1 {
			pkt = proto.CloneOf(meta)
		}
		payload := buf[offs[r[0]]:offs[r[1]]:offs[r[1]]]
		var maxTime int64
		for i := r[0]; i < r[1]; i++ {
			maxTime = max(maxTime, g.points[i].GetTime())
		}
		pkt.PointCount = int32(r[1] - r[0])
		pkt.MaxPointTimeUnixNano = maxTime
		if z := compress(payload); len(z) < len(payload) {
			pkt.PointsPayload, pkt.PayloadCompression = z, 1
		} else {
			pkt.PointsPayload = payload
		}
		out = append(out, &packet{pkt: pkt, pick: pick, points: g.points[r[0]:r[1]]})
	}
	return out, nil
}

// summarize fills the predicate and timing fields of a packet from its points (§4.3).
// Durations are DataKit's µs; start/end come from start_time, or DataKit's start field,
// in µs, converted to ns.
func summarize(pkt *aggregatev1.DataPacket, pts []*pointpb.PBPoint) {
	var start, end int64
	for _, p := range pts {
		status, _ := stringValue(p, "status")
		if tag, ok := tagValue(p, "status"); ok && tag == "error" {
			pkt.HasError = true
		}
		if status == "error" {
			pkt.PredError = true
		}
		if c, ok := stringValue(p, "http_status_code"); ok && len(c) == 3 && (c[0] == '4' || c[0] == '5') &&
			isDigit(c[1]) && isDigit(c[2]) {
			pkt.PredHttpError = true
		}
		if f := lookup(p, "body_code"); f != nil && !f.GetIsTag() {
			if s, ok := f.GetVal().(*pointpb.Field_S); ok && s.S != "0" && s.S != "200" {
				pkt.PredBizError = true
			}
		}
		if f := lookup(p, "trace_keep"); f != nil {
			if b, ok := f.GetVal().(*pointpb.Field_B); ok && b.B {
				pkt.PredTraceKeep = true
			}
		}
		dur, hasDur := intValue(p, "duration")
		if hasDur {
			pkt.MaxSpanDurationUs = max(pkt.MaxSpanDurationUs, dur)
			if parent, _ := stringValue(p, "parent_id"); parent == "0" {
				pkt.RootDurationUs = max(pkt.RootDurationUs, dur)
			} else {
				pkt.MaxNonrootDurationUs = max(pkt.MaxNonrootDurationUs, dur)
			}
		}
		st, ok := intValue(p, "start_time")
		if !ok {
			st, ok = intValue(p, "start")
		}
		if ok && st > 0 {
			sn := st * 1000
			if start == 0 || sn < start {
				start = sn
			}
			end = max(end, sn+max(dur, 0)*1000)
		}
	}
	pkt.TraceStartTimeUnixNano, pkt.TraceEndTimeUnixNano = start, end
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

var (
	encOnce sync.Once
	enc     *zstd.Encoder
)

// compress zstd-encodes b (EncodeAll is safe for concurrent use on one encoder).
func compress(b []byte) []byte {
	encOnce.Do(func() {
		enc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	})
	return enc.EncodeAll(b, make([]byte, 0, len(b)/2+16))
}
