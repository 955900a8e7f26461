package skywalkingreceiver

import (
	"context"
	"fmt"

	swcompat "github.com/tracekit/tracekit/proto/gen/go/skywalking/compat/v830"
	"google.golang.org/grpc"
	configv3 "skywalking.apache.org/repo/goapi/collect/agent/configuration/v3"
	commonv3 "skywalking.apache.org/repo/goapi/collect/common/v3"
	eventv3 "skywalking.apache.org/repo/goapi/collect/event/v3"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
	profilev3 "skywalking.apache.org/repo/goapi/collect/language/profile/v3"
	loggingv3 "skywalking.apache.org/repo/goapi/collect/logging/v3"
	managementv3 "skywalking.apache.org/repo/goapi/collect/management/v3"
)

// sendAll sends msgs on a client stream and waits for the server's answer.
func sendAll[T, R any](send func(T) error, closeAndRecv func() (R, error), msgs ...T) error {
	for _, m := range msgs {
		if err := send(m); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	_, err := closeAndRecv()
	return err
}

// ackCalls are one call of every acknowledged method, made with the goapi (and compat)
// client stubs the way an agent makes them.
func ackCalls(conn *grpc.ClientConn) map[string]func(ctx context.Context) error {
	mgmt := managementv3.NewManagementServiceClient(conn)
	cds := configv3.NewConfigurationDiscoveryServiceClient(conn)
	jvm := agentv3.NewJVMMetricReportServiceClient(conn)
	clr := agentv3.NewCLRMetricReportServiceClient(conn)
	meter := agentv3.NewMeterReportServiceClient(conn)
	browser := agentv3.NewBrowserPerfServiceClient(conn)
	event := eventv3.NewEventServiceClient(conn)
	logs := loggingv3.NewLogReportServiceClient(conn)
	profile := profilev3.NewProfileTaskClient(conn)
	cMgmt := swcompat.NewManagementServiceClient(conn)
	cJVM := swcompat.NewJVMMetricReportServiceClient(conn)
	cProfile := swcompat.NewProfileTaskClient(conn)
	unary := func(_ *commonv3.Commands, err error) error { return err }
	cUnary := func(_ *swcompat.Commands, err error) error { return err }
	return map[string]func(ctx context.Context) error{
		"ManagementService.reportInstanceProperties": func(ctx context.Context) error {
			return unary(mgmt.ReportInstanceProperties(ctx, &managementv3.InstanceProperties{Service: "s", ServiceInstance: "i",
				Properties: []*commonv3.KeyStringValuePair{{Key: "language", Value: "go"}}}))
		},
		"ManagementService.keepAlive": func(ctx context.Context) error {
			return unary(mgmt.KeepAlive(ctx, &managementv3.InstancePingPkg{Service: "s", ServiceInstance: "i"}))
		},
		"ConfigurationDiscoveryService.fetchConfigurations": func(ctx context.Context) error {
			return unary(cds.FetchConfigurations(ctx, &configv3.ConfigurationSyncRequest{Service: "s", Uuid: "u"}))
		},
		"JVMMetricReportService.collect": func(ctx context.Context) error {
			return unary(jvm.Collect(ctx, &agentv3.JVMMetricCollection{Service: "s", Metrics: []*agentv3.JVMMetric{{Time: 1, Cpu: &commonv3.CPU{UsagePercent: 3}}}}))
		},
		"CLRMetricReportService.collect": func(ctx context.Context) error {
			return unary(clr.Collect(ctx, &agentv3.CLRMetricCollection{Service: "s"}))
		},
		"MeterReportService.collect": func(ctx context.Context) error {
			st, err := meter.Collect(ctx)
			if err != nil {
				return err
			}
			return sendAll(st.Send, st.CloseAndRecv, &agentv3.MeterData{Service: "s"}, &agentv3.MeterData{Timestamp: 2})
		},
		"MeterReportService.collectBatch": func(ctx context.Context) error {
			st, err := meter.CollectBatch(ctx)
			if err != nil {
				return err
			}
			return sendAll(st.Send, st.CloseAndRecv, &agentv3.MeterDataCollection{MeterData: []*agentv3.MeterData{{Service: "s"}}})
		},
		"BrowserPerfService.collectPerfData": func(ctx context.Context) error {
			return unary(browser.CollectPerfData(ctx, &agentv3.BrowserPerfData{Service: "web"}))
		},
		"BrowserPerfService.collectErrorLogs": func(ctx context.Context) error {
			st, err := browser.CollectErrorLogs(ctx)
			if err != nil {
				return err
			}
			return sendAll(st.Send, st.CloseAndRecv, &agentv3.BrowserErrorLog{Service: "web"})
		},
		"EventService.collect": func(ctx context.Context) error {
			st, err := event.Collect(ctx)
			if err != nil {
				return err
			}
			return sendAll(st.Send, st.CloseAndRecv, &eventv3.Event{Uuid: "1", Name: "Start"}, &eventv3.Event{Uuid: "1", Name: "Start", EndTime: 5})
		},
		"LogReportService.collect": func(ctx context.Context) error {
			st, err := logs.Collect(ctx)
			if err != nil {
				return err
			}
			return sendAll(st.Send, st.CloseAndRecv, &loggingv3.LogData{Service: "s", Body: &loggingv3.LogDataBody{}})
		},
		"ProfileTask.getProfileTaskCommands": func(ctx context.Context) error {
			return unary(profile.GetProfileTaskCommands(ctx, &profilev3.ProfileTaskCommandQuery{Service: "s"}))
		},
		"ProfileTask.collectSnapshot": func(ctx context.Context) error {
			st, err := profile.CollectSnapshot(ctx)
			if err != nil {
				return err
			}
			return sendAll(st.Send, st.CloseAndRecv, &profilev3.ThreadSnapshot{TaskId: "t", Stack: &profilev3.ThreadStack{CodeSignatures: []string{"main"}}})
		},
		"ProfileTask.reportTaskFinish": func(ctx context.Context) error {
			return unary(profile.ReportTaskFinish(ctx, &profilev3.ProfileTaskFinishReport{TaskId: "t"}))
		},
		"compat.ManagementService.reportInstanceProperties": func(ctx context.Context) error {
			return cUnary(cMgmt.ReportInstanceProperties(ctx, &swcompat.InstanceProperties{Service: "s"}))
		},
		"compat.ManagementService.keepAlive": func(ctx context.Context) error {
			return cUnary(cMgmt.KeepAlive(ctx, &swcompat.InstancePingPkg{Service: "s"}))
		},
		"compat.JVMMetricReportService.collect": func(ctx context.Context) error {
			return cUnary(cJVM.Collect(ctx, &swcompat.JVMMetricCollection{Service: "s", Metrics: []*swcompat.JVMMetric{{Time: 1}}}))
		},
		"compat.ProfileTask.getProfileTaskCommands": func(ctx context.Context) error {
			return cUnary(cProfile.GetProfileTaskCommands(ctx, &swcompat.ProfileTaskCommandQuery{Service: "s"}))
		},
		"compat.ProfileTask.collectSnapshot": func(ctx context.Context) error {
			st, err := cProfile.CollectSnapshot(ctx)
			if err != nil {
				return err
			}
			return sendAll(st.Send, st.CloseAndRecv, &swcompat.ThreadSnapshot{TaskId: "t"})
		},
		"compat.ProfileTask.reportTaskFinish": func(ctx context.Context) error {
			return cUnary(cProfile.ReportTaskFinish(ctx, &swcompat.ProfileTaskFinishReport{TaskId: "t"}))
		},
	}
}

// compatTraceCalls sends three spans through the 8.3.0 package-less trace service: two by
// the stream, one by collectInSync.
func compatTraceCalls(ctx context.Context, conn *grpc.ClientConn) error {
	client := swcompat.NewTraceSegmentReportServiceClient(conn)
	st, err := client.Collect(ctx)
	if err != nil {
		return err
	}
	err = sendAll(st.Send, st.CloseAndRecv, &swcompat.SegmentObject{TraceId: "T", TraceSegmentId: "C", Service: "old-agent", Spans: []*swcompat.SpanObject{
		{SpanId: 0, ParentSpanId: -1, StartTime: 1, EndTime: 2, OperationName: "GET /", SpanLayer: swcompat.SpanLayer_Http},
		{SpanId: 1, ParentSpanId: 0, StartTime: 1, EndTime: 2, OperationName: "SELECT", SpanType: swcompat.SpanType_Exit, IsError: true,
			Tags: []*swcompat.KeyStringValuePair{{Key: "db.host", Value: "pg"}}},
	}})
	if err != nil {
		return err
	}
	_, err = client.CollectInSync(ctx, &swcompat.SegmentCollection{Segments: []*swcompat.SegmentObject{{
		TraceId: "T", TraceSegmentId: "D", Spans: []*swcompat.SpanObject{{
			ParentSpanId: -1, Refs: []*swcompat.SegmentReference{{RefType: swcompat.RefType_CrossThread, ParentTraceSegmentId: "P", ParentSpanId: 3}},
		}},
	}}})
	return err
}
