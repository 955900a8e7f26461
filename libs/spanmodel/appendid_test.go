package spanmodel

import (
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAppendIDs checks the appenders (and the Format functions built on them) against fmt.
func TestAppendIDs(t *testing.T) {
	ids := []uint64{0, 1, 0xf, 0x10, 0xabc, 1 << 32, 0x0123456789abcdef, math.MaxInt64, math.MaxUint64}
	for _, id := range ids {
		hex := fmt.Sprintf("%016x", id)
		assert.Equal(t, hex, string(AppendHex16([]byte("x"), id))[1:], "%d AppendHex16", id)
		if id == 0 {
			hex = "0"
		}
		assert.Equal(t, hex, string(AppendSpanIDByBase([]byte("x"), id, 16))[1:], "%d base 16", id)
		assert.Equal(t, hex, FormatSpanIDByBase(id, 16))
		assert.Equal(t, strconv.FormatUint(id, 10), string(AppendSpanIDByBase([]byte("x"), id, 10))[1:], "%d base 10", id)
		for _, low := range ids {
			want := fmt.Sprintf("%016x%016x", id, low)
			assert.Equal(t, want, string(AppendHex128([]byte("x"), id, low))[1:])
			assert.Equal(t, want, Hex128(id, low))
		}
	}
}
