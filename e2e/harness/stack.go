package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Stack is tracekit running in one topology.
type Stack struct {
	// HTTPAddr is the listener that serves the HTTP receivers (and the gateway): the
	// all-in-one's shared listener, or the first receiver's in the split topology.
	HTTPAddr string
	// ConfigPath is the config file every process reads.
	ConfigPath string
	// Procs are the processes by binary name.
	Procs map[string]*Proc
	// Admin maps a process name to its HTTP listener (metrics, health).
	Admin map[string]string
	// BusURL is the external nats-server of the split topology ("" for the all-in-one).
	BusURL string
}

// Proc returns the process running binary name.
func (s *Stack) Proc(t testing.TB, name string) *Proc {
	t.Helper()
	p, ok := s.Procs[name]
	if !ok {
		t.Fatalf("no %s process in this stack", name)
	}
	return p
}

// RestartProc restarts a process (after Kill or Stop) and waits until it is up again.
func (s *Stack) RestartProc(t testing.TB, name string) {
	t.Helper()
	p := s.Proc(t, name)
	p.Restart(t)
	WaitHTTP(t, p, "http://"+s.Admin[name]+"/readyz", 30*time.Second)
}

// Option changes the generated config.
type Option func(*options)

type options struct {
	extra    []string
	storeDir string
	env      []string
}

// WithConfig appends TOML (other sections: [io], [aggregator], ...). Keys given here for a
// section the harness also writes ([bus], [http], [io], [dataway]) must not repeat those
// sections: use WithEnv for them instead.
func WithConfig(toml string) Option { return func(o *options) { o.extra = append(o.extra, toml) } }

// WithStoreDir reuses a JetStream store directory (restart tests).
func WithStoreDir(dir string) Option { return func(o *options) { o.storeDir = dir } }

