// Package zipkinreceiver serves Zipkin's HTTP collector API (v1 JSON and thrift, v2 JSON
// and proto3) on the shared listener.
package zipkinreceiver

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-zipkin/zipkinreceiver/internal/translator"
)

// maxBody caps a decoded request body; DataKit has no cap, but an unbounded read lets one
// client exhaust memory.
const maxBody = 64 << 20

// Components returns one receiver per [[inputs.zipkin]] section.
func Components(cfg *config.Config, next pipeline.Consumer) ([]app.Component, error) {
	var out []app.Component
	for i := range cfg.Inputs.Zipkin {
		in := &cfg.Inputs.Zipkin[i]
		ignore, err := spanmodel.CompileTagMatcher(in.IgnoreTags)
		if err != nil {
			return nil, fmt.Errorf("inputs.zipkin[%d].%w", i, err)
		}
		out = append(out, &Receiver{
			input:  config.InputName(config.SourceZipkin, i),
			pathV1: orDefault(in.PathV1, "/api/v1/spans"),
			pathV2: orDefault(in.PathV2, "/api/v2/spans"),
			next:   next,
			pool:   receiver.NewPool(in.Threads),
			opts:   translator.Options{Tags: in.Tags, IgnoreTags: ignore, DelMessage: in.DelMessage},
			now:    time.Now,
		})
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Receiver is one [[inputs.zipkin]] section's routes.
type Receiver struct {
	input          string
	pathV1, pathV2 string
	next           pipeline.Consumer
	pool           *receiver.Pool
	opts           translator.Options
	obs            *receiver.Obs
	now            func() time.Time
}

// Name implements app.Component.
func (r *Receiver) Name() string { return "receiver/" + r.input }

// Start mounts the v1 and v2 routes.
func (r *Receiver) Start(_ context.Context, host *app.Host) error {
	r.obs = receiver.NewObs(host.Registry)
	if err := receiver.Mount(host.Mux, "POST "+r.pathV1, r.handle(decodeV1)); err != nil {
		return fmt.Errorf("%s pathV1: %w", r.input, err)
	}
	if err := receiver.Mount(host.Mux, "POST "+r.pathV2, r.handle(decodeV2)); err != nil {
		return fmt.Errorf("%s pathV2: %w", r.input, err)
	}
	return nil
}

// Shutdown has nothing to release: the shared listener drains in-flight requests.
func (r *Receiver) Shutdown(context.Context) error { return nil }

type decodeFunc func(contentType string, body []byte, opt translator.Options) ([]*spanv1.DatakitTrace, error)

func (r *Receiver) handle(decode decodeFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		var size, spans int
		err := r.pool.Do(req.Context(), func(ctx context.Context) error {
			body, err := receiver.ReadBody(req, maxBody)
			if err != nil {
				return err
			}
			size = len(body)
			traces, err := decode(req.Header.Get("Content-Type"), body, r.opts)
			if err != nil {
				return pipeline.Permanent(err)
			}
			batch := &spanv1.TraceBatch{Source: config.SourceZipkin, Input: r.input, ReceivedUnixNano: r.now().UnixNano(), Traces: traces}
			spans = spanmodel.SpanCount(batch)
			if spans == 0 {
				return nil
			}
			return r.next.ConsumeTraces(ctx, batch)
		})
		r.obs.Record(config.SourceZipkin, "http", size, spans, err)
		if err != nil {
			receiver.WriteHTTPError(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// mediaType is the Content-Type without parameters, lower-cased; "" when absent.
func mediaType(ct string) string {
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

func decodeV1(ct string, body []byte, opt translator.Options) ([]*spanv1.DatakitTrace, error) {
	switch mt := mediaType(ct); mt {
	case "application/x-thrift", "application/vnd.apache.thrift.binary":
		spans, err := translator.DecodeV1Thrift(body)
		if err != nil {
			return nil, err
		}
		return translator.V1ThriftToTraces(spans, opt), nil
	case "application/json", "":
		return translator.ParseV1JSON(body, opt)
	default:
		return nil, fmt.Errorf("unsupported Content-Type %q for zipkin v1 (want application/json or application/x-thrift)", ct)
	}
}

func decodeV2(ct string, body []byte, opt translator.Options) ([]*spanv1.DatakitTrace, error) {
	switch mt := mediaType(ct); mt {
	case "application/x-protobuf", "application/protobuf":
		return translator.V2ProtoToTraces(body, opt)
	case "application/json", "":
		return translator.V2JSONToTraces(body, opt)
	default:
		return nil, fmt.Errorf("unsupported Content-Type %q for zipkin v2 (want application/json or application/x-protobuf)", ct)
	}
}
