package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
)

// pullStore holds the aggregator configs GET /v1/datakit/pull serves (DataKit's remote
// aggregator config mode), set through POST /v1/_sim/pull_config or SetPullConfig.
type pullStore struct {
	mu   sync.Mutex
	aggr json.RawMessage
	tail json.RawMessage
}

// PullConfig is the JSON of POST /v1/_sim/pull_config: the AggregatorConfigure and
// TailSamplingConfigs Dataway hands out (null or absent: none).
type PullConfig struct {
	Aggr         json.RawMessage `json:"aggr,omitempty"`
	TailSampling json.RawMessage `json:"tail_sampling,omitempty"`
}

func (s *Server) mountPull() {
	s.pull = &pullStore{}
	s.mux.HandleFunc("GET /v1/datakit/pull", s.servePull)
	s.mux.HandleFunc("POST /v1/_sim/pull_config", s.setPullConfig)
	s.mux.HandleFunc("GET /v1/_sim/pull_config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.GetPullConfig())
	})
}

// SetPullConfig replaces the configs served by /v1/datakit/pull.
func (s *Server) SetPullConfig(c PullConfig) error {
	for _, raw := range []json.RawMessage{c.Aggr, c.TailSampling} {
		if len(raw) > 0 && !json.Valid(raw) {
			return errors.New("pull config: not JSON")
		}
	}
	s.pull.mu.Lock()
	s.pull.aggr, s.pull.tail = bytes.Clone(c.Aggr), bytes.Clone(c.TailSampling)
	s.pull.mu.Unlock()
	return nil
}

// GetPullConfig returns the configs served by /v1/datakit/pull.
func (s *Server) GetPullConfig() PullConfig {
	s.pull.mu.Lock()
	defer s.pull.mu.Unlock()
	return PullConfig{Aggr: s.pull.aggr, TailSampling: s.pull.tail}
}

// servePull answers ?aggr=true with the aggregation config and ?tail-sampling=true with
// the tail-sampling config; {} when none is set. Faults and the token apply as on writes.
func (s *Server) servePull(w http.ResponseWriter, r *http.Request) {
	rec := Request{Path: r.URL.Path, Query: r.URL.RawQuery, Headers: flatHeaders(r.Header), Time: s.o.Now().UnixNano()}
	status, aerr := s.pullStatus(r)
	rec.Status = status
	if aerr != nil {
		rec.Error = aerr.msg
		s.record(rec)
		writeJSON(w, status, map[string]string{"error_code": aerr.code, "message": aerr.msg})
		return
	}
	s.record(rec)
	cfg := s.GetPullConfig()
	var body json.RawMessage
	switch q := r.URL.Query(); {
	case q.Get("aggr") == "true":
		body = cfg.Aggr
	case q.Get("tail-sampling") == "true":
		body = cfg.TailSampling
	}
	if len(body) == 0 {
		body = json.RawMessage("{}")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (s *Server) pullStatus(r *http.Request) (int, *apiError) {
	if f := s.matchFault(r.URL.Path); f != nil && f.Status != 0 {
		return f.Status, &apiError{status: f.Status, code: "dataway.simulatedFault", msg: "simulated fault"}
	}
	if s.o.Token != "" && r.URL.Query().Get("token") != s.o.Token {
		return http.StatusUnauthorized, &apiError{status: http.StatusUnauthorized, code: "dataway.invalidToken", msg: "invalid token"}
	}
	return http.StatusOK, nil
}

func (s *Server) setPullConfig(w http.ResponseWriter, r *http.Request) {
	var c PullConfig
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "sim.badPullConfig", "message": err.Error()})
		return
	}
	if err := s.SetPullConfig(c); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "sim.badPullConfig", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
