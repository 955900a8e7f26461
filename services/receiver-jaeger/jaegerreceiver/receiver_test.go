package jaegerreceiver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tracekit/tracekit/libs/app/apptest"
	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/pipeline"
	"github.com/tracekit/tracekit/libs/pipeline/pipelinetest"
	"github.com/tracekit/tracekit/libs/spanmodel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type started struct {
	url   string
	recvs []*Receiver
}

func start(t *testing.T, next pipeline.Consumer, sections ...config.Jaeger) started {
	t.Helper()
	if len(sections) == 0 {
		sections = []config.Jaeger{{}}
	}
	comps, err := Components(&config.Config{Inputs: config.Inputs{Jaeger: sections}}, next)
	require.NoError(t, err)
	var out started
	for _, c := range comps {
		r := c.(*Receiver)
		r.now = func() time.Time { return time.Unix(0, 42) }
		out.recvs = append(out.recvs, r)
	}
	out.url, _ = apptest.StartComponents(t, comps...)
	return out
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("internal", "translator", "testdata", name))
	require.NoError(t, err)
	return b
}

func post(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/x-thrift", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func TestHTTPBatch(t *testing.T) {
	s := &pipelinetest.Sink{}
	st := start(t, s, config.Jaeger{Tracing: config.Tracing{Tags: map[string]string{"cluster": "c1"}}})
	code, msg := post(t, st.url+"/apis/traces", fixture(t, "shop.batch.thrift"))
	require.Equal(t, http.StatusOK, code, msg)
	got := s.Batches()
	require.Len(t, got, 1)
	assert.Equal(t, "jaeger", got[0].Source)
	assert.Equal(t, "jaeger", got[0].Input)
	assert.Equal(t, int64(42), got[0].ReceivedUnixNano)
	assert.Equal(t, 5, spanmodel.SpanCount(got[0]))
	assert.Equal(t, "c1", got[0].Traces[0].Spans[0].Tags["cluster"])
}

func TestHTTPBadInput(t *testing.T) {
	s := &pipelinetest.Sink{}
	st := start(t, s)
	good := fixture(t, "shop.batch.thrift")
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"garbage", []byte("not thrift at all"), "invalid jaeger thrift Batch"},
		{"truncated", good[:len(good)/2], "payload truncated"},
		{"empty", nil, "invalid jaeger thrift Batch"},
	}
	for _, tt := range tests {
		code, msg := post(t, st.url+"/apis/traces", tt.body)
		assert.Equal(t, http.StatusBadRequest, code, tt.name)
		assert.Contains(t, msg, tt.want, tt.name)
	}
	assert.Empty(t, s.Batches())
}

func TestHTTPTransientErrorIs503(t *testing.T) {
	s := &pipelinetest.Sink{}
	s.SetErr(errors.New("nats: no responders"))
	st := start(t, s)
	code, msg := post(t, st.url+"/apis/traces", fixture(t, "shop.batch.thrift"))
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, msg, "no responders")
}

func TestHTTPFullPoolIs429(t *testing.T) {
	next := &pipelinetest.Sink{}
	release := next.Block()
	st := start(t, next, config.Jaeger{Tracing: config.Tracing{Threads: &config.Threads{Threads: 1, Buffer: 1}}})
	body := fixture(t, "shop.batch.thrift")
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			code, _ := post(t, st.url+"/apis/traces", body)
			codes <- code
		}()
	}
	require.Eventually(t, func() bool { return next.Calls() == 1 }, 5*time.Second, 5*time.Millisecond, "one in the consumer")
	require.Eventually(t, func() bool { return st.recvs[0].pool.Admitted() == 2 }, 5*time.Second, 5*time.Millisecond, "one running, one queued")
	code, msg := post(t, st.url+"/apis/traces", body)
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Contains(t, msg, "worker-pool busy")
	release()
	assert.Equal(t, http.StatusOK, <-codes)
	assert.Equal(t, http.StatusOK, <-codes)
}

func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}

func send(t *testing.T, addr string, datagram []byte) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(datagram)
	require.NoError(t, err)
}

func TestUDPCompactAndBinary(t *testing.T) {
	s := &pipelinetest.Sink{}
	compact, binary := freeUDP(t), freeUDP(t)
	start(t, s, config.Jaeger{Address: compact, BinaryAddress: binary})
	send(t, compact, fixture(t, "shop.compact.udp"))
	send(t, binary, fixture(t, "shop.binary.udp"))
	require.Eventually(t, func() bool { return len(s.Batches()) == 2 }, 5*time.Second, 5*time.Millisecond)
	for _, b := range s.Batches() {
		assert.Equal(t, 5, spanmodel.SpanCount(b))
		assert.Equal(t, "jaeger", b.Input)
	}
}

func counterValue(t *testing.T, r *Receiver, reason string) float64 {
	var m dto.Metric
	require.NoError(t, r.dropped.WithLabelValues("jaeger", "udp_compact", reason).Write(&m))
	return m.GetCounter().GetValue()
}

func TestUDPDropsAreCounted(t *testing.T) {
	s := &pipelinetest.Sink{}
	compact := freeUDP(t)
	good := fixture(t, "shop.compact.udp")
	st := start(t, s, config.Jaeger{Address: compact, UDPBuffer: len(good)})
	r := st.recvs[0]
	count := func(reason string) float64 {
		return counterValue(t, r, reason)
	}

	send(t, compact, append(append([]byte(nil), good...), 0)) // one byte over udp_buffer
	require.Eventually(t, func() bool { return count(dropOversize) == 1 }, 5*time.Second, 5*time.Millisecond)

	send(t, compact, good[:len(good)-7])
	require.Eventually(t, func() bool { return count(dropTruncated) == 1 }, 5*time.Second, 5*time.Millisecond)

	send(t, compact, []byte("\x82\x81\x01\x09emitZipkinBatch")) // a compact call of another method
	send(t, compact, []byte("garbage"))
	require.Eventually(t, func() bool { return count(dropUndecodable) == 2 }, 5*time.Second, 5*time.Millisecond)

	send(t, compact, good) // exactly udp_buffer bytes still fits
	require.Eventually(t, func() bool { return len(s.Batches()) == 1 }, 5*time.Second, 5*time.Millisecond)
}

func TestUDPRefusedByBusIsCounted(t *testing.T) {
	compact := freeUDP(t)
	s := &pipelinetest.Sink{}
	s.SetErr(errors.New("nats: timeout"))
	st := start(t, s, config.Jaeger{Address: compact})
	send(t, compact, fixture(t, "shop.compact.udp"))
	require.Eventually(t, func() bool {
		return counterValue(t, st.recvs[0], dropRefused) == 1
	}, 5*time.Second, 5*time.Millisecond)
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	comps, err := Components(&config.Config{Inputs: config.Inputs{Jaeger: []config.Jaeger{{Address: c.LocalAddr().String()}}}}, &pipelinetest.Sink{})
	require.NoError(t, err)
	err = comps[0].Start(context.Background(), apptest.NewHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "jaeger address")
	require.NoError(t, comps[0].Shutdown(context.Background()))
}

func TestNoSectionNoReceiver(t *testing.T) {
	comps, err := Components(&config.Config{}, &pipelinetest.Sink{})
	require.NoError(t, err)
	assert.Empty(t, comps)
	_, err = Components(&config.Config{Inputs: config.Inputs{Jaeger: []config.Jaeger{{Tracing: config.Tracing{IgnoreTags: []string{"["}}}}}}, &pipelinetest.Sink{})
	assert.ErrorContains(t, err, "inputs.jaeger[0].ignore_tags[0]")
}
