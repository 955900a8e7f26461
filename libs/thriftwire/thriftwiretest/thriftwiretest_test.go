package thriftwiretest

import (
	"context"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLibraryBoundsLengths: the reference refuses a length longer than the payload, as the
// receivers configured it.
func TestLibraryBoundsLengths(t *testing.T) {
	ctx := context.Background()
	s, err := Library([]byte{0, 0, 0, 2, 'o', 'k'}, false).ReadString(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok", s)
	_, err = Library([]byte{0, 0, 0, 9, 'o', 'k'}, false).ReadString(ctx)
	var pe thrift.TProtocolException
	require.ErrorAs(t, err, &pe)
	require.Equal(t, thrift.SIZE_LIMIT, pe.TypeId())
	s, err = Library([]byte{2, 'o', 'k'}, true).ReadString(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok", s)
}
