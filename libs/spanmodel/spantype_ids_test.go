package spanmodel

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// checkByIDMatches asserts that AssignSpanTypesByID over numeric ids gives what
// AssignSpanTypes gives over the same ids formatted in either base (some spans typed
// beforehand, which both keep).
func checkByIDMatches(t *testing.T, spanIDs, parentIDs []uint64, preset []bool) {
	t.Helper()
	for _, base := range []int{10, 16} {
		want := make([]*spanv1.DatakitSpan, len(spanIDs))
		got := make([]*spanv1.DatakitSpan, len(spanIDs))
		for i := range spanIDs {
			want[i] = &spanv1.DatakitSpan{SpanId: FormatSpanIDByBase(spanIDs[i], base), ParentId: FormatSpanIDByBase(parentIDs[i], base)}
			if preset[i] {
				want[i].SpanType = SpanTypeUnknown
			}
			got[i] = &spanv1.DatakitSpan{SpanId: want[i].SpanId, ParentId: want[i].ParentId, SpanType: want[i].SpanType}
		}
		AssignSpanTypes(want, false)
		AssignSpanTypesByID(got, spanIDs, parentIDs)
		for i := range want {
			require.Equal(t, want[i].SpanType, got[i].SpanType, "span %d of %d (id %d parent %d) base %d", i, len(want), spanIDs[i], parentIDs[i], base)
		}
	}
}

func TestAssignSpanTypesByIDMatchesAssignSpanTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Sizes around the stack table's limit (64) and ids from a small range, so that
	// duplicates, self-parents, zeros and absent parents all occur.
	for _, n := range []int{0, 1, 2, 3, 7, 50, 63, 64, 65, 200, 1000} {
		for range 20 {
			idRange := uint64(max(2, n/2+r.IntN(2*n+2)))
			spanIDs, parentIDs, preset := make([]uint64, n), make([]uint64, n), make([]bool, n)
			for i := range n {
				spanIDs[i] = r.Uint64N(idRange)
				if r.IntN(8) == 0 {
					spanIDs[i] = r.Uint64() // large ids exercise the hash's high bits
				}
				parentIDs[i] = r.Uint64N(idRange)
				if i > 0 && r.IntN(3) == 0 {
					parentIDs[i] = spanIDs[r.IntN(i)]
				}
				preset[i] = r.IntN(10) == 0
			}
			checkByIDMatches(t, spanIDs, parentIDs, preset)
		}
	}
}

func TestAssignSpanTypesByIDDoesNotAllocate(t *testing.T) {
	spans := make([]*spanv1.DatakitSpan, 50)
	ids, parents := make([]uint64, 50), make([]uint64, 50)
	for i := range spans {
		spans[i] = &spanv1.DatakitSpan{}
		ids[i], parents[i] = uint64(i+1), uint64((i+1)/2)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, s := range spans {
			s.SpanType = ""
		}
		AssignSpanTypesByID(spans, ids, parents)
	})
	require.Zero(t, allocs)
	require.Equal(t, SpanTypeEntry, spans[0].SpanType)
	require.Equal(t, SpanTypeLocal, spans[1].SpanType)
	require.Equal(t, SpanTypeExit, spans[49].SpanType)
}

// FuzzAssignSpanTypesByID reads (span id, parent id, preset) triples from the input: two
// bytes or, after a 0xff byte, eight bytes per id.
func FuzzAssignSpanTypesByID(f *testing.F) {
	f.Add([]byte{1, 0, 0, 2, 1, 0, 3, 1, 1, 4, 3, 0, 3, 4, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() uint64 {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			if b == 0xff && len(data) >= 8 {
				v := binary.LittleEndian.Uint64(data)
				data = data[8:]
				return v
			}
			return uint64(b % 16)
		}
		var spanIDs, parentIDs []uint64
		var preset []bool
		for len(data) > 0 && len(spanIDs) < 500 {
			spanIDs = append(spanIDs, next())
			parentIDs = append(parentIDs, next())
			preset = append(preset, next()%7 == 1)
		}
		checkByIDMatches(t, spanIDs, parentIDs, preset)
	})
}
