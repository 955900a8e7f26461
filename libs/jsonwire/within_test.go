package jsonwire

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestStringWithin(t *testing.T) {
	for _, syntax := range []Syntax{Strict, Lenient} {
		r := NewReader([]byte(` {"k":"plain","e":"a\"b\u00e9","u":"é"}`), syntax)
		v, err := r.Value()
		require.NoError(t, err)
		require.Equal(t, "k", r.StringWithin(v, 1, 4))
		require.Equal(t, "plain", r.StringWithin(v, 5, 12))
		require.Equal(t, "a\"bé", r.StringWithin(v, 17, 29))
		require.Equal(t, "é", r.StringWithin(v, 34, 38))
		s := r.StringWithin(v, 5, 12)
		require.Equal(t, unsafe.StringData(r.str[7:12]), unsafe.StringData(s), "a plain string is a slice of the payload copy")
		r.Release()
	}
	r := NewReader([]byte("{\"x\":\"a\xffb\"}"), Lenient)
	defer r.Release()
	v, err := r.Value()
	require.NoError(t, err)
	require.Equal(t, "a\ufffdb", r.StringWithin(v, 5, 10))
}
