package spanmodel

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendJSONFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 99.5, 1e-6, 9.99e-7, 1e-9, -1e-10, 1.5e-300,
		1e20, 1e21, -1e21, 123456789012345678901234.0, math.MaxFloat64, math.SmallestNonzeroFloat64, 1.0 / 3} {
		want, err := json.Marshal(f)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(AppendJSONFloat(nil, f)), "%v", f)
	}
}
