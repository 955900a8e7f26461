package skywalkingreceiver

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	swcompat "github.com/tracekit/tracekit/proto/gen/go/skywalking/compat/v830"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	configv3 "skywalking.apache.org/repo/goapi/collect/agent/configuration/v3"
	commonv3 "skywalking.apache.org/repo/goapi/collect/common/v3"
	eventv3 "skywalking.apache.org/repo/goapi/collect/event/v3"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
	profilev3 "skywalking.apache.org/repo/goapi/collect/language/profile/v3"
	loggingv3 "skywalking.apache.org/repo/goapi/collect/logging/v3"
	managementv3 "skywalking.apache.org/repo/goapi/collect/management/v3"
)

// register installs every service DataKit answers: the skywalking.v3 ones and the
// package-less 8.3.0 compat ones. Only traces are converted; the rest are acknowledged with
// empty Commands (an agent whose calls fail reconnects in a loop and may stop tracing).
func (r *Receiver) register(s *grpc.Server) {
	agentv3.RegisterTraceSegmentReportServiceServer(s, &traceServer{r: r})
	managementv3.RegisterManagementServiceServer(s, &managementServer{r: r})
	configv3.RegisterConfigurationDiscoveryServiceServer(s, &cdsServer{r: r})
	agentv3.RegisterJVMMetricReportServiceServer(s, &jvmServer{r: r})
	agentv3.RegisterCLRMetricReportServiceServer(s, &clrServer{r: r})
	agentv3.RegisterMeterReportServiceServer(s, &meterServer{r: r})
	agentv3.RegisterBrowserPerfServiceServer(s, &browserServer{r: r})
	eventv3.RegisterEventServiceServer(s, &eventServer{r: r})
	loggingv3.RegisterLogReportServiceServer(s, &logServer{r: r})
	profilev3.RegisterProfileTaskServer(s, &profileServer{r: r})

	swcompat.RegisterTraceSegmentReportServiceServer(s, &compatTraceServer{r: r})
	swcompat.RegisterJVMMetricReportServiceServer(s, &compatJVMServer{r: r})
	swcompat.RegisterProfileTaskServer(s, &compatProfileServer{r: r})
	swcompat.RegisterManagementServiceServer(s, &compatManagementServer{r: r})
}

var errShuttingDown = status.Error(codes.Unavailable, "skywalking receiver is shutting down; reconnect")

