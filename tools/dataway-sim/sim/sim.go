// Package sim is a Dataway stand-in for tests and local runs: it accepts DataKit's writes,
// aggregate batches and tail-sampling packets, keeps what it decoded in bounded memory, and
// answers a JSON query API under /v1/_sim/. Scripted faults make it fail on purpose.
package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tracekit/tracekit/libs/receiver"
	"google.golang.org/protobuf/encoding/protojson"
)

// Options configure a Server.
type Options struct {
	// Token is the workspace token every Dataway API requires in ?token=; empty accepts any.
	Token string
	// MaxPoints bounds the points kept in memory (default 100000); the oldest are evicted.
	MaxPoints int
	// MaxRequests bounds the request log (default 10000).
	MaxRequests int
	// MaxTraces bounds the traces the viewer keeps (default DefaultMaxTraces); the least
	// recently updated trace is evicted whole.
	MaxTraces int
	// MaxRawBodySize, when > 0, answers 413 to bodies whose decompressed size passes it, as
	// a Dataway with a body limit does.
	MaxRawBodySize int
	Logger         *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// maxBody caps what one request may carry on the wire and decompressed.
const maxBody = 64 << 20

// Server is the simulator; it is an http.Handler.
type Server struct {
	o   Options
	mux *http.ServeMux
	log *slog.Logger

	mu            sync.Mutex
	points        []Point // ring when full: oldest at pointsHead
	pointsHead    int
	evicted       int64
	requests      []Request
	requestsHead  int
	aggregates    []Aggregate
	packets       []TailSamplingPacket
	configs       []TailSamplingConfig
	faults        []*Fault
	stats         map[string]*EndpointStats
	maxAuxRecords int
	traces        *traceStore
	pull          *pullStore
}

// Request is one logged API call.
type Request struct {
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Headers map[string]string `json:"headers"`
	// Bytes is the body as received; RawBytes after Content-Encoding was undone.
	Bytes    int    `json:"bytes"`
	RawBytes int    `json:"raw_bytes"`
	Points   int    `json:"points"`
	Status   int    `json:"status"`
	Error    string `json:"error,omitempty"`
	Time     int64  `json:"time"` // unix ns
}

// Aggregate is one /v1/aggregate body.
type Aggregate struct {
	Time    int64             `json:"time"`
	Headers map[string]string `json:"headers"`
	// Batchs is the protojson of aggregate.v1.Batchs (proto field names).
	Batchs json.RawMessage `json:"batchs"`
	Points []Point         `json:"points"`
}

// TailSamplingPacket is one /v1/tail_sampling body.
type TailSamplingPacket struct {
	Time    int64             `json:"time"`
	Headers map[string]string `json:"headers"`
	// Packet is the protojson of the DataPacket without points_payload (proto field
	// names, zero values included); Points is the payload decoded.
	Packet json.RawMessage `json:"packet"`
	Points []Point         `json:"points"`
}

// TailSamplingConfig is one /v1/tail_sampling_config body, kept as sent.
type TailSamplingConfig struct {
	Time    int64             `json:"time"`
	Headers map[string]string `json:"headers"`
	Config  json.RawMessage   `json:"config"`
}

// EndpointStats counts what one path received (accepted or not).
type EndpointStats struct {
	Requests int64 `json:"requests"`
	// Bodies counts accepted bodies (2xx).
	Bodies   int64            `json:"bodies"`
	Bytes    int64            `json:"bytes"`
	RawBytes int64            `json:"raw_bytes"`
	Points   int64            `json:"points"`
	Statuses map[string]int64 `json:"statuses"`
}

// Fault makes matching requests fail or slow down. Count 0 means until cleared.
type Fault struct {
	PathPrefix string `json:"path_prefix"`
	Status     int    `json:"status"`
	Count      int    `json:"count"`
	Latency    string `json:"latency,omitempty"`
	latency    time.Duration
	// Served counts the requests this fault answered.
	Served int `json:"served"`
}

// New builds a simulator.
func New(o Options) *Server {
	if o.MaxPoints <= 0 {
		o.MaxPoints = 100_000
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 10_000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, log: o.Logger, mux: http.NewServeMux(), stats: map[string]*EndpointStats{}, maxAuxRecords: 10_000}
	s.mux.HandleFunc("POST /v1/write/{category}", s.api(s.write))
	s.mux.HandleFunc("POST /v1/aggregate", s.api(s.aggregate))
	s.mux.HandleFunc("POST /v1/tail_sampling", s.api(s.tailSampling))
	s.mux.HandleFunc("POST /v1/tail_sampling_config", s.api(s.tailSamplingConfig))
	s.mux.HandleFunc("GET /v1/_sim/points", s.getPoints)
	s.mux.HandleFunc("GET /v1/_sim/requests", s.getRequests)
	s.mux.HandleFunc("GET /v1/_sim/aggregate", s.getAggregate)
	s.mux.HandleFunc("GET /v1/_sim/tail_sampling", s.getTailSampling)
	s.mux.HandleFunc("GET /v1/_sim/tail_sampling_config", s.getTailSamplingConfig)
	s.mux.HandleFunc("GET /v1/_sim/stats", s.getStats)
	s.mux.HandleFunc("POST /v1/_sim/faults", s.addFault)
	s.mux.HandleFunc("DELETE /v1/_sim/faults", s.clearFaults)
	s.mux.HandleFunc("GET /v1/_sim/faults", s.getFaults)
	s.mux.HandleFunc("POST /v1/_sim/reset", s.reset)
	s.traces = newTraceStore(o.MaxTraces)
	s.mountViewer()
	s.mountPull()
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// body is a received request after transport checks.
type body struct{ raw []byte }

// apiError is a Dataway-style JSON error.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(err error) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "dataway.badRequest", msg: err.Error()}
}

// api wraps a Dataway endpoint: faults, token check, body decoding, logging and stats.
// handle returns the number of points it stored.
func (s *Server) api(handle func(r *http.Request, b body) (int, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := Request{Path: r.URL.Path, Query: r.URL.RawQuery, Headers: flatHeaders(r.Header), Time: s.o.Now().UnixNano()}
		status, points, aerr := s.serveAPI(r, &rec, handle)
		rec.Status, rec.Points = status, points
		if aerr != nil {
			rec.Error = aerr.msg
		}
		s.record(rec)
		if aerr != nil {
			writeJSON(w, status, map[string]string{"error_code": aerr.code, "message": aerr.msg})
			return
		}
		w.WriteHeader(status)
	}
}

func (s *Server) serveAPI(r *http.Request, rec *Request, handler func(*http.Request, body) (int, *apiError)) (int, int, *apiError) {
	if f := s.matchFault(r.URL.Path); f != nil {
		if f.latency > 0 {
			t := time.NewTimer(f.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		if f.Status != 0 {
			return f.Status, 0, &apiError{status: f.Status, code: "dataway.simulatedFault", msg: fmt.Sprintf("simulated fault %d", f.Status)}
		}
	}
	if s.o.Token != "" {
		switch tok := r.URL.Query().Get("token"); {
		case tok == "":
			return http.StatusUnauthorized, 0, &apiError{status: http.StatusUnauthorized, code: "dataway.tokenNotFound", msg: "token missing"}
		case tok != s.o.Token:
			return http.StatusUnauthorized, 0, &apiError{status: http.StatusUnauthorized, code: "dataway.invalidToken", msg: "invalid token"}
		}
	}
	wire, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return http.StatusBadRequest, 0, badRequest(fmt.Errorf("read body: %w", err))
	}
	rec.Bytes = len(wire)
	if len(wire) > maxBody {
		return http.StatusRequestEntityTooLarge, 0, &apiError{status: http.StatusRequestEntityTooLarge, code: "dataway.bodyTooLarge", msg: "body too large"}
	}
	raw, err := receiver.Decode(bytes.NewReader(wire), r.Header.Get("Content-Encoding"), maxBody)
	if err != nil {
		if errors.Is(err, receiver.ErrTooLarge) {
			return http.StatusRequestEntityTooLarge, 0, &apiError{status: http.StatusRequestEntityTooLarge, code: "dataway.bodyTooLarge", msg: err.Error()}
		}
		return http.StatusBadRequest, 0, badRequest(err)
	}
	rec.RawBytes = len(raw)
	if s.o.MaxRawBodySize > 0 && len(raw) > s.o.MaxRawBodySize {
		return http.StatusRequestEntityTooLarge, 0, &apiError{status: http.StatusRequestEntityTooLarge, code: "dataway.bodyTooLarge",
			msg: fmt.Sprintf("raw body of %d bytes exceeds %d", len(raw), s.o.MaxRawBodySize)}
	}
	n, aerr := handler(r, body{raw: raw})
	if aerr != nil {
		return aerr.status, 0, aerr
	}
	return http.StatusOK, n, nil
}

func (s *Server) write(r *http.Request, b body) (int, *apiError) {
	category := r.PathValue("category")
	pts, err := DecodeWrite(r.Header.Get("Content-Type"), b.raw, s.o.Now().UnixNano())
	if err != nil {
		return 0, badRequest(err)
	}
	out := make([]Point, len(pts))
	for i, p := range pts {
		out[i] = ToPoint(category, p)
	}
	s.mu.Lock()
	s.addPointsLocked(out)
	s.mu.Unlock()
	s.traces.add(out, ViaWrite, s.o.Now().UnixNano())
	s.log.Debug("write", "category", category, "points", len(pts), "raw_bytes", len(b.raw))
	return len(pts), nil
}

var pj = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

func (s *Server) aggregate(r *http.Request, b body) (int, *apiError) {
	batchs, err := DecodeAggregate(b.raw)
	if err != nil {
		return 0, badRequest(err)
	}
	rec := Aggregate{Time: s.o.Now().UnixNano(), Headers: flatHeaders(r.Header), Points: []Point{}}
	for _, ab := range batchs.GetBatchs() {
		for _, p := range ab.GetPoints().GetArr() {
			rec.Points = append(rec.Points, ToPoint("aggregate", p))
		}
	}
	raw, err := pj.Marshal(batchs)
	if err != nil {
		return 0, badRequest(err)
	}
	rec.Batchs = raw
	s.mu.Lock()
	s.aggregates = appendBounded(s.aggregates, rec, s.maxAuxRecords)
	s.mu.Unlock()
	return len(rec.Points), nil
}

func (s *Server) tailSampling(r *http.Request, b body) (int, *apiError) {
	pkt, pts, err := DecodeTailSampling(b.raw)
	if err != nil {
		return 0, badRequest(err)
	}
	pkt.PointsPayload = nil
	raw, err := pj.Marshal(pkt)
	if err != nil {
		return 0, badRequest(err)
	}
	rec := TailSamplingPacket{Time: s.o.Now().UnixNano(), Headers: flatHeaders(r.Header), Packet: raw, Points: make([]Point, len(pts))}
	for i, p := range pts {
		rec.Points[i] = ToPoint(pkt.GetDataType(), p)
	}
	s.mu.Lock()
	s.packets = appendBounded(s.packets, rec, s.maxAuxRecords)
	s.mu.Unlock()
	s.traces.add(rec.Points, ViaTailSampling, rec.Time)
	return len(pts), nil
}

func (s *Server) tailSamplingConfig(r *http.Request, b body) (int, *apiError) {
	if !json.Valid(b.raw) {
		return 0, badRequest(errors.New("tail sampling config is not JSON"))
	}
	rec := TailSamplingConfig{Time: s.o.Now().UnixNano(), Headers: flatHeaders(r.Header), Config: json.RawMessage(bytes.Clone(b.raw))}
	s.mu.Lock()
	s.configs = appendBounded(s.configs, rec, s.maxAuxRecords)
	s.mu.Unlock()
	return 0, nil
}

func appendBounded[T any](s []T, v T, n int) []T {
	if len(s) >= n {
		copy(s, s[1:])
		s = s[:len(s)-1]
	}
	return append(s, v)
}

// addPointsLocked stores points in the ring, evicting the oldest past MaxPoints.
func (s *Server) addPointsLocked(pts []Point) {
	for _, p := range pts {
		if len(s.points) < s.o.MaxPoints {
			s.points = append(s.points, p)
			continue
		}
		s.points[s.pointsHead] = p
		s.pointsHead = (s.pointsHead + 1) % len(s.points)
		s.evicted++
	}
}

func (s *Server) record(rec Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[statsKey(rec.Path)]
	if st == nil {
		st = &EndpointStats{Statuses: map[string]int64{}}
		s.stats[statsKey(rec.Path)] = st
	}
	st.Requests++
	st.Statuses[fmt.Sprint(rec.Status)]++
	if rec.Status/100 == 2 {
		st.Bodies++
		st.Bytes += int64(rec.Bytes)
		st.RawBytes += int64(rec.RawBytes)
		st.Points += int64(rec.Points)
	}
	if len(s.requests) < s.o.MaxRequests {
		s.requests = append(s.requests, rec)
		return
	}
	s.requests[s.requestsHead] = rec
	s.requestsHead = (s.requestsHead + 1) % len(s.requests)
}

func statsKey(path string) string { return path }

func (s *Server) matchFault(path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		f.Served++
		if f.Count > 0 && f.Served >= f.Count {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		c := *f
		return &c
	}
	return nil
}

// SetFault installs a fault (the Go form of POST /v1/_sim/faults).
func (s *Server) SetFault(f Fault) error {
	if f.Latency != "" {
		d, err := time.ParseDuration(f.Latency)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		f.latency = d
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("status: %d is not an HTTP status", f.Status)
	}
	if f.Count < 0 {
		return errors.New("count: must be >= 0")
	}
	f.Served = 0
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
	return nil
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Reset forgets everything received and every fault.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.points, s.pointsHead, s.evicted = nil, 0, 0
	s.requests, s.requestsHead = nil, 0
	s.aggregates, s.packets, s.configs = nil, nil, nil
	s.faults = nil
	s.stats = map[string]*EndpointStats{}
	s.traces.reset()
}

// Points returns the stored points of category (all when empty), oldest first.
func (s *Server) Points(category string) []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Point{}
	n := len(s.points)
	for i := 0; i < n; i++ {
		p := s.points[(s.pointsHead+i)%n]
		if category == "" || p.Category == category {
			out = append(out, p)
		}
	}
	return out
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.requests)
	out := make([]Request, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, s.requests[(s.requestsHead+i)%n])
	}
	return out
}

