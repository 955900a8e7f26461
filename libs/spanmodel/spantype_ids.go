package spanmodel

import (
	"math/bits"

	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// AssignSpanTypesByID is AssignSpanTypes(spans, false) for a payload whose ids are numbers:
// spanIDs[i] and parentIDs[i] are spans[i]'s (parent 0: none). It gives AssignSpanTypes's
// result when spans[i].SpanId and ParentId were formatted from them one to one (equal
// numbers exactly when equal strings, and 0 exactly as "0" or ""), as FormatSpanIDByBase
// does; without the two string maps, which cost more than the rest of the rule.
func AssignSpanTypesByID(spans []*spanv1.DatakitSpan, spanIDs, parentIDs []uint64) {
	n := len(spans)
	if n == 0 {
		return
	}
	shift := uint(64 - bits.Len(uint(2*n-1))) // 2^(64-shift) slots: at most half full
	size := 1 << (64 - shift)
	var stack [256]uint64
	var slots []uint64
	if 2*size <= len(stack) {
		slots = stack[:2*size]
	} else {
		slots = make([]uint64, 2*size)
	}
	ids, parents := idSet{slots[:size], shift}, idSet{slots[size:], shift}
	for i := range spans {
		// 0 is never looked up in either set: a parent of 0 is the root, and the
		// parents hold no 0 (AssignSpanTypes keeps root parents out).
		ids.add(spanIDs[i])
		parents.add(parentIDs[i])
	}
	for i, s := range spans {
		if s.SpanType != "" {
			continue
		}
		switch p := parentIDs[i]; {
		case p == 0 || !ids.has(p):
			s.SpanType = SpanTypeEntry
		case parents.has(spanIDs[i]):
			s.SpanType = SpanTypeLocal
		default:
			s.SpanType = SpanTypeExit
		}
	}
}

// idSet is an open-addressing set of non-zero ids (0 marks a free slot), its size a
// power of two.
type idSet struct {
	slots []uint64
	shift uint
}

func (s idSet) slot(id uint64) uint64 { return (id * 0x9e3779b97f4a7c15) >> s.shift }

func (s idSet) add(id uint64) {
	if id == 0 {
		return
	}
	mask := uint64(len(s.slots) - 1)
	for i := s.slot(id); ; i = (i + 1) & mask {
		switch s.slots[i] {
		case id:
			return
		case 0:
			s.slots[i] = id
			return
		}
	}
}

func (s idSet) has(id uint64) bool {
	if id == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := s.slot(id); ; i = (i + 1) & mask {
		switch s.slots[i] {
		case id:
			return true
		case 0:
			return false
		}
	}
}