// recvLoop reads a client stream until the agent closes it (nil: the caller answers), the
// receiver shuts down (Unavailable, so the agent reconnects elsewhere), or handle fails.
// Recv runs in its own goroutine so that an idle stream, which agents keep open for their
// lifetime, does not hold up shutdown; it ends when the stream's context does, which gRPC
// cancels as soon as the handler returns. A nil handle counts the message as ignored.
func recvLoop[T any](r *Receiver, ctx context.Context, method string, recv func() (T, error), handle func(T) error) error {
	type result struct {
		msg T
		err error
	}
	results := make(chan result)
	go func() {
		for {
			m, err := recv()
			if err != nil {
				// Counted here: the loop may already have left on the stream's cancellation.
				err = r.recvError(err)
			}
			select {
			case results <- result{m, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-r.stopping:
			return errShuttingDown
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case res := <-results:
			switch {
			case errors.Is(res.err, io.EOF):
				return nil
			case res.err != nil:
				return res.err
			case handle == nil:
				r.ignored.WithLabelValues(method).Inc()
			default:
				if err := handle(res.msg); err != nil {
					return err
				}
			}
		}
	}
}

// recvError counts a stream message that failed to arrive. gRPC itself has already answered
// a malformed one with Internal ("failed to unmarshal"), which a handler cannot change.
func (r *Receiver) recvError(err error) error {
	if st, ok := status.FromError(err); ok && st.Code() == codes.Internal {
		r.obs.Record(config.SourceSkyWalking, "grpc", 0, 0, err)
	}
	return err
}

// ack counts a unary call that is answered without conversion.
func (r *Receiver) ack(method string) (*commonv3.Commands, error) {
	r.ignored.WithLabelValues(method).Inc()
	return &commonv3.Commands{}, nil
}

func (r *Receiver) collectSegment(ctx context.Context, seg *agentv3.SegmentObject) error {
	return receiver.GRPCError(r.consume(ctx, "grpc", proto.Size(seg), []*agentv3.SegmentObject{seg}))
}

func (r *Receiver) collectSegments(ctx context.Context, col *agentv3.SegmentCollection) (*commonv3.Commands, error) {
	if err := r.consume(ctx, "grpc", proto.Size(col), col.GetSegments()); err != nil {
		return nil, receiver.GRPCError(err)
	}
	return &commonv3.Commands{}, nil
}

type traceServer struct {
	agentv3.UnimplementedTraceSegmentReportServiceServer
	r *Receiver
}

// Collect is the agents' main channel: a long-lived stream of segments. Each segment is
// published before the next is read, so a segment is on the bus when the stream ends OK.
func (s *traceServer) Collect(st agentv3.TraceSegmentReportService_CollectServer) error {
	ctx := st.Context()
	err := recvLoop(s.r, ctx, "", st.Recv, func(seg *agentv3.SegmentObject) error { return s.r.collectSegment(ctx, seg) })
	if err != nil {
		return err
	}
	return st.SendAndClose(&commonv3.Commands{})
}

func (s *traceServer) CollectInSync(ctx context.Context, col *agentv3.SegmentCollection) (*commonv3.Commands, error) {
	return s.r.collectSegments(ctx, col)
}

type managementServer struct {
	managementv3.UnimplementedManagementServiceServer
	r *Receiver
}

func (s *managementServer) ReportInstanceProperties(context.Context, *managementv3.InstanceProperties) (*commonv3.Commands, error) {
	return s.r.ack("ManagementService.reportInstanceProperties")
}

func (s *managementServer) KeepAlive(context.Context, *managementv3.InstancePingPkg) (*commonv3.Commands, error) {
	return s.r.ack("ManagementService.keepAlive")
}

type cdsServer struct {
	configv3.UnimplementedConfigurationDiscoveryServiceServer
	r *Receiver
}

// FetchConfigurations answers "no change": agents keep their local configuration.
func (s *cdsServer) FetchConfigurations(context.Context, *configv3.ConfigurationSyncRequest) (*commonv3.Commands, error) {
	return s.r.ack("ConfigurationDiscoveryService.fetchConfigurations")
}

type jvmServer struct {
	agentv3.UnimplementedJVMMetricReportServiceServer
	r *Receiver
}

func (s *jvmServer) Collect(context.Context, *agentv3.JVMMetricCollection) (*commonv3.Commands, error) {
	return s.r.ack("JVMMetricReportService.collect")
}

type clrServer struct {
	agentv3.UnimplementedCLRMetricReportServiceServer
	r *Receiver
}

func (s *clrServer) Collect(context.Context, *agentv3.CLRMetricCollection) (*commonv3.Commands, error) {
	return s.r.ack("CLRMetricReportService.collect")
}

type meterServer struct {
	agentv3.UnimplementedMeterReportServiceServer
	r *Receiver
}

func (s *meterServer) Collect(st agentv3.MeterReportService_CollectServer) error {
	if err := recvLoop(s.r, st.Context(), "MeterReportService.collect", st.Recv, nil); err != nil {
		return err
	}
	return st.SendAndClose(&commonv3.Commands{})
}

func (s *meterServer) CollectBatch(st agentv3.MeterReportService_CollectBatchServer) error {
	if err := recvLoop(s.r, st.Context(), "MeterReportService.collectBatch", st.Recv, nil); err != nil {
		return err
	}
	return st.SendAndClose(&commonv3.Commands{})
}

type browserServer struct {
	agentv3.UnimplementedBrowserPerfServiceServer
	r *Receiver
}

func (s *browserServer) CollectPerfData(context.Context, *agentv3.BrowserPerfData) (*commonv3.Commands, error) {
	return s.r.ack("BrowserPerfService.collectPerfData")
}

func (s *browserServer) CollectErrorLogs(st agentv3.BrowserPerfService_CollectErrorLogsServer) error {
	if err := recvLoop(s.r, st.Context(), "BrowserPerfService.collectErrorLogs", st.Recv, nil); err != nil {
		return err
	}
	return st.SendAndClose(&commonv3.Commands{})
}

type eventServer struct {
	eventv3.UnimplementedEventServiceServer
	r *Receiver
}

func (s *eventServer) Collect(st eventv3.EventService_CollectServer) error {
	if err := recvLoop(s.r, st.Context(), "EventService.collect", st.Recv, nil); err != nil {
		return err
	}
	return st.SendAndClose(&commonv3.Commands{})
}

type logServer struct {
	loggingv3.UnimplementedLogReportServiceServer
	r *Receiver
}

func (s *logServer) Collect(st loggingv3.LogReportService_CollectServer) error {
	if err := recvLoop(s.r, st.Context(), "LogReportService.collect", st.Recv, nil); err != nil {
		return err
	}
	return st.SendAndClose(&commonv3.Commands{})
}

type profileServer struct {
	profilev3.UnimplementedProfileTaskServer
	r *Receiver
}

// GetProfileTaskCommands answers "no task": profiling is never requested.
func (s *profileServer) GetProfileTaskCommands(context.Context, *profilev3.ProfileTaskCommandQuery) (*commonv3.Commands, error) {
	return s.r.ack("ProfileTask.getProfileTaskCommands")
}

func (s *profileServer) CollectSnapshot(st profilev3.ProfileTask_CollectSnapshotServer) error {
	if err := recvLoop(s.r, st.Context(), "ProfileTask.collectSnapshot", st.Recv, nil); err != nil {
		return err
	}
	return st.SendAndClose(&commonv3.Commands{})
}

func (s *profileServer) ReportTaskFinish(context.Context, *profilev3.ProfileTaskFinishReport) (*commonv3.Commands, error) {
	return s.r.ack("ProfileTask.reportTaskFinish")
}

// 8.3.0 compat services (package-less names, same messages).

// asV3 re-reads a compat message as its skywalking.v3 twin: both are declared with the
// same field numbers, so the bytes are the same.
func asV3(compat, v3 proto.Message) error {
	b, err := proto.Marshal(compat)
	if err == nil {
		err = proto.Unmarshal(b, v3)
	}
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("compat %s: %w", compat.ProtoReflect().Descriptor().FullName(), err))
	}
	return nil
}

