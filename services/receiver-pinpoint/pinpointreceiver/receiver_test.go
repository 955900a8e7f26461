package pinpointreceiver

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	v1 "github.com/pinpoint-apm/pinpoint-go-agent/protobuf"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/pipeline/pipelinetest"
	"github.com/tracekit/tracekit/services/receiver-pinpoint/pinpointreceiver/internal/translator"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	waitFor   = 5 * time.Second
	pollEvery = 5 * time.Millisecond
)

type fixture struct {
	r    *Receiver
	reg  *prometheus.Registry
	conn *grpc.ClientConn
	ctx  context.Context
}

func start(t *testing.T, next pipeline.Consumer, mutate func(*config.Pinpoint)) *fixture {
	t.Helper()
	in := config.Pinpoint{Address: "127.0.0.1:0", Tracing: config.Tracing{Tags: map[string]string{"env": "test"}}}
	if mutate != nil {
		mutate(&in)
	}
	cfg := &config.Config{Inputs: config.Inputs{Pinpoint: []config.Pinpoint{in}}}
	comps, err := Components(cfg, next)
	require.NoError(t, err)
	require.Len(t, comps, 1)
	r := comps[0].(*Receiver)
	r.wait = 2 * time.Second
	_, host := apptest.StartComponents(t, r)
	conn, err := grpc.NewClient(r.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx := metadata.AppendToOutgoingContext(context.Background(), "agentid", "agent-1", "applicationname", "shop", "starttime", "1700000000000")
	return &fixture{r: r, reg: host.Registry, conn: conn, ctx: ctx}
}

func testSpan() *v1.PSpanMessage {
	return &v1.PSpanMessage{Field: &v1.PSpanMessage_Span{Span: &v1.PSpan{
		Version:       1,
		TransactionId: &v1.PTransactionId{AgentId: "agent-1", AgentStartTime: 1700000000000, Sequence: 1},
		SpanId:        77, ParentSpanId: -1, StartTime: 1700000001000, Elapsed: 20, ApiId: 1, ServiceType: 1800,
		AcceptEvent: &v1.PAcceptEvent{Rpc: "/hello", EndPoint: "localhost:8080"},
		SpanEvent: []*v1.PSpanEvent{
			{Sequence: 0, Depth: 1, EndElapsed: 10, ApiId: 2, ServiceType: 1801},
			{Sequence: 1, Depth: 2, StartElapsed: 1, EndElapsed: 5, ApiId: 3, ServiceType: 2101,
				Annotation: []*v1.PAnnotation{{Key: 20, Value: &v1.PAnnotationValue{Field: &v1.PAnnotationValue_IntStringStringValue{
					IntStringStringValue: &v1.PIntStringStringValue{IntValue: 1}}}}},
				ExceptionInfo: &v1.PIntStringValue{IntValue: 1, StringValue: wrapperspb.String("boom")}},
		},
	}}}
}

func (f *fixture) sendMetadata(t *testing.T) {
	t.Helper()
	md := v1.NewMetadataClient(f.conn)
	for id, api := range map[int32]string{1: "/hello", 2: "main.work", 3: "database/sql.(*DB).Query"} {
		res, err := md.RequestApiMetaData(f.ctx, &v1.PApiMetaData{ApiId: id, ApiInfo: api})
		require.NoError(t, err)
		require.True(t, res.GetSuccess())
	}
	_, err := md.RequestSqlMetaData(f.ctx, &v1.PSqlMetaData{SqlId: 1, Sql: "SELECT 1"})
	require.NoError(t, err)
	_, err = md.RequestStringMetaData(f.ctx, &v1.PStringMetaData{StringId: 1, StringValue: "sql.ErrNoRows"})
	require.NoError(t, err)
	_, err = md.RequestSqlUidMetaData(f.ctx, &v1.PSqlUidMetaData{SqlUid: []byte{1, 2}, Sql: "SELECT 2"})
	require.NoError(t, err)
	_, err = md.RequestExceptionMetaData(f.ctx, &v1.PExceptionMetaData{})
	require.NoError(t, err)
}

func sendSpans(t *testing.T, ctx context.Context, conn *grpc.ClientConn, msgs ...*v1.PSpanMessage) error {
	t.Helper()
	stream, err := v1.NewSpanClient(conn).SendSpan(ctx)
	require.NoError(t, err)
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the server ended the stream: CloseAndRecv says why
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

func TestSpanWithMetadata(t *testing.T) {
	s := &pipelinetest.Sink{}
	f := start(t, s, nil)
	_, err := v1.NewAgentClient(f.conn).RequestAgentInfo(f.ctx, &v1.PAgentInfo{Hostname: "host-1", Ip: "10.1.1.1", Pid: 9, AgentVersion: "1.4.7"})
	require.NoError(t, err)
	f.sendMetadata(t)
	require.NoError(t, sendSpans(t, f.ctx, f.conn, testSpan()))

	spans := s.Spans()
	require.Len(t, spans, 3)
	root, work, query := spans[0], spans[1], spans[2]
	assert.Equal(t, "agent-1^1700000000000^1", root.TraceId)
	assert.Equal(t, "shop", root.Service)
	assert.Equal(t, "/hello", root.Resource)
	assert.Equal(t, "/hello", root.Tags["api"])
	assert.Equal(t, "host-1", root.Tags["hostname"], "agent info tags")
	assert.Equal(t, "test", root.Tags["env"], "input tags")
	assert.Equal(t, "main.work", work.Operation)
	assert.Equal(t, root.SpanId, work.ParentId)
	assert.Equal(t, work.SpanId, query.ParentId)
	assert.Equal(t, "SELECT 1", query.Resource)
	assert.Equal(t, "error", query.Status)
	assert.Equal(t, "sql.ErrNoRows", query.Fields["error_type"].GetS())

	b := s.Batches()[0]
	assert.Equal(t, config.SourcePinpoint, b.Source)
	assert.Equal(t, "pinpoint", b.Input)
	assert.Positive(t, b.ReceivedUnixNano)
	assert.Zero(t, testutil.CollectAndCount(f.r.meta.metrics.misses), "every reference resolved")
}

// TestSpanBeforeMetadata: the span overtakes its ApiMetaData (another connection); the
// receiver holds it until the metadata arrives instead of writing placeholders.
func TestSpanBeforeMetadata(t *testing.T) {
	s := &pipelinetest.Sink{}
	f := start(t, s, nil)
	done := make(chan error, 1)
	go func() { done <- sendSpans(t, f.ctx, f.conn, testSpan()) }()
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(f.r.metrics.messages.WithLabelValues("span", "span")) == 1
	}, waitFor, pollEvery)
	f.sendMetadata(t)
	require.NoError(t, <-done)
	spans := s.Spans()
	require.Len(t, spans, 3)
	assert.Equal(t, "main.work", spans[1].Operation)
	assert.Equal(t, "SELECT 1", spans[2].Resource)
	assert.InDelta(t, 1, testutil.ToFloat64(f.r.meta.metrics.waits.WithLabelValues("resolved")), 0)
}

