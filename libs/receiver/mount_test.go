package receiver

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMountReportsConflict(t *testing.T) {
	mux := http.NewServeMux()
	h := func(http.ResponseWriter, *http.Request) {}
	require.NoError(t, Mount(mux, "POST /api/v2/spans", h))
	err := Mount(mux, "POST /api/v2/spans", h)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `mount "POST /api/v2/spans"`)
	assert.Error(t, Mount(mux, "POST bad path", h), "an invalid pattern is an error too")
}
