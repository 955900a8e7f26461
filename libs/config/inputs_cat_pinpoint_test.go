package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCATPinpointDefaults(t *testing.T) {
	l, err := Parse([]byte("[[inputs.cat]]\n[[inputs.pinpoint]]\n"), nil)
	require.NoError(t, err)
	c := l.Config.Inputs.CAT[0]
	assert.Equal(t, "2280", c.TCPPort)
	assert.Equal(t, "127.0.0.1", c.TCPHost)
	assert.Equal(t, "native", c.Decode)
	assert.Equal(t, "Cache.;Squirrel.", c.StartTransactionTypes)
	assert.Equal(t, "SQL", c.MatchTransactionTypes)
	assert.Equal(t, "false", c.Block)
	assert.Equal(t, "127.0.0.1:2280;", c.Routers)
	assert.Equal(t, "1.0", c.Sample)
	assert.Equal(t, "127.0.0.1:9991", l.Config.Inputs.Pinpoint[0].Address)
}

func TestCATPinpointValidation(t *testing.T) {
	tests := []struct{ toml, want string }{
		{"[[inputs.cat]]\ndecode = \"plaintext\"\n", `cat[0].decode: "plaintext" is not supported`},
		{"[[inputs.cat]]\ntcp_port = \"x\"\n", `cat[0].tcp_port`},
		{"[[inputs.cat]]\ntcp_host = \"127.0.0.1:2280\"\n", `cat[0].tcp_host`},
		{"[[inputs.pinpoint]]\naddress = \"nope\"\n", `pinpoint[0].address`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.toml), nil)
		require.ErrorContains(t, err, tt.want, tt.toml)
	}
	_, err := Parse([]byte("[[inputs.cat]]\ntcp_host = \"0.0.0.0\"\nMatchTransactionTypes = \"SQL;URL\"\n"), nil)
	require.NoError(t, err)
}