// TestMetadataNeverArrives: after the wait the span goes out with the ids as placeholders,
// counted as misses; the next span with the same ids does not wait again.
func TestMetadataNeverArrives(t *testing.T) {
	s := &pipelinetest.Sink{}
	f := start(t, s, nil)
	f.r.wait = 50 * time.Millisecond
	require.NoError(t, sendSpans(t, f.ctx, f.conn, testSpan(), testSpan()))
	spans := s.Spans()
	require.Len(t, spans, 6)
	assert.Equal(t, "2", spans[1].Operation, "placeholder is the api id")
	assert.Equal(t, "1", spans[2].Resource, "placeholder is the sql id")
	assert.InDelta(t, 1, testutil.ToFloat64(f.r.meta.metrics.waits.WithLabelValues("timeout")), 0, "waited once")
	// 3 api ids, 1 sql id and 1 string id per span, twice.
	assert.InDelta(t, 10, testutil.ToFloat64(f.r.meta.metrics.misses.WithLabelValues("api"))+
		testutil.ToFloat64(f.r.meta.metrics.misses.WithLabelValues("sql"))+testutil.ToFloat64(f.r.meta.metrics.misses.WithLabelValues("string")), 0)
}

func TestBadSpanIsInvalidArgument(t *testing.T) {
	s := &pipelinetest.Sink{}
	f := start(t, s, nil)
	err := sendSpans(t, f.ctx, f.conn, &v1.PSpanMessage{})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	assert.Contains(t, err.Error(), "neither span nor spanChunk")
	assert.Empty(t, s.Spans())
}

func TestBusErrorsMapToCodes(t *testing.T) {
	s := &pipelinetest.Sink{}
	s.SetErr(pipeline.Exhausted(errors.New("stream full")))
	f := start(t, s, func(p *config.Pinpoint) { p.DelMessage = true })
	f.r.wait = 0
	err := sendSpans(t, f.ctx, f.conn, testSpan())
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
}

