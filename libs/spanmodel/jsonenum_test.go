package spanmodel

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testEnum int64

func (e testEnum) String() string {
	if e == 1 {
		return "ONE"
	}
	return fmt.Sprintf("<%d&>", int64(e))
}

func (e testEnum) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

func TestJSONEnumMatchesEncodingJSON(t *testing.T) {
	e := NewJSONEnum(3, testEnum.String)
	for _, v := range []testEnum{0, 1, 2, 3, -1, 1 << 40} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(e.Append([]byte("x"), v))[1:], "%d", v)
	}
}
