// Package harness starts tracekit's real binaries (from `make build`) as processes on
// loopback, in either topology, next to dataway-sim, and reads back what reached Dataway.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BinDir is where the binaries are: $TRACEKIT_BIN, or bin/ at the repository root.
func BinDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("TRACEKIT_BIN"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the harness source to find bin/")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "bin")
}

// Binary returns the path of a built binary, failing the test with a hint when it is missing.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(BinDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("binary %s not found (run `make build` first, or set TRACEKIT_BIN): %v", p, err)
	}
	return p
}

// FreeAddr returns a loopback address with a port nobody listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// FreeUDPAddr returns a loopback UDP address nobody listens on right now.
func FreeUDPAddr(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free udp port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// Proc is one running binary. Its stderr is kept and printed when the test fails.
type Proc struct {
	Name string
	Path string
	Args []string
	Env  []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	logs   *lockedBuffer
	done   chan struct{}
	exited error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartProc starts a binary from BinDir and stops it (SIGTERM, then SIGKILL) when the test ends.
func StartProc(t testing.TB, name string, args []string, env ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, Path: Binary(t, name), Args: args, Env: env, logs: &lockedBuffer{}}
	p.start(t)
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("---- %s stderr ----\n%s", p.Name, p.Logs())
		}
	})
	return p
}

func (p *Proc) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout = p.logs
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exited = err
		p.mu.Unlock()
		close(done)
	}()
}

// Logs returns everything the process wrote so far (all its runs).
func (p *Proc) Logs() string { return p.logs.String() }

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Exited reports whether the process has exited and, if so, how: nil is exit status 0, an
// *exec.ExitError a failure or death by a signal (Stop had to kill it, or Kill).
func (p *Proc) Exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return true, p.exited
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits (graceful drain); after 20s it kills.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	p.signal(syscall.SIGTERM, 20*time.Second)
}

// Kill is kill -9: no drain, no flush.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	p.signal(syscall.SIGKILL, 10*time.Second)
}

func (p *Proc) signal(sig syscall.Signal, wait time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts the same binary again with the same arguments (after Stop or Kill).
func (p *Proc) Restart(t testing.TB) {
	t.Helper()
	if p.Running() {
		p.Stop(t)
	}
	fmt.Fprintf(p.logs, "---- restart ----\n")
	p.start(t)
}

// WaitHTTP polls url until it answers 200 or the process exits.
func WaitHTTP(t testing.TB, p *Proc, url string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if p != nil && !p.Running() {
			t.Fatalf("%s exited before %s answered:\n%s", p.Name, url, p.Logs())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not answer within %s (last error %v):\n%s", url, timeout, err, logsOf(p))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func logsOf(p *Proc) string {
	if p == nil {
		return ""
	}
	return p.Logs()
}
