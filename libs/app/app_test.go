package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeComp struct {
	name      string
	log       *[]string
	mu        *sync.Mutex
	startErr  error
	reloadErr error
}

func (f *fakeComp) Name() string { return f.name }
func (f *fakeComp) Start(_ context.Context, h *Host) error {
	f.record("start " + f.name)
	h.Mux.HandleFunc("GET /"+f.name, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, f.name) })
	return f.startErr
}
func (f *fakeComp) Shutdown(context.Context) error { f.record("stop " + f.name); return nil }
func (f *fakeComp) Reload(context.Context) error   { f.record("reload " + f.name); return f.reloadErr }
func (f *fakeComp) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.log = append(*f.log, s)
}

func TestRunOrderAndRoutes(t *testing.T) {
	var log []string
	var mu sync.Mutex
	a := &fakeComp{name: "sender", log: &log, mu: &mu}
	b := &fakeComp{name: "receiver", log: &log, mu: &mu}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Settings{Listen: "127.0.0.1:0", Ready: func(a net.Addr) { addrCh <- a }}, a, b)
	}()
	addr := <-addrCh
	base := "http://" + addr.String()

	for path, want := range map[string]int{"/receiver": 200, "/healthz": 200, "/readyz": 200, "/metrics": 200, "/v1/ping": 200} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
	}
	resp, err := http.Get(base + "/v1/ping")
	require.NoError(t, err)
	var ping struct {
		Content map[string]string `json:"content"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ping))
	resp.Body.Close()
	for _, k := range []string{"version", "uptime", "host", "commit"} {
		assert.NotEmpty(t, ping.Content[k], k)
	}

	resp, err = http.Post(base+"/-/reload", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)

	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, []string{"start sender", "start receiver", "reload sender", "reload receiver", "stop receiver", "stop sender"}, log)
}

func TestRunStartFailureStopsStarted(t *testing.T) {
	var log []string
	var mu sync.Mutex
	a := &fakeComp{name: "a", log: &log, mu: &mu}
	b := &fakeComp{name: "b", log: &log, mu: &mu, startErr: errors.New("port in use")}
	err := Run(context.Background(), Settings{Listen: "127.0.0.1:0"}, a, b)
	require.ErrorContains(t, err, "start b: port in use")
	assert.Equal(t, []string{"start a", "start b", "stop a"}, log)
}

func TestRunSignalAndBadReload(t *testing.T) {
	var log []string
	var mu sync.Mutex
	a := &fakeComp{name: "filter", log: &log, mu: &mu, reloadErr: errors.New("bad regex")}
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Settings{Listen: "127.0.0.1:0", Ready: func(a net.Addr) { addrCh <- a }}, a)
	}()
	addr := <-addrCh
	resp, err := http.Post("http://"+addr.String()+"/-/reload", "text/plain", nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "bad regex")
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not stop Run")
	}
}
