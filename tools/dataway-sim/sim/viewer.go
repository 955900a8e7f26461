package sim

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"

	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	"github.com/tracekit/tracekit/tools/dataway-sim/ui"
	"google.golang.org/protobuf/encoding/protojson"
)

// The JSON behind the trace viewer page (tools/dataway-sim/ui) and the page itself.

const (
	defaultListLimit = 100
	maxListLimit     = 10_000
)

// mountViewer registers the viewer's JSON API and serves the page at / and /ui/.
func (s *Server) mountViewer() {
	s.mux.HandleFunc("GET /v1/_sim/traces", s.getTraces)
	s.mux.HandleFunc("GET /v1/_sim/traces/{trace_id}", s.getTrace)
	s.mux.HandleFunc("GET /v1/_sim/trace_store", s.getTraceStore)
	s.mux.HandleFunc("GET /v1/_sim/writes", s.getWrites)
	s.mux.HandleFunc("GET /v1/_sim/tail_sampling_groups", s.getTailSamplingGroups)
	page := ui.Handler()
	s.mux.Handle("GET /{$}", page)
	s.mux.Handle("GET /ui/", page)
}

// Traces returns the kept traces that match f, most recently updated first.
func (s *Server) Traces(f TraceFilter) []TraceSummary { return s.traces.list(f) }

// Trace returns one kept trace with its spans in waterfall order.
func (s *Server) Trace(id string) (TraceDetail, bool) { return s.traces.detail(id) }

// TraceStore returns what the viewer keeps and what it evicted.
func (s *Server) TraceStore() TraceStoreStats { return s.traces.stats() }

func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > maxListLimit {
		return 0, fmt.Errorf("limit: want an integer in 1..%d, got %q", maxListLimit, v)
	}
	return n, nil
}

func badQuery(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "sim.badQuery", "message": err.Error()})
}

func (s *Server) getTraces(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		badQuery(w, err)
		return
	}
	q := r.URL.Query()
	writeJSON(w, http.StatusOK, s.Traces(TraceFilter{Service: q.Get("service"), Status: q.Get("status"),
		Source: q.Get("source"), Query: q.Get("q"), Limit: limit}))
}

func (s *Server) getTrace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("trace_id")
	d, ok := s.Trace(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error_code": "sim.traceNotFound",
			"message": fmt.Sprintf("trace %q is not kept (never received, or evicted)", id)})
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) getTraceStore(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.TraceStore())
}

// Writes is the JSON of GET /v1/_sim/writes: the stored points per category and the
// newest points of one.
type Writes struct {
	Categories map[string]int `json:"categories"`
	Points     []Point        `json:"points"`
}

func (s *Server) getWrites(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		badQuery(w, err)
		return
	}
	category := r.URL.Query().Get("category")
	all := s.Points("")
	out := Writes{Categories: map[string]int{}, Points: []Point{}}
	for i := len(all) - 1; i >= 0; i-- {
		p := all[i]
		out.Categories[p.Category]++
		if (category == "" || p.Category == category) && len(out.Points) < limit {
			out.Points = append(out.Points, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// TailSamplingGroup is the packets of one group (a trace id for tracing, a group key value
// for logging and RUM), with their predicates combined: booleans OR-ed, durations maxed.
type TailSamplingGroup struct {
	DataType             string `json:"data_type"`
	GroupKey             string `json:"group_key"`
	RawGroupID           string `json:"raw_group_id"`
	GroupIDHash          string `json:"group_id_hash"`
	Source               string `json:"source"`
	ConfigVersion        int64  `json:"config_version"`
	Packets              int    `json:"packets"`
	Points               int    `json:"points"`
	HasError             bool   `json:"has_error"`
	PredError            bool   `json:"pred_error"`
	PredHTTPError        bool   `json:"pred_http_error"`
	PredBizError         bool   `json:"pred_biz_error"`
	PredTraceKeep        bool   `json:"pred_trace_keep"`
	MaxSpanDurationUS    int64  `json:"max_span_duration_us"`
	RootDurationUS       int64  `json:"root_duration_us"`
	MaxNonrootDurationUS int64  `json:"max_nonroot_duration_us"`
	PayloadCompression   int32  `json:"payload_compression"`
	First                int64  `json:"first"` // unix ns of the first packet
	Last                 int64  `json:"last"`
	// Measurements counts the points per measurement.
	Measurements map[string]int `json:"measurements"`
}

// TailSamplingGroups returns the received packets grouped, most recently updated first.
func (s *Server) TailSamplingGroups(limit int) []TailSamplingGroup {
	s.mu.Lock()
	pkts := append([]TailSamplingPacket{}, s.packets...)
	s.mu.Unlock()
	type key struct{ dataType, groupKey, id string }
	groups := map[key]*TailSamplingGroup{}
	for _, rec := range pkts {
		var pkt aggregatev1.DataPacket
		// The packet JSON is the simulator's own protojson; one that does not parse is
		// still counted, under an empty group.
		_ = protojson.Unmarshal(rec.Packet, &pkt)
		k := key{pkt.GetDataType(), pkt.GetGroupKey(), pkt.GetRawGroupId()}
		g := groups[k]
		if g == nil {
			g = &TailSamplingGroup{DataType: k.dataType, GroupKey: k.groupKey, RawGroupID: k.id,
				GroupIDHash: strconv.FormatUint(pkt.GetGroupIdHash(), 10), First: rec.Time, Measurements: map[string]int{}}
			groups[k] = g
		}
		g.Source, g.ConfigVersion, g.PayloadCompression = pkt.GetSource(), pkt.GetConfigVersion(), pkt.GetPayloadCompression()
		g.Packets++
		g.Points += len(rec.Points)
		g.HasError = g.HasError || pkt.GetHasError()
		g.PredError = g.PredError || pkt.GetPredError()
		g.PredHTTPError = g.PredHTTPError || pkt.GetPredHttpError()
		g.PredBizError = g.PredBizError || pkt.GetPredBizError()
		g.PredTraceKeep = g.PredTraceKeep || pkt.GetPredTraceKeep()
		g.MaxSpanDurationUS = max(g.MaxSpanDurationUS, pkt.GetMaxSpanDurationUs())
		g.RootDurationUS = max(g.RootDurationUS, pkt.GetRootDurationUs())
		g.MaxNonrootDurationUS = max(g.MaxNonrootDurationUS, pkt.GetMaxNonrootDurationUs())
		g.First, g.Last = min(g.First, rec.Time), max(g.Last, rec.Time)
		for _, p := range rec.Points {
			g.Measurements[p.Measurement]++
		}
	}
	out := make([]TailSamplingGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Last != out[j].Last {
			return out[i].Last > out[j].Last
		}
		return out[i].RawGroupID < out[j].RawGroupID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (s *Server) getTailSamplingGroups(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		badQuery(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.TailSamplingGroups(limit))
}
