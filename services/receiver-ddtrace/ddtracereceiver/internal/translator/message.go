package translator

import (
	"math"
	"strconv"
	"sync"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

// appendMessage appends DataKit's message field: the span as JSON with the ids left out
// (DataKit zeroes them and omitempty drops them) and only the meta that was not promoted
// (taken). Keys are sorted (Meta and Metrics are) so the same span always gives the same
// message. Written by hand because encoding/json costs several microseconds a span, most
// of the per-span budget.
func appendMessage(b []byte, s *ddwire.Span, taken *takenSet) []byte {
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
	if len(s.Meta) > taken.n {
		b = append(b, `,"meta":{`...)
		first := true
		for i, e := range s.Meta {
			if taken.has(i) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, e.Key)
			b = append(b, ':')
			b = appendString(b, string(e.Value))
		}
		b = append(b, '}')
	}
	if len(s.Metrics) > 0 {
		b = append(b, `,"metrics":{`...)
		for i, e := range s.Metrics {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e.Key)
			b = append(b, ':')
			b = appendFloat(b, float64(e.Value))
		}
		b = append(b, '}')
	}
	if s.Type != "" {
		b = append(b, `,"type":`...)
		b = appendString(b, string(s.Type))
	}
	return append(b, '}')
}

// takenSet is the indexes of the meta entries that left the message.
type takenSet struct {
	small [2]uint64
	big   []uint64 // for spans of more than 128 meta entries
	n     int
}

func (t *takenSet) init(entries int) {
	if entries > 64*len(t.small) {
		t.big = make([]uint64, (entries+63)/64)
	}
}

func (t *takenSet) words() []uint64 {
	if t.big != nil {
		return t.big
	}
	return t.small[:]
}

func (t *takenSet) add(i int) {
	w := t.words()
	if bit := uint64(1) << (i % 64); w[i/64]&bit == 0 {
		w[i/64] |= bit
		t.n++
	}
}

func (t *takenSet) has(i int) bool { return t.words()[i/64]&(1<<(i%64)) != 0 }

// conversion is the scratch state of one Convert call.
type conversion struct {
	// buf holds the strings of pending (messages, decimal ids), made strings together by
	// flush: one allocation for many spans instead of one for each string.
	buf     []byte
	pending []pendingString
	spans   int     // spans in the payload
	prios   []int32 // the spans' sampling priorities, one array per payload
	tagKeys spanmodel.TagKeys
}

// pendingString is a string field to set at flush to the bytes of buf that end at end
// (and start where the previous one ended).
type pendingString struct {
	dst *string
	end int
}

// flushAt is how many bytes are made a string at once: small enough for the allocator's
// size classes and the pooled buffer, large enough to share among many spans.
const flushAt = 16 << 10

var conversions = sync.Pool{New: func() any { return &conversion{buf: make([]byte, 0, flushAt+2048)} }}

func newConversion(spans int) *conversion {
	c := conversions.Get().(*conversion)
	c.spans = spans
	return c
}

// release returns c to the pool; the arrays the spans point into stay with them.
func (c *conversion) release() {
	clear(c.pending)
	c.pending, c.prios, c.tagKeys = c.pending[:0], nil, nil
	if cap(c.buf) <= 4*flushAt { // a huge span's buffer is not worth pinning
		c.buf = c.buf[:0]
		conversions.Put(c)
	}
}

func (c *conversion) priority(p int32) *int32 {
	if c.prios == nil {
		c.prios = make([]int32, 0, c.spans) // one a span at most: never reallocated
	}
	c.prios = append(c.prios, p)
	return &c.prios[len(c.prios)-1]
}

// id sets *dst to the id in base (FormatSpanIDByBase), decimal ids through buf.
func (c *conversion) id(dst *string, id uint64, base int) {
	if base != 10 {
		*dst = spanmodel.FormatSpanIDByBase(id, base)
		return
	}
	// FormatSpanIDByBase(id, 10) is strconv's decimal, "0" included.
	c.buf = strconv.AppendUint(c.buf, id, 10)
	c.pending = append(c.pending, pendingString{dst, len(c.buf)})
}

func (c *conversion) message(ds *spanv1.DatakitSpan, s *ddwire.Span, taken *takenSet) {
	c.buf = appendMessage(c.buf, s, taken)
	c.pending = append(c.pending, pendingString{&ds.Message, len(c.buf)})
	if len(c.buf) >= flushAt {
		c.flush()
	}
}

// flush sets the pending strings.
func (c *conversion) flush() {
	if len(c.pending) == 0 {
		return
	}
	all := string(c.buf)
	start := 0
	for _, p := range c.pending {
		*p.dst = all[start:p.end]
		start = p.end
	}
	clear(c.pending)
	c.buf, c.pending = c.buf[:0], c.pending[:0]
}

// appendFloat formats like encoding/json; NaN and infinities, which JSON cannot hold,
// become null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	// Most metrics are integral (flags, counts, pids): below 2^53 the shortest 'f' form
	// of one is its integer, without strconv's shortest-digits search. Zero keeps the
	// slow path for its sign.
	if f != 0 && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return spanmodel.AppendJSONFloat(b, f)
}

// appendString writes s as encoding/json does (HTML-escaped, as json.Marshal in DataKit).
func appendString(b []byte, s string) []byte { return spanmodel.AppendJSONString(b, s, true) }
