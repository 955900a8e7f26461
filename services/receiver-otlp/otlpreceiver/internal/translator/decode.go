package translator

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// DecodeProtobuf decodes a binary ExportTraceServiceRequest.
func DecodeProtobuf(data []byte) (td ptrace.Traces, err error) {
	defer recoverDecode("protobuf", &err)
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(data); err != nil {
		return ptrace.Traces{}, fmt.Errorf("decode OTLP protobuf request: %w", err)
	}
	return req.Traces(), nil
}

// DecodeJSON decodes an OTLP/JSON ExportTraceServiceRequest (hex ids, as OTLP/HTTP sends).
func DecodeJSON(data []byte) (td ptrace.Traces, err error) {
	defer recoverDecode("JSON", &err)
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON(data); err != nil {
		return ptrace.Traces{}, fmt.Errorf("decode OTLP JSON request: %w", err)
	}
	return req.Traces(), nil
}

// recoverDecode turns a decoder panic into an error: a receiver must never crash on input.
func recoverDecode(format string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("decode OTLP %s request: decoder panic: %v", format, r)
	}
}
