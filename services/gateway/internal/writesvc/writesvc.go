// Package writesvc implements the gRPC WriteService: DataKit's /v1/write semantics (decode,
// precision, per-category checks, strict, dry, echo) in front of the bus. The HTTP side is
// only grpc-gateway; every decision is made here, so gRPC and HTTP clients get the same
// answers.
package writesvc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tracekit/tracekit/libs/buildinfo"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	gatewayv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/gateway/v1"
	"github.com/tracekit/tracekit/services/gateway/internal/apierr"
	"github.com/tracekit/tracekit/services/gateway/internal/points"
	"google.golang.org/genproto/googleapis/api/httpbody"
)

// Publisher stores the accepted points of one category; it returns once they are durable.
// *bus.Bus implements it.
type Publisher interface {
	PublishPoints(ctx context.Context, category, input string, pts *pointpb.PBPoints) error
}

// Options configure the service.
type Options struct {
	// MaxBodyBytes caps the body, compressed and decompressed (413 beyond).
	MaxBodyBytes int64
	// GlobalTags are [global_tags], added to points unless ignore_global_host_tags.
	GlobalTags map[string]string
	// Now is the clock for points without a time (time.Now when nil).
	Now func() time.Time
	// OnWrite, when set, is told about every write (for metrics).
	OnWrite func(category string, points, warnings int, err error)
}

// Service is the WriteService server.
type Service struct {
	gatewayv1.UnimplementedWriteServiceServer
	pub        Publisher
	opt        Options
	start      time.Time
	globalTags [][2]string
}

// New returns a service publishing to pub.
func New(pub Publisher, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Service{pub: pub, opt: opt, start: opt.Now()}
	for _, k := range sortedKeys(opt.GlobalTags) {
		s.globalTags = append(s.globalTags, [2]string{k, opt.GlobalTags[k]})
	}
	return s
}

// Write implements DataKit's POST /v1/write/:category.
func (s *Service) Write(ctx context.Context, req *gatewayv1.WriteRequest) (*gatewayv1.WriteResponse, error) {
	resp, n, warns, err := s.write(ctx, req)
	if s.opt.OnWrite != nil {
		s.opt.OnWrite(req.GetCategory(), n, warns, err)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Service) write(ctx context.Context, req *gatewayv1.WriteRequest) (*gatewayv1.WriteResponse, int, int, error) {
	category := req.GetCategory()
	rules, ok := points.RulesFor(category)
	if !ok {
		return nil, 0, 0, apierr.New(apierr.InvalidCategory, "category %q is not one of %s", category, strings.Join(points.Categories, ", "))
	}
	echo, err := points.EchoForm(req.GetEcho())
	if err != nil {
		return nil, 0, 0, err
	}
	raw := req.GetBody().GetData()
	if len(raw) == 0 {
		return nil, 0, 0, apierr.New(apierr.EmptyBody, "the request body is empty")
	}
	body, err := receiver.Decode(bytesReader(raw), req.GetEncoding(), s.opt.MaxBodyBytes)
	if err != nil {
		if errors.Is(err, receiver.ErrTooLarge) {
			return nil, 0, 0, apierr.Wrap(apierr.PayloadTooLarge, err, "")
		}
		return nil, 0, 0, apierr.Wrap(apierr.DecodeBodyFailed, err, "")
	}
	if len(body) == 0 {
		return nil, 0, 0, apierr.New(apierr.EmptyBody, "the request body is empty after %s decoding", req.GetEncoding())
	}
	pts, err := points.Decode(body, points.EncodingOf(req.GetBody().GetContentType()), points.Options{
		Precision:   req.GetPrecision(),
		NowUnixNano: s.opt.Now().UnixNano(),
	})
	if err != nil {
		return nil, 0, 0, err
	}
	var extra [][2]string
	if !req.GetIgnoreGlobalHostTags() {
		extra = s.globalTags
	}
	for _, p := range pts {
		points.Check(p, rules, extra)
	}
	nw := points.Warnings(pts)
	if req.GetStrict() && nw > 0 {
		return nil, len(pts), nw, apierr.New(apierr.PointGotWarning, "%d point warnings in strict mode: %s", nw, firstWarnings(pts, 5))
	}
	resp := &gatewayv1.WriteResponse{Points: int64(len(pts))}
	for _, p := range pts {
		resp.Warnings = append(resp.Warnings, p.GetWarns()...)
	}
	if echo != "" {
		ct, b, err := points.Echo(pts, echo)
		if err != nil {
			return nil, len(pts), nw, err
		}
		resp.Echo = &httpbody.HttpBody{ContentType: ct, Data: b}
	}
	if req.GetDry() {
		return resp, len(pts), nw, nil
	}
	// Warnings answer the client; they are auxiliary and never stored (datakit-spec §3.1).
	for _, p := range pts {
		p.Warns, p.Debugs = nil, nil
	}
	input := req.GetInput()
	if input == "" {
		input = category
	}
	if err := s.pub.PublishPoints(ctx, category, input, &pointpb.PBPoints{Arr: pts}); err != nil {
		switch {
		case pipeline.IsExhausted(err):
			return nil, len(pts), nw, apierr.Wrap(apierr.FeedBusy, err, "the bus is full, retry later")
		case pipeline.IsPermanent(err):
			return nil, len(pts), nw, apierr.Wrap(apierr.InvalidAPIHandler, err, "publish points")
		default:
			return nil, len(pts), nw, apierr.Wrap(apierr.FeedFailed, err, "publish points")
		}
	}
	return resp, len(pts), nw, nil
}

// Ping implements GET /v1/ping.
func (s *Service) Ping(context.Context, *gatewayv1.PingRequest) (*gatewayv1.PingResponse, error) {
	return &gatewayv1.PingResponse{Content: &gatewayv1.PingContent{
		Version: buildinfo.Version,
		Uptime:  s.opt.Now().Sub(s.start).Round(time.Second).String(),
		Host:    buildinfo.Hostname(),
		Commit:  buildinfo.Commit,
	}}, nil
}

func firstWarnings(pts []*pointpb.PBPoint, n int) string {
	var parts []string
	for i, p := range pts {
		for _, w := range p.GetWarns() {
			if len(parts) == n {
				return strings.Join(parts, "; ") + "; ..."
			}
			parts = append(parts, fmt.Sprintf("point %d: %s: %s", i, w.GetType(), w.GetMsg()))
		}
	}
	return strings.Join(parts, "; ")
}