// WithEnv passes TRACEKIT_* overrides to every process.
func WithEnv(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

func writeConfig(t testing.TB, sim *Sim, busURL, inputs string, o *options) string {
	t.Helper()
	store := o.storeDir
	if store == "" {
		store = filepath.Join(t.TempDir(), "nats")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[bus]\nurl = %q\nstore_dir = %q\n\n", busURL, store)
	fmt.Fprintf(&b, "[http]\nlisten = \"127.0.0.1:0\"\n\n")
	fmt.Fprintf(&b, "[log]\nlevel = \"debug\"\nformat = \"text\"\n\n")
	fmt.Fprintf(&b, "[io]\nflush_interval = \"200ms\"\nmax_cache_count = 1000\n\n")
	fmt.Fprintf(&b, "[dataway]\nurls = [%q]\nmax_retry_count = 2\nretry_delay = \"100ms\"\nmax_retry_delay = \"1s\"\n\n", sim.URL())
	b.WriteString(inputs)
	b.WriteString("\n")
	for _, e := range o.extra {
		b.WriteString(e)
		b.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "tracekit.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	return path
}

// StartAllInOne runs bin/tracekit (embedded NATS) with the given input sections.
func StartAllInOne(t testing.TB, sim *Sim, inputs string, opts ...Option) *Stack {
	t.Helper()
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	cfg := writeConfig(t, sim, "", inputs, o)
	addr := FreeAddr(t)
	env := append([]string{"TRACEKIT_HTTP_LISTEN=" + addr}, o.env...)
	p := StartProc(t, "tracekit", []string{"-config", cfg}, env...)
	WaitHTTP(t, p, "http://"+addr+"/v1/ping", 60*time.Second)
	return &Stack{HTTPAddr: addr, ConfigPath: cfg, Procs: map[string]*Proc{"tracekit": p}, Admin: map[string]string{"tracekit": addr}}
}

// StartNATS runs bin/nats-server with JetStream on a free port and returns its URL.
func StartNATS(t testing.TB) (*Proc, string) {
	t.Helper()
	addr := FreeAddr(t)
	host, port := splitHostPort(t, addr)
	mon := FreeAddr(t)
	_, monPort := splitHostPort(t, mon)
	p := StartProc(t, "nats-server", []string{"-js", "-sd", t.TempDir(), "-a", host, "-p", port, "-m", monPort})
	WaitHTTP(t, p, "http://"+mon+"/healthz?js-enabled-only=true", 30*time.Second)
	return p, "nats://" + addr
}

// StartSplit runs one external nats-server and each service as its own process: sender,
// filter, and the given receivers (binary names such as "receiver-otlp"), plus any extra
// services (e.g. "gateway").
func StartSplit(t testing.TB, sim *Sim, inputs string, services []string, opts ...Option) *Stack {
	t.Helper()
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	nats, url := StartNATS(t)
	cfg := writeConfig(t, sim, url, inputs, o)
	s := &Stack{ConfigPath: cfg, Procs: map[string]*Proc{"nats-server": nats}, Admin: map[string]string{}, BusURL: url}
	for _, name := range append([]string{"sender", "filter"}, services...) {
		in := StartInstance(t, name, cfg, o.env...)
		s.Procs[name] = in.Proc
		s.Admin[name] = in.Admin
		if s.HTTPAddr == "" && name != "sender" && name != "filter" {
			s.HTTPAddr = in.Admin
		}
	}
	return s
}

// WriteConfig writes the config file the stacks run on: [bus] url = busURL ("" embeds
// NATS), [dataway] -> sim, flush_interval 200ms, the given input sections and options.
// Pair it with StartNATS and StartInstance to build other topologies.
func WriteConfig(t testing.TB, sim *Sim, busURL, inputs string, opts ...Option) string {
	t.Helper()
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	return writeConfig(t, sim, busURL, inputs, o)
}

// Instance is one process of a service with its own [http] listener.
type Instance struct {
	*Proc
	// Admin is its [http] listener: /metrics, /readyz and, for receivers, the HTTP routes.
	Admin string
}

// StartInstance runs one more process of the service binary name on the config file cfg,
// with its own [http] listener, and waits until it is ready. Instances of one service share
// its durable consumer, so each one started takes a share of the work.
func StartInstance(t testing.TB, name, cfg string, env ...string) *Instance {
	t.Helper()
	addr := FreeAddr(t)
	p := StartProc(t, name, []string{"-config", cfg}, append([]string{"TRACEKIT_HTTP_LISTEN=" + addr}, env...)...)
	in := &Instance{Proc: p, Admin: addr}
	in.WaitReady(t)
	return in
}

// StartInstances starts n instances of a service (see StartInstance).
func StartInstances(t testing.TB, name, cfg string, n int, env ...string) []*Instance {
	t.Helper()
	out := make([]*Instance, n)
	for i := range out {
		out[i] = StartInstance(t, name, cfg, env...)
	}
	return out
}

// WaitReady waits until the instance's /readyz answers 200.
func (in *Instance) WaitReady(t testing.TB) {
	t.Helper()
	WaitHTTP(t, in.Proc, "http://"+in.Admin+"/readyz", 60*time.Second)
}

// Restart starts the instance again on the same listener (after Stop or Kill) and waits
// until it is ready.
func (in *Instance) Restart(t testing.TB) {
	t.Helper()
	in.Proc.Restart(t)
	in.WaitReady(t)
}

// Topology starts tracekit one way.
type Topology struct {
	Name string
	// Start runs the stack with inputs; services names the split-mode receiver binaries
	// the inputs need (ignored by the all-in-one).
	Start func(t testing.TB, sim *Sim, inputs string, services []string, opts ...Option) *Stack
}

// Topologies are both ways users run tracekit: e2e tests run once per topology.
var Topologies = []Topology{
	{Name: "allinone", Start: func(t testing.TB, sim *Sim, inputs string, _ []string, opts ...Option) *Stack {
		return StartAllInOne(t, sim, inputs, opts...)
	}},
	{Name: "split", Start: StartSplit},
}

func splitHostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		t.Fatalf("bad address %q", addr)
	}
	return addr[:i], addr[i+1:]
}
