package jsonwire

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInputOffset(t *testing.T) {
	r := NewReader([]byte(` [{"a":1}, {"b":2}]`), Lenient)
	defer r.Release()
	require.Zero(t, r.InputOffset())
	require.NoError(t, r.Open('['))
	require.EqualValues(t, 2, r.InputOffset())
	_, err := r.Value()
	require.NoError(t, err)
	require.EqualValues(t, 9, r.InputOffset())
}
