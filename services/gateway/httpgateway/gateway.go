// Package httpgateway serves DataKit's write API (POST /v1/write/{category}, GET /v1/ping)
// on the shared HTTP listener: an edge handler (rate limit, body cap, X-DataKit, query
// normalisation) in front of a grpc-gateway ServeMux, which calls the gRPC WriteService
// (services/gateway/internal/writesvc) served in-process over an in-memory connection.
//
// Why a real grpc.Server on bufconn rather than RegisterWriteServiceHandlerServer or a
// loopback TCP port: the HTTP path then has exactly the semantics a gRPC client gets
// (status details, interceptors, message size limits), which RegisterHandlerServer skips,
// and no port is opened, allocated or exposed, which a loopback listener would need. The
// cost is one protobuf copy of the body, small next to decoding it.
package httpgateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/buildinfo"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/libs/telemetry"
	gatewayv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/gateway/v1"
	"github.com/tracekit/tracekit/proto/gen/go/tracekit/gateway/v1/gatewayv1gw"
	"github.com/tracekit/tracekit/services/gateway/internal/apierr"
	"github.com/tracekit/tracekit/services/gateway/internal/points"
	"github.com/tracekit/tracekit/services/gateway/internal/writesvc"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
)

// Routes on the shared listener.
const (
	WritePattern = "POST /v1/write/{category}"
	PingPattern  = "GET /v1/ping"
)

// Options configure the gateway.
type Options struct {
	// MaxBodyBytes caps a request body, as sent and decompressed (413 beyond). Default 32 MiB.
	MaxBodyBytes int64
	// RateLimit is requests per second over all clients (DataKit's request_rate_limit,
	// default 100); negative disables the limiter.
	RateLimit float64
	// RateBurst is the limiter's burst (DataKit's 500).
	RateBurst int
	// GlobalTags are added to every point unless the request says ignore_global_host_tags.
	GlobalTags map[string]string
	// Now is the clock for points without a time (tests pin it).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.RateLimit == 0 {
		o.RateLimit = 100
	}
	if o.RateBurst <= 0 {
		o.RateBurst = 500
	}
}

// Build is the gateway's service.Build: one component publishing on env.Bus.
func Build(_ context.Context, env *service.Env) ([]app.Component, error) {
	api := env.Config.HTTPAPI
	return []app.Component{New(env.Bus, Options{
		GlobalTags:   env.Config.Config.GlobalTags,
		MaxBodyBytes: api.MaxBodyBytes,
		RateLimit:    api.RequestRateLimit,
		RateBurst:    api.RequestRateBurst,
	})}, nil
}

// Gateway is the write API component.
type Gateway struct {
	pub     writesvc.Publisher
	opt     Options
	limiter *rate.Limiter
	log     *slog.Logger

	mu      sync.Mutex
	srv     *grpc.Server
	lis     *bufconn.Listener
	conn    *grpc.ClientConn
	serveWG sync.WaitGroup
}

// New returns a gateway publishing accepted points to pub.
func New(pub writesvc.Publisher, opt Options) *Gateway {
	opt.defaults()
	g := &Gateway{pub: pub, opt: opt, log: slog.New(slog.DiscardHandler)}
	if opt.RateLimit > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(opt.RateLimit), opt.RateBurst)
	}
	return g
}

// Name implements app.Component.
func (g *Gateway) Name() string { return "gateway" }

// Start serves the WriteService in-process and mounts the HTTP routes on host.Mux.
func (g *Gateway) Start(ctx context.Context, host *app.Host) error {
	g.log = host.Logger.With("component", "gateway")
	m := newMetrics(host.Registry)
	svc := writesvc.New(g.pub, writesvc.Options{
		MaxBodyBytes: g.opt.MaxBodyBytes,
		GlobalTags:   g.opt.GlobalTags,
		Now:          g.opt.Now,
		OnWrite:      m.write,
	})
	h, err := g.start(ctx, svc)
	if err != nil {
		return err
	}
	host.Mux.Handle(WritePattern, h)
	if _, pattern := host.Mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/v1/ping"}}); pattern == "" {
		host.Mux.Handle(PingPattern, h)
	} else {
		// libs/app serves its own DataKit-shaped ping on this mux; both answer alike.
		g.log.Debug("GET /v1/ping already served by the host", "pattern", pattern)
	}
	return nil
}

