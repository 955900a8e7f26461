// Package apierr is DataKit's error vocabulary for /v1/write: the error_code strings, the HTTP
// status each one answers with, and their carriage through gRPC (a google.rpc.ErrorInfo
// detail whose reason is the code), so the HTTP side renders exactly what the service decided.
package apierr

import (
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain is the google.rpc.ErrorInfo domain of every gateway error.
const Domain = "datakit"

// Code is a DataKit error_code ("datakit." + camelCase error).
type Code string

// Codes of GuanceCloud/datakit internal/httpapi (datakit-spec §5), plus the few tracekit
// answers DataKit has no name for (size cap, bus overload), named by DataKit's rule.
const (
	InvalidCategory      Code = "datakit.invalidCategory"
	EmptyBody            Code = "datakit.emptyBody"
	NoPoints             Code = "datakit.noPoints"
	DecodeBodyFailed     Code = "datakit.decodeBodyFailed"
	InvalidLinePoint     Code = "datakit.invalidLinePoint"
	InvalidJSONPoint     Code = "datakit.invalidJsonPoint"
	InvalidProtobufPoint Code = "datakit.invalidProtobufPoint"
	PointGotWarning      Code = "datakit.pointGotWarning"
	InvalidPrecision     Code = "datakit.invalidPrecision"
	InvalidEcho          Code = "datakit.invalidEcho"
	InvalidAPIHandler    Code = "datakit.invalidAPIHandler"
	ReachMaxAPILimit     Code = "datakit.reachMaxAPILimit"
	PayloadTooLarge      Code = "datakit.payloadTooLarge"
	// FeedBusy: the bus refused the points for now (stream full); retry later.
	FeedBusy Code = "datakit.feedBusy"
	// FeedFailed: the bus did not acknowledge the points (transient).
	FeedFailed Code = "datakit.feedFailed"
)

type spec struct {
	http int
	grpc codes.Code
}

var specs = map[Code]spec{
	InvalidCategory:      {http.StatusBadRequest, codes.InvalidArgument},
	EmptyBody:            {http.StatusBadRequest, codes.InvalidArgument},
	NoPoints:             {http.StatusBadRequest, codes.InvalidArgument},
	DecodeBodyFailed:     {http.StatusBadRequest, codes.InvalidArgument},
	InvalidLinePoint:     {http.StatusBadRequest, codes.InvalidArgument},
	InvalidJSONPoint:     {http.StatusBadRequest, codes.InvalidArgument},
	InvalidProtobufPoint: {http.StatusBadRequest, codes.InvalidArgument},
	PointGotWarning:      {http.StatusBadRequest, codes.InvalidArgument},
	InvalidPrecision:     {http.StatusBadRequest, codes.InvalidArgument},
	InvalidEcho:          {http.StatusBadRequest, codes.InvalidArgument},
	InvalidAPIHandler:    {http.StatusInternalServerError, codes.Internal},
	ReachMaxAPILimit:     {http.StatusTooManyRequests, codes.ResourceExhausted},
	PayloadTooLarge:      {http.StatusRequestEntityTooLarge, codes.ResourceExhausted},
	FeedBusy:             {http.StatusTooManyRequests, codes.ResourceExhausted},
	FeedFailed:           {http.StatusServiceUnavailable, codes.Unavailable},
}

// HTTPStatus is the status DataKit answers code with (500 for unknown codes).
func (c Code) HTTPStatus() int {
	if s, ok := specs[c]; ok {
		return s.http
	}
	return http.StatusInternalServerError
}

// Error is a gateway failure with its DataKit code.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		if e.Msg == "" {
			return e.Err.Error()
		}
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error that keeps err for errors.Is / errors.As.
func Wrap(code Code, err error, msg string) *Error { return &Error{Code: code, Msg: msg, Err: err} }

// GRPCStatus makes *Error a gRPC status error carrying the code as ErrorInfo.reason.
func (e *Error) GRPCStatus() *status.Status {
	sp, ok := specs[e.Code]
	if !ok {
		sp = spec{http.StatusInternalServerError, codes.Internal}
	}
	st := status.New(sp.grpc, e.Error())
	if ds, err := st.WithDetails(&errdetails.ErrorInfo{Reason: string(e.Code), Domain: Domain}); err == nil {
		return ds
	}
	return st
}

// FromError recovers the DataKit code, HTTP status and message of any error: an *Error, a
// gRPC status carrying ErrorInfo, or a bare gRPC status (mapped by its code).
func FromError(err error) (Code, int, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, e.Code.HTTPStatus(), e.Error()
	}
	st, ok := status.FromError(err)
	if !ok {
		return InvalidAPIHandler, http.StatusInternalServerError, err.Error()
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == Domain {
			c := Code(info.GetReason())
			return c, c.HTTPStatus(), st.Message()
		}
	}
	// Statuses made outside the service: grpc-gateway's own request decoding, transport.
	switch st.Code() {
	case codes.InvalidArgument:
		return DecodeBodyFailed, http.StatusBadRequest, st.Message()
	case codes.ResourceExhausted:
		return FeedBusy, http.StatusTooManyRequests, st.Message()
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return FeedFailed, http.StatusServiceUnavailable, st.Message()
	default:
		return InvalidAPIHandler, http.StatusInternalServerError, st.Message()
	}
}
