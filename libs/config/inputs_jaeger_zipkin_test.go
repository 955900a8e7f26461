package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJaegerZipkinDefaultsAndValidation(t *testing.T) {
	l, err := Parse([]byte("[[inputs.jaeger]]\n[[inputs.zipkin]]\n"), nil)
	require.NoError(t, err)
	j := l.Inputs.Jaeger[0]
	assert.Equal(t, "/apis/traces", j.Endpoint)
	assert.Equal(t, 65000, j.UDPBuffer)
	assert.Empty(t, j.Address, "no UDP listener unless configured, as DataKit")
	assert.Empty(t, j.BinaryAddress)
	z := l.Inputs.Zipkin[0]
	assert.Equal(t, "/api/v1/spans", z.PathV1)
	assert.Equal(t, "/api/v2/spans", z.PathV2)

	tests := []struct{ toml, want string }{
		{"[[inputs.jaeger]]\nudp_buffer = 70000\n", "jaeger[0].udp_buffer"},
		{"[[inputs.jaeger]]\nendpoint = \"apis\"\n", "jaeger[0].endpoint"},
		{"[[inputs.jaeger]]\naddress = \"nope\"\n", "jaeger[0].address"},
		{"[[inputs.zipkin]]\npathV2 = \"v2\"\n", "zipkin[0].pathV2"},
		{"[[inputs.zipkin]]\nignore_tags = [\"(\"]\n", "zipkin[0].ignore_tags[0]"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.toml), nil)
		require.Error(t, err, tt.toml)
		assert.Contains(t, err.Error(), tt.want)
	}
}
