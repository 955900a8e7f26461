package spanmodel

import "sync"

// TextBatch makes the strings a translator prints for one payload (ids, messages) in one
// allocation: each is appended to Buf and registered with Set; Flush turns Buf into one
// string and points every registered field at its part. The strings share one backing
// array, which lives as long as the longest-lived of them: a payload's spans live and die
// together.
type TextBatch struct {
	Buf  []byte
	refs []textRef
}

type textRef struct {
	dst        *string
	start, end int
}

var textBatches = sync.Pool{New: func() any { return new(TextBatch) }}

// GetTextBatch returns an empty batch; hand it back with Release after Flush.
func GetTextBatch() *TextBatch { return textBatches.Get().(*TextBatch) }

// Set registers Buf[start:] (what was appended since len(Buf) was start) as *dst's value.
func (t *TextBatch) Set(dst *string, start int) {
	t.refs = append(t.refs, textRef{dst: dst, start: start, end: len(t.Buf)})
}

// Flush assigns every registered field; Buf and the registrations are then reset.
func (t *TextBatch) Flush() {
	all := string(t.Buf)
	for _, r := range t.refs {
		*r.dst = all[r.start:r.end]
	}
	clear(t.refs)
	t.Buf, t.refs = t.Buf[:0], t.refs[:0]
}

// Release returns t to the pool (a huge payload's buffer is dropped instead of kept).
func (t *TextBatch) Release() {
	if cap(t.Buf) > 4<<20 || cap(t.refs) > 1<<16 {
		return
	}
	t.Flush()
	textBatches.Put(t)
}
