package pinpointreceiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	v1 "github.com/pinpoint-apm/pinpoint-go-agent/protobuf"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-pinpoint/pinpointreceiver/internal/translator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/emptypb"
)

// identity is the reporting agent as its gRPC metadata names it.
type identity struct {
	agentID, app, startTime string
}

func identityOf(ctx context.Context) identity {
	md, _ := metadata.FromIncomingContext(ctx)
	get := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return identity{agentID: get("agentid"), app: get("applicationname"), startTime: get("starttime")}
}

// key scopes metadata to one run of one agent.
func (id identity) key() string {
	a := id.agentID
	if a == "" {
		a = id.app
	}
	return a + "^" + id.startTime
}

var errShuttingDown = status.Error(codes.Unavailable, "pinpoint collector shutting down")

// recvLoop hands each received message to handle until the client ends the stream (io.EOF
// is returned), the stream fails, or the receiver shuts down. Receiving runs on its own
// goroutine so a shutdown does not wait for agents that keep streams open forever.
func recvLoop[T any](r *Receiver, ctx context.Context, recv func() (T, error), handle func(T) error) error {
	type item struct {
		v   T
		err error
	}
	ch := make(chan item)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			v, err := recv()
			select {
			case ch <- item{v, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-r.quit:
			return errShuttingDown
		case <-ctx.Done():
			return ctx.Err()
		case it := <-ch:
			if it.err != nil {
				return it.err
			}
			if err := handle(it.v); err != nil {
				return err
			}
		}
	}
}

type spanService struct {
	v1.UnimplementedSpanServer
	r *Receiver
}

func (s *spanService) SendSpan(stream v1.Span_SendSpanServer) error {
	id := identityOf(stream.Context())
	err := recvLoop(s.r, stream.Context(), stream.Recv, func(msg *v1.PSpanMessage) error {
		return s.r.handleSpan(stream.Context(), id, msg)
	})
	if errors.Is(err, io.EOF) {
		return stream.SendAndClose(&emptypb.Empty{})
	}
	return err
}

// handleSpan converts one span message and returns once the bus stored it. A bad message
// ends the stream with INVALID_ARGUMENT (the agent reconnects); overload with
// RESOURCE_EXHAUSTED.
func (r *Receiver) handleSpan(ctx context.Context, id identity, msg *v1.PSpanMessage) error {
	kind := "span"
	if msg.GetSpanChunk() != nil {
		kind = "span_chunk"
	}
	r.metrics.messages.WithLabelValues("span", kind).Inc()
	received := time.Now().UnixNano()
	key := id.key()
	r.meta.wait(ctx, key, translator.Refs(msg), r.wait)
	spans := 0
	err := r.pool.Do(ctx, func(ctx context.Context) error {
		res, err := translator.Convert(msg, translator.Agent{AgentID: id.agentID, ApplicationName: id.app, Info: r.agentInfo(id.agentID)},
			resolver{c: r.meta, agent: key}, translator.Options{Tags: r.cfg.Tags, DelMessage: r.cfg.DelMessage})
		if err != nil {
			return pipeline.Permanent(fmt.Errorf("pinpoint %s from agent %q: %w", kind, id.agentID, err))
		}
		for k, n := range res.Unresolved {
			r.meta.metrics.misses.WithLabelValues(k.String()).Add(float64(n))
		}
		spans = len(res.Spans)
		if spans == 0 {
			return nil
		}
		return r.next.ConsumeTraces(ctx, &spanv1.TraceBatch{
			Source:           config.SourcePinpoint,
			Input:            r.name,
			ReceivedUnixNano: received,
			Traces:           spanmodel.GroupByTrace(res.Spans),
		})
	})
	r.obs.Record(config.SourcePinpoint, "grpc", proto.Size(protoadapt.MessageV2Of(msg)), spans, err)
	if err != nil {
		r.log.Warn("pinpoint span refused", "agent", id.agentID, "err", err)
		return receiver.GRPCError(err)
	}
	return nil
}

type agentService struct {
	v1.UnimplementedAgentServer
	r *Receiver
}

func (a *agentService) RequestAgentInfo(ctx context.Context, info *v1.PAgentInfo) (*v1.PResult, error) {
	a.r.metrics.messages.WithLabelValues("agent", "agent_info").Inc()
	id := identityOf(ctx)
	if id.agentID != "" {
		a.r.setAgentInfo(id.agentID, translator.AgentInfoTags(info))
	}
	return okResult(), nil
}

