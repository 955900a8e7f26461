package translator

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

// message is DataKit's message field: the span as JSON with the ids left out (DataKit
// zeroes them and omitempty drops them) and only the meta that was not promoted (taken). Keys are
// sorted so the same span always gives the same message. Written by hand because
// encoding/json costs several microseconds a span, most of the per-span budget.
func message(s *ddwire.Span, taken []string) string {
	bp := msgBufs.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"service":`...)
	b = appendString(b, string(s.Service))
	b = append(b, `,"name":`...)
	b = appendString(b, string(s.Name))
	b = append(b, `,"resource":`...)
	b = appendString(b, string(s.Resource))
	b = append(b, `,"start":`...)
	b = strconv.AppendInt(b, int64(s.Start), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(s.Duration), 10)
	if s.Error != 0 {
		b = append(b, `,"error":`...)
		b = strconv.AppendInt(b, int64(s.Error), 10)
	}
	if len(s.Meta) > len(taken) {
		// Only the meta left in the message is sorted, with its values: no lookups after.
		var buf [32]entry[ddwire.Str]
		meta := buf[:0]
		for k, v := range s.Meta {
			if !slices.Contains(taken, k) {
				meta = append(meta, entry[ddwire.Str]{k, v})
			}
		}
		sortEntries(meta)
		b = append(b, `,"meta":{`...)
		for i, e := range meta {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e.k)
			b = append(b, ':')
			b = appendString(b, string(e.v))
		}
		b = append(b, '}')
	}
	if len(s.Metrics) > 0 {
		var buf [32]entry[ddwire.Float64]
		metrics := buf[:0]
		for k, v := range s.Metrics {
			metrics = append(metrics, entry[ddwire.Float64]{k, v})
		}
		sortEntries(metrics)
		b = append(b, `,"metrics":{`...)
		for i, e := range metrics {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e.k)
			b = append(b, ':')
			b = appendFloat(b, float64(e.v))
		}
		b = append(b, '}')
	}
	if s.Type != "" {
		b = append(b, `,"type":`...)
		b = appendString(b, string(s.Type))
	}
	b = append(b, '}')
	msg := string(b)
	if cap(b) <= 64<<10 { // a huge span's buffer is not worth pinning
		*bp = b
		msgBufs.Put(bp)
	}
	return msg
}

// msgBufs are message buffers reused across spans and payloads (the message is copied
// out), saving the buffer's allocation and growth per span.
var msgBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

type entry[V any] struct {
	k string
	v V
}

// sortEntries sorts by key; keys of a Go map are distinct, so order is total.
func sortEntries[V any](es []entry[V]) {
	slices.SortFunc(es, func(a, b entry[V]) int { return strings.Compare(a.k, b.k) })
}

// appendFloat formats like encoding/json; NaN and infinities, which JSON cannot hold,
// become null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return spanmodel.AppendJSONFloat(b, f)
}

// appendString writes s as encoding/json does (HTML-escaped, as json.Marshal in DataKit).
func appendString(b []byte, s string) []byte { return spanmodel.AppendJSONString(b, s, true) }
