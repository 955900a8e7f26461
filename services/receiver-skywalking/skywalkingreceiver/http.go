package skywalkingreceiver

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/tracekit/tracekit/libs/app"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/receiver"
	"github.com/tracekit/tracekit/services/receiver-skywalking/skywalkingreceiver/internal/translator"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
)

type bodyDecoder func(contentType string, body []byte) ([]*agentv3.SegmentObject, error)

// httpRoutes are the trace endpoints we serve, by path.
var httpRoutes = map[string]struct {
	decode bodyDecoder
	// jsonReply answers `{}` like OAP's JSON API; DataKit's /v3/trace answers an empty 200.
	jsonReply bool
}{
	"/v3/trace":    {decode: decodeTrace},
	"/v3/segment":  {decode: decodeJSONSegment, jsonReply: true},
	"/v3/segments": {decode: decodeJSONSegments, jsonReply: true},
}

// dataKitOnly are DataKit's non-trace SkyWalking routes: accepted in `endpoints` so DataKit
// configs load, but not served.
var dataKitOnly = map[string]bool{"/v3/metric": true, "/v3/logging": true, "/v3/logs": true, "/v3/profiling": true}

func (r *Receiver) mountHTTP(host *app.Host) error {
	for _, ep := range r.endpoints {
		route, ok := httpRoutes[ep]
		if !ok {
			if dataKitOnly[ep] {
				r.log.Warn("skywalking endpoint not served: tracekit receives traces only", "endpoint", ep)
			} else {
				r.log.Warn("unknown skywalking endpoint ignored", "endpoint", ep, "known", "/v3/trace, /v3/segment, /v3/segments")
			}
			continue
		}
		if host.Mux == nil {
			continue
		}
		if err := receiver.Mount(host.Mux, "POST "+ep, r.handle(route.decode, route.jsonReply)); err != nil {
			return fmt.Errorf("%s endpoints: %w", r.input, err)
		}
	}
	return nil
}

func (r *Receiver) handle(decode bodyDecoder, jsonReply bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		var size, spans int
		err := r.pool.Do(req.Context(), func(ctx context.Context) error {
			body, err := receiver.ReadBody(req, maxMessage)
			if err != nil {
				return err
			}
			size = len(body)
			segs, err := decode(req.Header.Get("Content-Type"), body)
			if err != nil {
				return pipeline.Permanent(err)
			}
			spans, err = r.publish(ctx, segs)
			return err
		})
		r.obs.Record(config.SourceSkyWalking, "http", size, spans, err)
		if err != nil {
			receiver.WriteHTTPError(w, err)
			return
		}
		if jsonReply {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("{}"))
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// mediaType is the Content-Type without parameters, lower-cased; "" when absent.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

func decodeTrace(ct string, body []byte) ([]*agentv3.SegmentObject, error) {
	switch mediaType(ct) {
	case "application/x-protobuf", "application/protobuf":
	default:
		return nil, fmt.Errorf("unsupported Content-Type %q for /v3/trace (want application/x-protobuf with one SegmentObject)", ct)
	}
	seg, err := translator.DecodeSegment(body)
	if err != nil {
		return nil, err
	}
	return []*agentv3.SegmentObject{seg}, nil
}

func decodeJSONSegment(_ string, body []byte) ([]*agentv3.SegmentObject, error) {
	seg, err := translator.DecodeJSONSegment(body)
	if err != nil {
		return nil, err
	}
	return []*agentv3.SegmentObject{seg}, nil
}

func decodeJSONSegments(_ string, body []byte) ([]*agentv3.SegmentObject, error) {
	return translator.DecodeJSONSegments(body)
}
