// Package otlpreceiver serves OTLP traces: the gRPC TraceService on its own listener and
// POST <trace_api> on the shared HTTP listener, each only when its [inputs.opentelemetry]
// subsection exists (as DataKit does).
package otlpreceiver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/services/receiver-otlp/otlpreceiver/internal/translator"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// Media types of OTLP/HTTP.
const (
	ContentTypeProtobuf = "application/x-protobuf"
	ContentTypeJSON     = "application/json"
)

// defaultMaxPayload caps a request when the config has no [inputs.opentelemetry.grpc].
const defaultMaxPayload = 16 << 20

// Components returns one receiver per [[inputs.opentelemetry]] section.
func Components(cfg *config.Config, next pipeline.Consumer) ([]app.Component, error) {
	var out []app.Component
	paths := map[string]int{}
	addrs := map[string]int{}
	for i := range cfg.Inputs.OpenTelemetry {
		in := &cfg.Inputs.OpenTelemetry[i]
		if in.HTTP != nil {
			if j, ok := paths[in.HTTP.TraceAPI]; ok {
				return nil, fmt.Errorf("inputs.opentelemetry[%d].http.trace_api: %s is already served by inputs.opentelemetry[%d]", i, in.HTTP.TraceAPI, j)
			}
			paths[in.HTTP.TraceAPI] = i
		}
		if in.GRPC != nil {
			if j, ok := addrs[in.GRPC.Addr]; ok {
				return nil, fmt.Errorf("inputs.opentelemetry[%d].grpc.addr: %s is already used by inputs.opentelemetry[%d]", i, in.GRPC.Addr, j)
			}
			addrs[in.GRPC.Addr] = i
		}
		r, err := New(config.InputName(config.SourceOpenTelemetry, i), in, next)
		if err != nil {
			return nil, fmt.Errorf("inputs.opentelemetry[%d].%w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Receiver is one [[inputs.opentelemetry]] section.
type Receiver struct {
	input      string
	cfg        *config.OpenTelemetry
	next       pipeline.Consumer
	tr         *translator.Translator
	pool       *receiver.Pool
	maxPayload int
	// Now stamps ReceivedUnixNano; tests replace it.
	Now func() time.Time

	log  *slog.Logger
	obs  *receiver.Obs
	mu   sync.Mutex
	srv  *grpc.Server
	addr net.Addr
	done chan struct{}
}

// New builds the receiver of one section; input is its config.InputName.
func New(input string, cfg *config.OpenTelemetry, next pipeline.Consumer) (*Receiver, error) {
	tr, err := translator.New(TranslatorOptions(cfg))
	if err != nil {
		return nil, err
	}
	maxPayload := defaultMaxPayload
	if cfg.GRPC != nil && cfg.GRPC.MaxPayload > 0 {
		maxPayload = cfg.GRPC.MaxPayload
	}
	return &Receiver{
		input: input, cfg: cfg, next: next, tr: tr, pool: receiver.NewPool(cfg.Threads),
		maxPayload: maxPayload, Now: time.Now, log: slog.New(slog.DiscardHandler), obs: receiver.NewObs(nil),
	}, nil
}

// TranslatorOptions maps the section's keys onto the translator's options.
func TranslatorOptions(cfg *config.OpenTelemetry) translator.Options {
	return translator.Options{
		CompatibleDDTrace:   cfg.CompatibleDDTrace,
		CompatibleZhaoShang: cfg.CompatibleZhaoShang,
		SplitServiceName:    cfg.SplitService(),
		CleanMessage:        cfg.CleanMsg(),
		DelMessage:          cfg.DelMessage,
		CustomerTags:        cfg.CustomerTags,
		CustomerTagsAll:     cfg.CustomerTagsAll,
		Tags:                cfg.Tags,
	}
}

// Name implements app.Component.
func (r *Receiver) Name() string { return "otlpreceiver[" + r.input + "]" }

// GRPCAddr is the bound gRPC address once started (nil without a grpc subsection).
func (r *Receiver) GRPCAddr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Start mounts the HTTP route and opens the gRPC listener.
func (r *Receiver) Start(_ context.Context, host *app.Host) error {
	if host.Logger != nil {
		r.log = host.Logger.With("component", r.Name())
	}
	r.obs = receiver.NewObs(host.Registry)
	if r.cfg.HTTP != nil {
		if err := receiver.Mount(host.Mux, "POST "+r.cfg.HTTP.TraceAPI, r.serveHTTP); err != nil {
			return err
		}
	}
	if r.cfg.GRPC == nil {
		return nil
	}
	ln, err := net.Listen("tcp", r.cfg.GRPC.Addr)
	if err != nil {
		return fmt.Errorf("listen on grpc.addr %s: %w", r.cfg.GRPC.Addr, err)
	}
	srv := newGRPCServer(r)
	done := make(chan struct{})
	r.mu.Lock()
	r.srv, r.addr, r.done = srv, ln.Addr(), done
	r.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil {
			r.log.Error("grpc server stopped", "err", err)
		}
	}()
	r.log.Info("otlp grpc listening", "addr", ln.Addr().String())
	return nil
}

// Shutdown stops the gRPC server, letting in-flight exports finish until ctx ends. HTTP
// requests are drained by the shared listener.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	srv, done := r.srv, r.done
	r.srv = nil
	r.mu.Unlock()
	if srv == nil {
		return nil
	}
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		srv.Stop()
		<-stopped
	}
	<-done
	return nil
}

// consume converts td and hands it on, inside the worker pool: the request is answered
// only after the bus stored the batch.
func (r *Receiver) consume(ctx context.Context, td ptrace.Traces, meta translator.Meta) error {
	batch := r.tr.ToTraceBatch(td, meta)
	batch.Input = r.input
	batch.ReceivedUnixNano = r.Now().UnixNano()
	if len(batch.Traces) == 0 {
		return nil
	}
	return r.next.ConsumeTraces(ctx, batch)
}

func peerIP(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	return hostOf(p.Addr.String())
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	var size, spans int
	var media string
	err := r.checkHeaders(req)
	if err == nil {
		media, err = mediaType(req.Header.Get("Content-Type"))
	}
	if err == nil {
		err = r.pool.Do(req.Context(), func(ctx context.Context) error {
			body, err := receiver.ReadBody(req, int64(r.maxPayload))
			if err != nil {
				return err
			}
			size = len(body)
			td, err := decode(media, body)
			if err != nil {
				return pipeline.Permanent(err)
			}
			spans = td.SpanCount()
			return r.consume(ctx, td, translator.Meta{RemoteIP: hostOf(req.RemoteAddr)})
		})
	}
	r.obs.Record(config.SourceOpenTelemetry, "http", size, spans, err)
	if err != nil {
		r.log.Debug("export refused", "transport", "http", "err", err)
		receiver.WriteHTTPError(w, err)
		return
	}
	writeResponse(w, media)
}

// checkHeaders enforces expected_headers: each configured header must carry its value.
func (r *Receiver) checkHeaders(req *http.Request) error {
	for k, v := range r.cfg.ExpectedHeaders {
		if !containsValue(req.Header.Values(k), v) {
			return pipeline.Permanent(fmt.Errorf("expected header %s: %q missing", k, v))
		}
	}
	return nil
}

func containsValue(vals []string, want string) bool {
	for _, v := range vals {
		if v == want {
			return true
		}
	}
	return false
}

// mediaType is the Content-Type without parameters, which must be OTLP's protobuf or JSON.
func mediaType(ct string) (string, error) {
	media, _, _ := strings.Cut(ct, ";")
	media = strings.ToLower(strings.TrimSpace(media))
	if media != ContentTypeProtobuf && media != ContentTypeJSON {
		return "", pipeline.Permanent(fmt.Errorf("unsupported Content-Type %q (want %s or %s)", ct, ContentTypeProtobuf, ContentTypeJSON))
	}
	return media, nil
}

func decode(media string, body []byte) (ptrace.Traces, error) {
	if media == ContentTypeJSON {
		return translator.DecodeJSON(body)
	}
	return translator.DecodeProtobuf(body)
}

// writeResponse answers with an empty ExportTraceServiceResponse in the request's
// encoding, as DataKit does: zero bytes in protobuf, {} in JSON. (pdata's ExportResponse
// would add an empty partial_success.)
func writeResponse(w http.ResponseWriter, media string) {
	w.Header().Set("Content-Type", media)
	w.WriteHeader(http.StatusOK)
	if media == ContentTypeJSON {
		_, _ = w.Write([]byte("{}"))
	}
}
