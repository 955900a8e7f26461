package translator

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/tracekit/tracekit/libs/spanmodel"
)

// appendV2Message appends the bytes json.Marshal(s) writes through model.SpanModel's
// MarshalJSON (field order, omitempty, lower-cased names, rounding), without reflection:
// encoding/json cost more than the rest of the conversion. A span whose timestamp or
// duration model refuses is written without both, as v2Message always did. ok is false
// when encoding/json would fail (an IP of a length net.IP cannot print).
func appendV2Message(b []byte, s *model.SpanModel) (_ []byte, ok bool) {
	return appendV2MessageTags(b, s, nil)
}

// tagPair is one tag of a span.
type tagPair struct{ key, value string }

// sortedTags appends the tags to dst sorted by key (as encoding/json writes a map).
func sortedTags(dst []tagPair, tags map[string]string) []tagPair {
	for k, v := range tags {
		dst = append(dst, tagPair{k, v})
	}
	slices.SortFunc(dst, func(a, b tagPair) int { return strings.Compare(a.key, b.key) })
	return dst
}

// appendV2MessageTags is appendV2Message with s.Tags already sorted into tags (nil: sort
// them here; s.Tags is then not looked at when tags are given).
func appendV2MessageTags(b []byte, s *model.SpanModel, tags []tagPair) (_ []byte, ok bool) {
	return appendV2MessageMemo(b, s, tags, nil)
}

