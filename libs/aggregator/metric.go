package aggregator

import (
	"path"

	"github.com/cespare/xxhash/v2"
	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Seeds of cliutils' point hashes.
const hashSeed = uint64(0x9E3779B97F4A7C15)

// pickMetrics builds the AggregationBatches of every rule selecting category, grouped
// into Batchs by pick key in first-seen order (cliutils' PickPoints).
func pickMetrics(c *MetricConfig, category string, pts []*pointpb.PBPoint) []*aggregatev1.Batchs {
	if !c.Enabled() {
		return nil
	}
	var out []*aggregatev1.Batchs
	byPick := map[uint64]*aggregatev1.Batchs{}
	for _, r := range c.AggregateRules {
		if r == nil || r.Selector == nil || r.Selector.Category != category {
			continue
		}
		opts := r.algos()
		for _, fp := range r.selectPoints(pts) {
			pick := pickHash(fp, r.GroupBy)
			ab := &aggregatev1.AggregationBatch{
				RoutingKey:      routingHash(fp, r.GroupBy),
				ConfigHash:      c.hash,
				AggregationOpts: opts,
				Points:          &pointpb.PBPoints{Arr: []*pointpb.PBPoint{fp}},
				PickKey:         pick,
			}
			bs := byPick[pick]
			if bs == nil {
				bs = &aggregatev1.Batchs{PickKey: pick}
				byPick[pick] = bs
				out = append(out, bs)
			}
			bs.Batchs = append(bs.Batchs, ab)
		}
	}
	return out
}

// algos converts the rule's algorithms to their wire form.
func (r *AggregateRule) algos() map[string]*aggregatev1.AggregationAlgo {
	out := make(map[string]*aggregatev1.AggregationAlgo, len(r.Algorithms))
	for name, a := range r.Algorithms {
		w := &aggregatev1.AggregationAlgo{Method: a.Method, SourceField: a.SourceField, Window: int64(a.Window), AddTags: a.AddTags}
		switch {
		case a.HistogramOpts != nil:
			w.Options = &aggregatev1.AggregationAlgo_HistogramOpts{HistogramOpts: &aggregatev1.HistogramOptions{Buckets: a.HistogramOpts.Buckets}}
		case a.QuantileOpts != nil:
			w.Options = &aggregatev1.AggregationAlgo_QuantileOpts{QuantileOpts: &aggregatev1.QuantileOptions{Percentiles: a.QuantileOpts.Percentiles}}
		case a.ExpoOpts != nil:
			w.Options = &aggregatev1.AggregationAlgo_ExpoOpts{ExpoOpts: &aggregatev1.ExpoHistogramOptions{
				MaxScale: a.ExpoOpts.MaxScale, MaxBuckets: a.ExpoOpts.MaxBuckets, RecordMinMax: a.ExpoOpts.RecordMinMax}}
		}
		out[name] = w
	}
	return out
}

// selectPoints applies the measurement whitelist and the condition, then forks every
// selected non-tag field into its own point (ints to float64) carrying the group-by keys.
func (r *AggregateRule) selectPoints(pts []*pointpb.PBPoint) []*pointpb.PBPoint {
	sel := r.Selector
	var out []*pointpb.PBPoint
	for _, p := range pts {
		if len(sel.Measurements) > 0 && !whitelisted(p.GetName(), sel.Measurements) {
			continue
		}
		if sel.cond != nil && !sel.cond.Empty() && sel.cond.Eval(ptSource{p}) < 0 {
			continue
		}
		for _, f := range p.GetFields() {
			if f.GetIsTag() || !whitelisted(f.GetKey(), sel.MetricName) {
				continue
			}
			ff := forkField(f)
			if ff == nil {
				continue
			}
			fp := &pointpb.PBPoint{Name: p.GetName(), Time: p.GetTime(), Fields: []*pointpb.Field{ff}}
			for _, k := range r.GroupBy {
				if k == f.GetKey() {
					continue
				}
				if g := lookup(p, k); g != nil {
					fp.Fields = append(fp.Fields, &pointpb.Field{Key: k, IsTag: g.GetIsTag(), Val: g.GetVal()})
				}
			}
			out = append(out, fp)
		}
	}
	return out
}

// forkField copies a selected field; numbers become float64, as cliutils forks them.
func forkField(f *pointpb.Field) *pointpb.Field {
	out := &pointpb.Field{Key: f.GetKey()}
	switch v := f.GetVal().(type) {
	case *pointpb.Field_I:
		out.Val = &pointpb.Field_F{F: float64(v.I)}
	case *pointpb.Field_U:
		out.Val = &pointpb.Field_F{F: float64(v.U)}
	case *pointpb.Field_F, *pointpb.Field_S, *pointpb.Field_D, *pointpb.Field_B:
		out.Val = f.GetVal()
	default:
		return nil
	}
	return out
}

// whitelisted matches cliutils' whitelist items: exact names or shell-style wildcards.
func whitelisted(s string, list []string) bool {
	for _, w := range list {
		if w == s {
			return true
		}
		if ok, _ := path.Match(w, s); ok {
			return true
		}
	}
	return false
}

// routingHash is cliutils' hash(): measurement, the string group-by values present, and
// the (single) forked field key.
func routingHash(p *pointpb.PBPoint, groupBy []string) uint64 {
	h := hashCombine(hashSeed, xxhash.Sum64String(p.GetName()))
	for _, k := range groupBy {
		if s, ok := stringValue(p, k); ok {
			h = hashCombine(h, xxhash.Sum64String(k))
			h = hashCombine(h, xxhash.Sum64String(s))
		}
	}
	for _, f := range p.GetFields() {
		if !f.GetIsTag() {
			h = hashCombine(h, xxhash.Sum64String(f.GetKey()))
			break
		}
	}
	return h
}

// pickHash is cliutils' pickHash(): measurement and the group-by key names.
func pickHash(p *pointpb.PBPoint, groupBy []string) uint64 {
	h := hashCombine(hashSeed, xxhash.Sum64String(p.GetName()))
	for _, k := range groupBy {
		h = hashCombine(h, xxhash.Sum64String(k))
	}
	return h
}

// splitBatchs packs the batches of b into bodies of at most limit bytes (§4.4); a single
// oversize batch goes alone.
func splitBatchs(b *aggregatev1.Batchs, limit int) []*aggregatev1.Batchs {
	if limit <= 0 || len(b.GetBatchs()) < 2 || proto.Size(b) <= limit {
		return []*aggregatev1.Batchs{b}
	}
	head := protowire.SizeTag(2) + protowire.SizeVarint(b.GetPickKey())
	var out []*aggregatev1.Batchs
	cur := &aggregatev1.Batchs{PickKey: b.GetPickKey()}
	size := head
	for _, ab := range b.GetBatchs() {
		n := proto.Size(ab)
		es := 1 + protowire.SizeVarint(uint64(n)) + n
		if len(cur.Batchs) > 0 && size+es > limit {
			out = append(out, cur)
			cur = &aggregatev1.Batchs{PickKey: b.GetPickKey()}
			size = head
		}
		cur.Batchs = append(cur.Batchs, ab)
		size += es
	}
	return append(out, cur)
}
