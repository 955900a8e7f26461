package apptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/app"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.log = append(j.log, s)
}

func (j *journal) entries() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.log...)
}

type comp struct {
	name        string
	j           *journal
	startErr    error
	shutdownErr error
}

func (c *comp) Name() string { return c.name }

func (c *comp) Start(_ context.Context, h *app.Host) error {
	c.j.add("start " + c.name)
	if c.startErr != nil {
		return c.startErr
	}
	h.Mux.HandleFunc("GET /"+c.name, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, c.name) })
	return nil
}

func (c *comp) Shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("shutdown without a deadline")
	}
	c.j.add("stop " + c.name)
	return c.shutdownErr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestStartComponentsServesAndDrainsInReverse(t *testing.T) {
	j := &journal{}
	var base string
	t.Run("test", func(t *testing.T) {
		var host *app.Host
		base, host = StartComponents(t, &comp{name: "a", j: j}, &comp{name: "b", j: j})
		require.NotNil(t, host.Logger)
		require.NotNil(t, host.Registry)
		require.NotNil(t, host.Health)
		for _, name := range []string{"a", "b"} {
			code, body := get(t, base+"/"+name)
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, name, body)
		}
		assert.Equal(t, []string{"start a", "start b"}, j.entries(), "nothing stops before the test ends")
	})
	assert.Equal(t, []string{"start a", "start b", "stop b", "stop a"}, j.entries())
	_, err := http.Get(base + "/a")
	require.Error(t, err, "the server is closed with the test")
}

func TestStartOnKeepsTheCallersHost(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /own", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "own") })
	host := &app.Host{Mux: mux}
	base := StartOn(t, host, &comp{name: "c", j: &journal{}})
	assert.Same(t, mux, host.Mux)
	assert.NotNil(t, host.Registry, "missing fields are filled")
	_, body := get(t, base+"/own")
	assert.Equal(t, "own", body)
	_, body = get(t, base+"/c")
	assert.Equal(t, "c", body)
}

// recorder is a testing.TB that keeps failures instead of failing the real test.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// run calls fn as a test body would run (Fatalf ends it), then the cleanups, last first.
func (r *recorder) run(fn func(testing.TB)) []string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return r.errs
}

func TestFailedStartStillShutsDownWhatStarted(t *testing.T) {
	j := &journal{}
	rec := &recorder{TB: t}
	errs := rec.run(func(tb testing.TB) {
		StartComponents(tb, &comp{name: "a", j: j}, &comp{name: "b", j: j, startErr: errors.New("port busy")}, &comp{name: "never", j: j})
	})
	assert.Equal(t, []string{"start b: port busy"}, errs)
	assert.Equal(t, []string{"start a", "start b", "stop b", "stop a"}, j.entries(), "the failed one too: Shutdown is safe after a failed Start")
}

func TestShutdownErrorFailsTheTest(t *testing.T) {
	rec := &recorder{TB: t}
	errs := rec.run(func(tb testing.TB) {
		StartComponents(tb, &comp{name: "a", j: &journal{}, shutdownErr: errors.New("flush lost")})
	})
	assert.Equal(t, []string{"shutdown a: flush lost"}, errs)
}
