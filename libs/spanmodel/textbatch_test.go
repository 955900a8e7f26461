package spanmodel

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTextBatch(t *testing.T) {
	var a, b, c string
	tb := GetTextBatch()
	start := len(tb.Buf)
	tb.Buf = append(tb.Buf, "first"...)
	tb.Set(&a, start)
	tb.Set(&b, len(tb.Buf)) // empty
	start = len(tb.Buf)
	tb.Buf = AppendHex128(tb.Buf, 1, 2)
	tb.Set(&c, start)
	assert.Empty(t, a, "nothing is assigned before Flush")
	tb.Flush()
	tb.Release()
	assert.Equal(t, "first", a)
	assert.Equal(t, "", b)
	assert.Equal(t, Hex128(1, 2), c)

	tb = GetTextBatch() // reused: the strings handed out must not change
	tb.Buf = append(tb.Buf, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"...)
	tb.Flush()
	tb.Release()
	assert.Equal(t, "first", a)
	assert.Equal(t, Hex128(1, 2), c)
}

func TestFormatSpanIDByBaseAllocatesOnce(t *testing.T) {
	for _, id := range []uint64{1, 0xabc, 1 << 63} {
		assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = FormatSpanIDByBase(id, 16) }), "%x", id)
	}
}
