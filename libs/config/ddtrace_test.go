package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDDTraceBoolDefaults(t *testing.T) {
	l, err := Parse([]byte("[[inputs.ddtrace]]\n[[inputs.ddtrace]]\ntrace_128_bit_id = false\napmtelemetry_route_enable = false\n"), nil)
	require.NoError(t, err)
	require.Len(t, l.Inputs.DDTrace, 2)
	assert.True(t, l.Inputs.DDTrace[0].Use128BitTraceID(), "DataKit's default is true")
	assert.True(t, l.Inputs.DDTrace[0].APMTelemetryRoute())
	assert.False(t, l.Inputs.DDTrace[1].Use128BitTraceID())
	assert.False(t, l.Inputs.DDTrace[1].APMTelemetryRoute())
}
