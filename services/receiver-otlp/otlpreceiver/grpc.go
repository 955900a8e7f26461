package otlpreceiver

import (
	"context"
	"fmt"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/services/receiver-otlp/otlpreceiver/internal/translator"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP exporters compress with gzip by default
	"google.golang.org/grpc/mem"
)

// TraceServiceExport is the OTLP method the server answers.
const TraceServiceExport = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// The TraceService is registered by hand over raw bytes rather than with
// ptraceotlp.RegisterGRPCServer: there grpc-go decodes the request before our handler runs
// and reports a bad payload as Internal, while the contract is InvalidArgument. Decoding
// in the handler (ptraceotlp.ExportRequest.UnmarshalProto) also puts it inside the worker
// pool, so an overloaded receiver refuses before spending CPU on the payload.
var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
	HandlerType: (*exporter)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: exportHandler}},
	Metadata:    "opentelemetry/proto/collector/trace/v1/trace_service.proto",
}

type exporter interface {
	export(ctx context.Context, req []byte) error
}

// rawMessage is a request or response left in its wire form.
type rawMessage struct{ data []byte }

// rawCodec hands the handler the request bytes; the response (an empty
// ExportTraceServiceResponse) is zero bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, fmt.Errorf("otlp codec: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m.data)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("otlp codec: cannot unmarshal into %T", v)
	}
	m.data = data.Materialize() // a copy: data is freed when Unmarshal returns
	return nil
}

func (rawCodec) Name() string { return "proto" }

var _ encoding.CodecV2 = rawCodec{}

func newGRPCServer(r *Receiver) *grpc.Server {
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(r.maxPayload), grpc.ForceServerCodecV2(rawCodec{}))
	srv.RegisterService(&traceServiceDesc, &grpcExporter{r: r})
	return srv
}

func exportHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(rawMessage)
	if err := dec(in); err != nil {
		return nil, err
	}
	call := func(ctx context.Context, req any) (any, error) {
		if err := srv.(exporter).export(ctx, req.(*rawMessage).data); err != nil {
			return nil, err
		}
		return &rawMessage{}, nil
	}
	if interceptor == nil {
		return call(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: TraceServiceExport}, call)
}

type grpcExporter struct{ r *Receiver }

func (g *grpcExporter) export(ctx context.Context, req []byte) error {
	r := g.r
	spans := 0
	err := r.pool.Do(ctx, func(ctx context.Context) error {
		td, err := translator.DecodeProtobuf(req)
		if err != nil {
			return pipeline.Permanent(err)
		}
		spans = td.SpanCount()
		return r.consume(ctx, td, translator.Meta{RemoteIP: peerIP(ctx)})
	})
	r.obs.Record(config.SourceOpenTelemetry, "grpc", len(req), spans, err)
	if err != nil {
		r.log.Debug("export refused", "transport", "grpc", "err", err)
		return receiver.GRPCError(err)
	}
	return nil
}