// appendV2MessageMemo is appendV2MessageTags with the keys' JSON taken from (and kept
// in) memo, by position in tags, when it is given.
func appendV2MessageMemo(b []byte, s *model.SpanModel, tags []tagPair, memo []tagMemo) (_ []byte, ok bool) {
	ts, dur := s.Timestamp, s.Duration
	if (!ts.IsZero() && ts.Unix() < 1) || dur < 0 {
		ts, dur = time.Time{}, 0
	}
	var timestamp int64
	if !ts.IsZero() {
		timestamp = ts.Round(time.Microsecond).UnixNano() / 1e3
	}
	switch {
	case dur >= time.Microsecond:
		dur += 500 * time.Nanosecond
	case dur > 0:
		dur = time.Microsecond
	}
	b = append(b, '{')
	if timestamp != 0 {
		b = append(b, `"timestamp":`...)
		b = strconv.AppendInt(b, timestamp, 10)
		b = append(b, ',')
	}
	if d := dur.Nanoseconds() / 1e3; d != 0 {
		b = append(b, `"duration":`...)
		b = strconv.AppendInt(b, d, 10)
		b = append(b, ',')
	}
	b = append(b, `"traceId":"`...)
	if s.TraceID.High != 0 {
		b = spanmodel.AppendHex16(b, s.TraceID.High)
	}
	b = spanmodel.AppendHex16(b, s.TraceID.Low)
	b = append(b, `","id":"`...)
	b = spanmodel.AppendHex16(b, uint64(s.ID))
	b = append(b, '"')
	if s.ParentID != nil {
		b = append(b, `,"parentId":"`...)
		b = spanmodel.AppendHex16(b, uint64(*s.ParentID))
		b = append(b, '"')
	}
	if s.Debug {
		b = append(b, `,"debug":true`...)
	}
	if s.Name != "" {
		b = append(b, `,"name":`...)
		b = appendLowerJSONString(b, s.Name)
	}
	if s.Kind != "" {
		b = append(b, `,"kind":`...)
		b = appendJSONString(b, string(s.Kind))
	}
	if s.Shared {
		b = append(b, `,"shared":true`...)
	}
	if !s.LocalEndpoint.Empty() {
		b = append(b, `,"localEndpoint":`...)
		if b, ok = appendEndpoint(b, s.LocalEndpoint); !ok {
			return b, false
		}
	}
	if !s.RemoteEndpoint.Empty() {
		b = append(b, `,"remoteEndpoint":`...)
		if b, ok = appendEndpoint(b, s.RemoteEndpoint); !ok {
			return b, false
		}
	}
	if len(s.Annotations) > 0 {
		b = append(b, `,"annotations":[`...)
		for i := range s.Annotations {
			a := &s.Annotations[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"timestamp":`...)
			b = strconv.AppendInt(b, a.Timestamp.Round(time.Microsecond).UnixNano()/1e3, 10)
			b = append(b, `,"value":`...)
			b = appendJSONString(b, a.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(tags) > 0 || len(s.Tags) > 0 {
		if tags == nil {
			var buf [32]tagPair
			tags = sortedTags(buf[:0], s.Tags)
		}
		b = append(b, `,"tags":{`...)
		for i, t := range tags {
			if i > 0 {
				b = append(b, ',')
			}
			if memo == nil {
				b = appendJSONString(b, t.key)
			} else {
				m := &memo[i]
				if len(m.json) == 0 {
					m.json = appendJSONString(m.json, t.key)
				}
				b = append(b, m.json...)
			}
			b = append(b, ':')
			b = appendJSONString(b, t.value)
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// appendEndpoint writes model.Endpoint's MarshalJSON bytes.
func appendEndpoint(b []byte, e *model.Endpoint) ([]byte, bool) {
	b = append(b, '{')
	n := 0
	if e.ServiceName != "" {
		b = comma(b, &n)
		b = append(b, `"serviceName":`...)
		b = appendJSONString(b, strings.ToLower(e.ServiceName))
	}
	for _, ip := range [...]struct {
		key string
		ip  net.IP
	}{{`"ipv4":`, e.IPv4}, {`"ipv6":`, e.IPv6}} {
		if len(ip.ip) == 0 {
			continue
		}
		if len(ip.ip) != net.IPv4len && len(ip.ip) != net.IPv6len {
			return b, false // net.IP.MarshalText fails, and so json.Marshal
		}
		b = comma(b, &n)
		b = append(b, ip.key...)
		b = appendJSONString(b, ip.ip.String())
	}
	if e.Port != 0 {
		b = comma(b, &n)
		b = append(b, `"port":`...)
		b = strconv.AppendUint(b, uint64(e.Port), 10)
	}
	return append(b, '}'), true
}

// comma separates the members of an object; n counts those written.
func comma(b []byte, n *int) []byte {
	if *n > 0 {
		b = append(b, ',')
	}
	*n++
	return b
}

// appendLowerJSONString is appendJSONString(b, strings.ToLower(s)) without the lowered
// copy when s is plain ASCII (an HTTP route: "GET /api/items").
func appendLowerJSONString(b []byte, s string) []byte {
	if !jsonVerbatim(s) {
		return appendJSONString(b, strings.ToLower(s))
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// appendJSONString writes s as json.Marshal does (HTML-escaped). Most tag keys and values
// are short plain ASCII, which is copied as it is without the general escaper's setup.
func appendJSONString(b []byte, s string) []byte {
	if len(s) > 32 || !jsonVerbatim(s) {
		return spanmodel.AppendJSONString(b, s, true)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonVerbatim reports whether json.Marshal writes s between its quotes as it is: ASCII,
// no control character, none of " \\ < > &.
func jsonVerbatim(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !jsonVerbatimWord(uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56) {
			return false
		}
	}
	for ; i < len(s); i++ {
		if !jsonVerbatimByte[s[i]] {
			return false
		}
	}
	return true
}

// jsonVerbatimWord is jsonVerbatim of eight bytes at once: one is bad when its high bit is
// set, when it is below 0x20, or when it is one of the five (a zero byte of x xor it:
// the test for one is exact).
func jsonVerbatimWord(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q, bs, lt, gt, amp := x^('"'*lo), x^('\\'*lo), x^('<'*lo), x^('>'*lo), x^('&'*lo)
	bad := x | (x-0x20*lo)&^x | (q-lo)&^q | (bs-lo)&^bs | (lt-lo)&^lt | (gt-lo)&^gt | (amp-lo)&^amp
	return bad&hi == 0
}

var jsonVerbatimByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// v2Scratch is what a payload's conversion uses and the next one can have: the tags of the
// span being converted and the per-position key memo.
type v2Scratch struct {
	pairs []tagPair
	memo  []tagMemo
}

var v2Scratches = sync.Pool{New: func() any { return new(v2Scratch) }}

func getV2Scratch() *v2Scratch { return v2Scratches.Get().(*v2Scratch) }

// release hands sc back, without the payload's strings (the memo keeps its JSON bytes,
// whose capacity is its own).
func (sc *v2Scratch) release() {
	if cap(sc.pairs) > 1<<12 || cap(sc.memo) > 1<<10 {
		return
	}
	clear(sc.pairs[:cap(sc.pairs)])
	sc.pairs = sc.pairs[:0]
	for i := range sc.memo {
		sc.memo[i] = tagMemo{json: sc.memo[i].json[:0]}
	}
	v2Scratches.Put(sc)
}