// PingSession echoes every ping: agents take the answer as proof the collector is alive.
func (a *agentService) PingSession(stream v1.Agent_PingSessionServer) error {
	err := recvLoop(a.r, stream.Context(), stream.Recv, func(p *v1.PPing) error {
		a.r.metrics.messages.WithLabelValues("agent", "ping").Inc()
		return stream.Send(p)
	})
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

type metadataService struct {
	v1.UnimplementedMetadataServer
	r *Receiver
}

func okResult() *v1.PResult { return &v1.PResult{Success: true, Message: "ok"} }

func (m *metadataService) store(ctx context.Context, kind string, ref translator.Ref, val string) (*v1.PResult, error) {
	m.r.metrics.messages.WithLabelValues("metadata", kind).Inc()
	m.r.meta.store(identityOf(ctx).key(), ref, val)
	return okResult(), nil
}

func (m *metadataService) RequestApiMetaData(ctx context.Context, in *v1.PApiMetaData) (*v1.PResult, error) { //nolint:revive // generated name
	return m.store(ctx, "api", translator.Ref{Kind: translator.KindAPI, ID: in.GetApiId()}, in.GetApiInfo())
}

func (m *metadataService) RequestSqlMetaData(ctx context.Context, in *v1.PSqlMetaData) (*v1.PResult, error) { //nolint:revive // generated name
	return m.store(ctx, "sql", translator.Ref{Kind: translator.KindSQL, ID: in.GetSqlId()}, in.GetSql())
}

func (m *metadataService) RequestSqlUidMetaData(ctx context.Context, in *v1.PSqlUidMetaData) (*v1.PResult, error) { //nolint:revive // generated name
	return m.store(ctx, "sql_uid", translator.Ref{Kind: translator.KindSQLUID, UID: string(in.GetSqlUid())}, in.GetSql())
}

func (m *metadataService) RequestStringMetaData(ctx context.Context, in *v1.PStringMetaData) (*v1.PResult, error) {
	return m.store(ctx, "string", translator.Ref{Kind: translator.KindString, ID: in.GetStringId()}, in.GetStringValue())
}

// RequestExceptionMetaData is accepted and counted: the exception chain arrives after its
// span was converted, so it cannot enrich it.
func (m *metadataService) RequestExceptionMetaData(_ context.Context, _ *v1.PExceptionMetaData) (*v1.PResult, error) {
	m.r.metrics.messages.WithLabelValues("metadata", "exception").Inc()
	return okResult(), nil
}

type statService struct {
	v1.UnimplementedStatServer
	r *Receiver
}

// SendAgentStat drains agent statistics (JVM/Go runtime stats are not traces); they are
// counted so an operator can see the agent is healthy.
func (s *statService) SendAgentStat(stream v1.Stat_SendAgentStatServer) error {
	err := recvLoop(s.r, stream.Context(), stream.Recv, func(m *v1.PStatMessage) error {
		kind := "agent_stat"
		switch {
		case m.GetAgentStatBatch() != nil:
			kind = "agent_stat_batch"
		case m.GetAgentUriStat() != nil:
			kind = "agent_uri_stat"
		}
		s.r.metrics.messages.WithLabelValues("stat", kind).Inc()
		return nil
	})
	if errors.Is(err, io.EOF) {
		return stream.SendAndClose(&emptypb.Empty{})
	}
	return err
}

type commandService struct {
	v1.UnimplementedProfilerCommandServiceServer
	r *Receiver
}

// HandleCommand keeps the command stream open and never sends a command: tracekit does not
// drive agents, and closing the stream would make them reconnect in a loop.
func (c *commandService) HandleCommand(stream v1.ProfilerCommandService_HandleCommandServer) error {
	return c.hold(stream.Context(), stream.Recv)
}

// HandleCommandV2 is HandleCommand for newer agents.
func (c *commandService) HandleCommandV2(stream v1.ProfilerCommandService_HandleCommandV2Server) error {
	return c.hold(stream.Context(), stream.Recv)
}

func (c *commandService) hold(ctx context.Context, recv func() (*v1.PCmdMessage, error)) error {
	err := recvLoop(c.r, ctx, recv, func(*v1.PCmdMessage) error {
		c.r.metrics.messages.WithLabelValues("command", "message").Inc()
		return nil
	})
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (c *commandService) CommandEcho(context.Context, *v1.PCmdEchoResponse) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (c *commandService) CommandStreamActiveThreadCount(stream v1.ProfilerCommandService_CommandStreamActiveThreadCountServer) error {
	err := recvLoop(c.r, stream.Context(), stream.Recv, func(*v1.PCmdActiveThreadCountRes) error { return nil })
	if errors.Is(err, io.EOF) {
		return stream.SendAndClose(&emptypb.Empty{})
	}
	return err
}

func (c *commandService) CommandActiveThreadDump(context.Context, *v1.PCmdActiveThreadDumpRes) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (c *commandService) CommandActiveThreadLightDump(context.Context, *v1.PCmdActiveThreadLightDumpRes) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
