package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRoundTripThroughGRPCStatus(t *testing.T) {
	for code, sp := range specs {
		e := New(code, "detail %d", 1)
		// What a gRPC client receives: the status rebuilt from the wire form.
		wire := status.FromProto(e.GRPCStatus().Proto()).Err()
		assert.Equal(t, sp.grpc, status.Code(wire), code)
		c, httpStatus, msg := FromError(wire)
		assert.Equal(t, code, c)
		assert.Equal(t, sp.http, httpStatus)
		assert.Equal(t, "detail 1", msg)
	}
}

func TestFromError(t *testing.T) {
	inner := errors.New("boom")
	c, s, msg := FromError(fmt.Errorf("ctx: %w", Wrap(InvalidLinePoint, inner, "line 3")))
	assert.Equal(t, InvalidLinePoint, c)
	assert.Equal(t, http.StatusBadRequest, s)
	assert.Equal(t, "line 3: boom", msg)

	for grpcCode, want := range map[codes.Code]Code{
		codes.InvalidArgument: DecodeBodyFailed, codes.ResourceExhausted: FeedBusy,
		codes.Unavailable: FeedFailed, codes.Internal: InvalidAPIHandler,
	} {
		c, _, _ := FromError(status.Error(grpcCode, "x"))
		assert.Equal(t, want, c, grpcCode.String())
	}
	c, s, _ = FromError(errors.New("plain"))
	assert.Equal(t, InvalidAPIHandler, c)
	assert.Equal(t, http.StatusInternalServerError, s)
	assert.Equal(t, http.StatusInternalServerError, Code("datakit.unknown").HTTPStatus())
}
