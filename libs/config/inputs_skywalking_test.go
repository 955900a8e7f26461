package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSkyWalkingDefaultsAndValidation(t *testing.T) {
	l, err := Parse([]byte("[[inputs.skywalking]]\n"), nil)
	require.NoError(t, err)
	s := l.Inputs.SkyWalking[0]
	assert.Equal(t, "127.0.0.1:11800", s.Address)
	assert.Equal(t, []string{"/v3/trace", "/v3/segment", "/v3/segments"}, s.Endpoints)

	// DataKit's sample section parses unchanged.
	l, err = Parse([]byte(`[[inputs.skywalking]]
  address = "127.0.0.1:11800"
  endpoints = ["/v3/trace", "/v3/metric", "/v3/logging", "/v3/profiling"]
  plugins = ["db.type"]
  ignore_tags = ["block1", "block2"]
  [inputs.skywalking.tags]
    key1 = "value1"
  [inputs.skywalking.threads]
    buffer = 100
    threads = 8
`), nil)
	require.NoError(t, err)
	s = l.Inputs.SkyWalking[0]
	assert.Equal(t, []string{"db.type"}, s.Plugins)
	assert.Equal(t, "value1", s.Tags["key1"])
	assert.Len(t, s.Endpoints, 4)

	tests := []struct{ toml, want string }{
		{"[[inputs.skywalking]]\naddress = \"11800\"\n", "skywalking[0].address"},
		{"[[inputs.skywalking]]\nendpoints = [\"v3/trace\"]\n", "skywalking[0].endpoints[0]"},
		{"[[inputs.skywalking]]\nignore_tags = [\"(\"]\n", "skywalking[0].ignore_tags[0]"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.toml), nil)
		require.Error(t, err, tt.toml)
		assert.Contains(t, err.Error(), tt.want)
	}
}