func (g *Gateway) start(ctx context.Context, svc gatewayv1.WriteServiceServer) (http.Handler, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	maxMsg := int(g.opt.MaxBodyBytes) + 1<<20
	g.lis = bufconn.Listen(1 << 20)
	g.srv = grpc.NewServer(grpc.MaxRecvMsgSize(maxMsg), grpc.MaxSendMsgSize(4*maxMsg), grpc.UnaryInterceptor(recoverUnary(g.log)))
	gatewayv1.RegisterWriteServiceServer(g.srv, svc)
	g.serveWG.Add(1)
	go func() {
		defer g.serveWG.Done()
		if err := g.srv.Serve(g.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			g.log.Error("in-process grpc server stopped", "err", err)
		}
	}()
	lis := g.lis
	conn, err := grpc.NewClient("passthrough:///gateway.inprocess",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxMsg), grpc.MaxCallRecvMsgSize(4*maxMsg)),
	)
	if err != nil {
		return nil, fmt.Errorf("dial in-process write service: %w", err)
	}
	g.conn = conn
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newMarshaler()),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithForwardResponseOption(dropEmptyContentType),
		// Both would parse a form body before we read it (curl -d sends form-urlencoded).
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
		runtime.WithWriteContentLength(),
	)
	if err := gatewayv1gw.RegisterWriteServiceHandlerClient(ctx, mux, gatewayv1.NewWriteServiceClient(conn)); err != nil {
		return nil, fmt.Errorf("register write service routes: %w", err)
	}
	return g.edge(mux), nil
}

// Shutdown implements app.Component: in-flight calls finish (the HTTP server drained
// first), then the in-process server stops.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	if g.srv != nil {
		done := make(chan struct{})
		go func() { g.srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			g.srv.Stop()
			<-done
		}
	}
	if g.conn != nil {
		if err := g.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close in-process connection: %w", err))
		}
	}
	g.serveWG.Wait()
	g.srv, g.conn = nil, nil
	return errors.Join(errs...)
}

// edge runs before grpc-gateway: everything DataKit does on the HTTP request itself.
func (g *Gateway) edge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-DataKit", buildinfo.Version)
		if g.limiter != nil && !g.limiter.Allow() {
			writeError(w, apierr.ReachMaxAPILimit, http.StatusTooManyRequests, "")
			return
		}
		if r.Method == http.MethodPost {
			if r.ContentLength > g.opt.MaxBodyBytes {
				writeError(w, apierr.PayloadTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes exceeds %d bytes", r.ContentLength, g.opt.MaxBodyBytes))
				return
			}
			data, err := readCapped(r, g.opt.MaxBodyBytes)
			if err != nil {
				code := apierr.DecodeBodyFailed
				if errors.Is(err, errTooLarge) {
					code = apierr.PayloadTooLarge
				}
				writeError(w, code, code.HTTPStatus(), err.Error())
				return
			}
			r2 := r.Clone(r.Context())
			q := normalizeQuery(r.URL.Query(), r.Header.Get("Content-Encoding"))
			r2.URL.RawQuery = q.Encode()
			r2.Body = &rawBody{Reader: bytesReader(data), data: data, contentType: r.Header.Get("Content-Type")}
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

var errTooLarge = errors.New("payload too large")

func readCapped(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := readAllLimit(r.Body, max+1)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("body exceeds %d bytes: %w", max, errTooLarge)
	}
	return b, nil
}

// errorHandler renders every failure as DataKit's error JSON.
func errorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, err error) {
	code, httpStatus, msg := apierr.FromError(err)
	writeError(w, code, httpStatus, msg)
}

// writeError is GuanceCloud/cliutils network/http err.go's shape.
func writeError(w http.ResponseWriter, code apierr.Code, httpStatus int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	if httpStatus == http.StatusTooManyRequests || httpStatus == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	b, _ := json.Marshal(struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}{string(code), msg})
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(httpStatus)
	_, _ = w.Write(b)
}

// dropEmptyContentType leaves a write without echo with no Content-Type, as DataKit's 200.
func dropEmptyContentType(_ context.Context, w http.ResponseWriter, _ proto.Message) error {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Del("Content-Type")
	}
	return nil
}

// recoverUnary turns a panic in the service into an internal error instead of a crash.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("write service panic", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
				err = apierr.New(apierr.InvalidAPIHandler, "internal error").GRPCStatus().Err()
			}
		}()
		return h(ctx, req)
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	points   *prometheus.CounterVec
	warnings *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_gateway_requests_total", Help: "Write API requests by category and DataKit error code (ok when accepted).",
		}, []string{"category", "code"}),
		points: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_gateway_points_total", Help: "Points decoded by the write API, by category and result.",
		}, []string{"category", "result"}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_gateway_point_warnings_total", Help: "Point check corrections (datakit-spec 3.4), by category.",
		}, []string{"category"}),
	}
	if reg != nil {
		m.requests = telemetry.Register(reg, m.requests)
		m.points = telemetry.Register(reg, m.points)
		m.warnings = telemetry.Register(reg, m.warnings)
	}
	return m
}

func (m *metrics) write(category string, pts, warnings int, err error) {
	if _, ok := points.RulesFor(category); !ok {
		category = "invalid" // bounded label values whatever clients send
	}
	code, result := "ok", "accepted"
	if err != nil {
		c, _, _ := apierr.FromError(err)
		code, result = string(c), "refused"
	}
	m.requests.WithLabelValues(category, code).Inc()
	m.points.WithLabelValues(category, result).Add(float64(pts))
	m.warnings.WithLabelValues(category).Add(float64(warnings))
}
