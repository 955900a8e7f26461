package receiver

import (
	"context"
	"errors"
	"net/http"

	"github.com/tracekit/tracekit/libs/pipeline"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// HTTPStatus maps an error class to the answer a tracer understands: 400 for a payload that
// will never be accepted, 413 for one over the size cap, 429 for overload (retry later),
// 503 for anything else transient.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case pipeline.IsPermanent(err):
		return http.StatusBadRequest
	case pipeline.IsExhausted(err):
		return http.StatusTooManyRequests
	default:
		return http.StatusServiceUnavailable
	}
}

// WriteHTTPError answers err with its status and the message as plain text, so the tracer's
// logs say what was wrong with the payload.
func WriteHTTPError(w http.ResponseWriter, err error) {
	code := HTTPStatus(err)
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, err.Error(), code)
}

// GRPCError converts err to a gRPC status error with the matching code.
func GRPCError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !pipeline.IsPermanent(err) && !pipeline.IsExhausted(err) {
		return err
	}
	var code codes.Code
	switch {
	case errors.Is(err, ErrTooLarge):
		code = codes.ResourceExhausted
	case pipeline.IsPermanent(err):
		code = codes.InvalidArgument
	case pipeline.IsExhausted(err):
		code = codes.ResourceExhausted
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	default:
		code = codes.Unavailable
	}
	return status.Error(code, err.Error())
}

func statusCode(err error) string {
	s, _ := status.FromError(err)
	return s.Code().String()
}