// Stats is the JSON of GET /v1/_sim/stats.
type Stats struct {
	Endpoints      map[string]*EndpointStats `json:"endpoints"`
	PointsStored   int                       `json:"points_stored"`
	PointsEvicted  int64                     `json:"points_evicted"`
	Aggregates     int                       `json:"aggregates"`
	TailSampling   int                       `json:"tail_sampling_packets"`
	TailSamplingCf int                       `json:"tail_sampling_configs"`
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	eps := make(map[string]*EndpointStats, len(s.stats))
	for k, v := range s.stats {
		c := *v
		c.Statuses = make(map[string]int64, len(v.Statuses))
		for sk, sv := range v.Statuses {
			c.Statuses[sk] = sv
		}
		eps[k] = &c
	}
	return Stats{Endpoints: eps, PointsStored: len(s.points), PointsEvicted: s.evicted,
		Aggregates: len(s.aggregates), TailSampling: len(s.packets), TailSamplingCf: len(s.configs)}
}

func (s *Server) getPoints(w http.ResponseWriter, r *http.Request) {
	pts := s.Points(r.URL.Query().Get("category"))
	if m := r.URL.Query().Get("measurement"); m != "" {
		kept := pts[:0]
		for _, p := range pts {
			if p.Measurement == m {
				kept = append(kept, p)
			}
		}
		pts = kept
	}
	writeJSON(w, http.StatusOK, map[string]any{"points": pts})
}

func (s *Server) getRequests(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Requests())
}

func (s *Server) getAggregate(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := append([]Aggregate{}, s.aggregates...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getTailSampling(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := append([]TailSamplingPacket{}, s.packets...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getTailSamplingConfig(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := append([]TailSamplingConfig{}, s.configs...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, *f)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "sim.badFault", "message": err.Error()})
		return
	}
	if err := s.SetFault(f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "sim.badFault", "message": err.Error()})
		return
	}
	s.log.Info("fault installed", "path_prefix", f.PathPrefix, "status", f.Status, "count", f.Count, "latency", f.Latency)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) clearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	s.log.Info("faults cleared")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) reset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	s.log.Info("reset")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func flatHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