func (r *Receiver) compatAck(method string) (*swcompat.Commands, error) {
	r.ignored.WithLabelValues("compat." + method).Inc()
	return &swcompat.Commands{}, nil
}

type compatTraceServer struct {
	swcompat.UnimplementedTraceSegmentReportServiceServer
	r *Receiver
}

func (s *compatTraceServer) Collect(st swcompat.TraceSegmentReportService_CollectServer) error {
	ctx := st.Context()
	err := recvLoop(s.r, ctx, "", st.Recv, func(c *swcompat.SegmentObject) error {
		seg := &agentv3.SegmentObject{}
		if err := asV3(c, seg); err != nil {
			return receiver.GRPCError(err)
		}
		return s.r.collectSegment(ctx, seg)
	})
	if err != nil {
		return err
	}
	return st.SendAndClose(&swcompat.Commands{})
}

func (s *compatTraceServer) CollectInSync(ctx context.Context, c *swcompat.SegmentCollection) (*swcompat.Commands, error) {
	col := &agentv3.SegmentCollection{}
	if err := asV3(c, col); err != nil {
		return nil, receiver.GRPCError(err)
	}
	if _, err := s.r.collectSegments(ctx, col); err != nil {
		return nil, err
	}
	return &swcompat.Commands{}, nil
}

type compatJVMServer struct {
	swcompat.UnimplementedJVMMetricReportServiceServer
	r *Receiver
}

func (s *compatJVMServer) Collect(context.Context, *swcompat.JVMMetricCollection) (*swcompat.Commands, error) {
	return s.r.compatAck("JVMMetricReportService.collect")
}

type compatProfileServer struct {
	swcompat.UnimplementedProfileTaskServer
	r *Receiver
}

func (s *compatProfileServer) GetProfileTaskCommands(context.Context, *swcompat.ProfileTaskCommandQuery) (*swcompat.Commands, error) {
	return s.r.compatAck("ProfileTask.getProfileTaskCommands")
}

func (s *compatProfileServer) CollectSnapshot(st swcompat.ProfileTask_CollectSnapshotServer) error {
	if err := recvLoop(s.r, st.Context(), "compat.ProfileTask.collectSnapshot", st.Recv, nil); err != nil {
		return err
	}
	return st.SendAndClose(&swcompat.Commands{})
}

func (s *compatProfileServer) ReportTaskFinish(context.Context, *swcompat.ProfileTaskFinishReport) (*swcompat.Commands, error) {
	return s.r.compatAck("ProfileTask.reportTaskFinish")
}

type compatManagementServer struct {
	swcompat.UnimplementedManagementServiceServer
	r *Receiver
}

func (s *compatManagementServer) ReportInstanceProperties(context.Context, *swcompat.InstanceProperties) (*swcompat.Commands, error) {
	return s.r.compatAck("ManagementService.reportInstanceProperties")
}

func (s *compatManagementServer) KeepAlive(context.Context, *swcompat.InstancePingPkg) (*swcompat.Commands, error) {
	return s.r.compatAck("ManagementService.keepAlive")
}
