package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// SimToken is the workspace token the simulator accepts in e2e runs.
const SimToken = "tkn_e2e"

// Sim is a running dataway-sim.
type Sim struct {
	*Proc
	Addr string
}

// StartSim runs bin/dataway-sim on a free loopback port.
func StartSim(t testing.TB) *Sim {
	t.Helper()
	addr := FreeAddr(t)
	p := StartProc(t, "dataway-sim", []string{"-listen", addr, "-token", SimToken})
	WaitHTTP(t, p, "http://"+addr+"/healthz", 20*time.Second)
	return &Sim{Proc: p, Addr: addr}
}

// URL is the Dataway URL to configure ([dataway] urls), token included.
func (s *Sim) URL() string { return "http://" + s.Addr + "?token=" + SimToken }

// Point is a point as the simulator decoded it.
type Point struct {
	Category    string            `json:"category"`
	Measurement string            `json:"measurement"`
	Tags        map[string]string `json:"tags"`
	Fields      map[string]any    `json:"fields"`
	Time        int64             `json:"time"`
}

// Field returns a field as a string ("" when absent), whatever its JSON type.
func (p Point) Field(k string) string {
	v, ok := p.Fields[k]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// Int returns an integer field (0 when absent or not a number).
func (p Point) Int(k string) int64 {
	if n, ok := p.Fields[k].(json.Number); ok {
		i, err := n.Int64()
		if err == nil {
			return i
		}
		f, _ := n.Float64()
		return int64(f)
	}
	return 0
}

// Points returns every point of category received so far.
func (s *Sim) Points(t testing.TB, category string) []Point {
	t.Helper()
	var out struct {
		Points []Point `json:"points"`
	}
	s.getJSON(t, "/v1/_sim/points?category="+category, &out)
	return out.Points
}

// WaitPoints waits until at least n points of category arrived and returns them all.
func (s *Sim) WaitPoints(t testing.TB, category string, n int, timeout time.Duration) []Point {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var pts []Point
	for {
		pts = s.Points(t, category)
		if len(pts) >= n {
			return pts
		}
		if time.Now().After(deadline) {
			t.Fatalf("dataway-sim got %d %s points, want %d within %s", len(pts), category, n, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Fault scripts the simulator's answers.
type Fault struct {
	PathPrefix string `json:"path_prefix"`
	Status     int    `json:"status,omitempty"`
	Count      int    `json:"count,omitempty"`
	Latency    string `json:"latency,omitempty"`
}

// SetFault makes requests under f.PathPrefix fail as scripted.
func (s *Sim) SetFault(t testing.TB, f Fault) {
	t.Helper()
	body, _ := json.Marshal(f)
	s.do(t, http.MethodPost, "/v1/_sim/faults", body)
}

// ClearFaults makes the simulator answer normally again.
func (s *Sim) ClearFaults(t testing.TB) {
	t.Helper()
	s.do(t, http.MethodDelete, "/v1/_sim/faults", nil)
}

// Reset forgets everything received.
func (s *Sim) Reset(t testing.TB) {
	t.Helper()
	s.do(t, http.MethodPost, "/v1/_sim/reset", nil)
}

// GetJSON decodes a simulator GET endpoint (e.g. /v1/_sim/requests) into v.
func (s *Sim) GetJSON(t testing.TB, path string, v any) { t.Helper(); s.getJSON(t, path, v) }

func (s *Sim) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

func (s *Sim) do(t testing.TB, method, path string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.Addr+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}
