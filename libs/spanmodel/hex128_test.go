package spanmodel

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHex128(t *testing.T) {
	assert.Equal(t, "00000000000000010000000000000000", Hex128(1, 0))
	assert.Equal(t, "463ac35c9f6413ad48485a3953bb6124", Hex128(0x463ac35c9f6413ad, 0x48485a3953bb6124))
	assert.Equal(t, "ffffffffffffffff00000000000000ff", Hex128(^uint64(0), 0xff))
}