func TestChunkAndOtherServices(t *testing.T) {
	s := &pipelinetest.Sink{}
	f := start(t, s, nil)
	f.r.wait = 0
	chunk := &v1.PSpanMessage{Field: &v1.PSpanMessage_SpanChunk{SpanChunk: &v1.PSpanChunk{
		TransactionId: &v1.PTransactionId{AgentId: "agent-1", AgentStartTime: 1, Sequence: 2}, SpanId: 5, KeyTime: 1700000000000,
		SpanEvent: []*v1.PSpanEvent{{Sequence: 4, Depth: 1, EndElapsed: 1}}}}}
	require.NoError(t, sendSpans(t, f.ctx, f.conn, chunk))
	require.Len(t, s.Spans(), 1)
	assert.Equal(t, "5", s.Spans()[0].ParentId)

	// Ping echoes.
	ping, err := v1.NewAgentClient(f.conn).PingSession(f.ctx)
	require.NoError(t, err)
	require.NoError(t, ping.Send(&v1.PPing{}))
	_, err = ping.Recv()
	require.NoError(t, err)
	require.NoError(t, ping.CloseSend())
	_, err = ping.Recv()
	require.ErrorIs(t, err, io.EOF)

	// Stats are drained.
	stat, err := v1.NewStatClient(f.conn).SendAgentStat(f.ctx)
	require.NoError(t, err)
	require.NoError(t, stat.Send(&v1.PStatMessage{Field: &v1.PStatMessage_AgentStat{AgentStat: &v1.PAgentStat{}}}))
	_, err = stat.CloseAndRecv()
	require.NoError(t, err)

	cmd := v1.NewProfilerCommandServiceClient(f.conn)
	_, err = cmd.CommandEcho(f.ctx, &v1.PCmdEchoResponse{})
	require.NoError(t, err)
	_, err = cmd.CommandActiveThreadDump(f.ctx, &v1.PCmdActiveThreadDumpRes{})
	require.NoError(t, err)
	_, err = cmd.CommandActiveThreadLightDump(f.ctx, &v1.PCmdActiveThreadLightDumpRes{})
	require.NoError(t, err)
	atc, err := cmd.CommandStreamActiveThreadCount(f.ctx)
	require.NoError(t, err)
	_, err = atc.CloseAndRecv()
	require.NoError(t, err)
	assert.InDelta(t, 1, testutil.ToFloat64(f.r.metrics.messages.WithLabelValues("stat", "agent_stat")), 0)
}

// TestShutdownEndsOpenStreams: agents keep ping and command streams open forever; Shutdown
// must not wait for them.
func TestShutdownEndsOpenStreams(t *testing.T) {
	f := start(t, &pipelinetest.Sink{}, nil)
	ping, err := v1.NewAgentClient(f.conn).PingSession(f.ctx)
	require.NoError(t, err)
	require.NoError(t, ping.Send(&v1.PPing{}))
	_, err = ping.Recv()
	require.NoError(t, err)
	cmd, err := v1.NewProfilerCommandServiceClient(f.conn).HandleCommandV2(f.ctx)
	require.NoError(t, err)
	require.NoError(t, cmd.Send(&v1.PCmdMessage{}))
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(f.r.metrics.messages.WithLabelValues("command", "message")) == 1
	}, waitFor, pollEvery)

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	began := time.Now()
	require.NoError(t, f.r.Shutdown(ctx))
	assert.Less(t, time.Since(began), waitFor/2, "graceful stop did not wait for the open streams")
	_, err = ping.Recv()
	assert.Equal(t, codes.Unavailable, status.Code(err))
}

func TestMetaCacheIsBounded(t *testing.T) {
	c := newMetaCache(2, newMetaMetrics(nil))
	for i := int32(1); i <= 3; i++ {
		c.store("a", refAPI(i), "v")
	}
	_, ok := c.lookup("a", refAPI(1))
	assert.False(t, ok, "oldest evicted")
	_, ok = c.lookup("a", refAPI(3))
	assert.True(t, ok)
	_, ok = c.lookup("b", refAPI(3))
	assert.False(t, ok, "keyed per agent")
	assert.InDelta(t, 1, testutil.ToFloat64(c.metrics.evictions), 0)
	assert.InDelta(t, 2, testutil.ToFloat64(c.metrics.entries), 0)
}

func TestComponentsRejectsBadAddress(t *testing.T) {
	_, err := Components(&config.Config{Inputs: config.Inputs{Pinpoint: []config.Pinpoint{{Address: "nope"}}}}, &pipelinetest.Sink{})
	require.ErrorContains(t, err, "inputs.pinpoint[0].address")
	comps, err := Components(&config.Config{}, &pipelinetest.Sink{})
	require.NoError(t, err)
	assert.Empty(t, comps)
}

func refAPI(id int32) translator.Ref { return translator.Ref{Kind: translator.KindAPI, ID: id} }
