package filter

import (
	"context"
	"crypto/md5"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/bus"
	"github.com/tracekit/tracekit/libs/bus/bustest"
	"github.com/tracekit/tracekit/libs/config"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

func key(i int) RareKey { return md5.Sum([]byte(fmt.Sprint(i))) }

func TestLRUEvictsLeastRecentlySeen(t *testing.T) {
	b := NewBuilder(Options{Registerer: prometheus.NewRegistry()})
	l := NewLRU(3)
	l.m = b.m.rareFor("x")
	ctx := context.Background()
	now := time.Unix(100, 0)
	for i := 0; i < 3; i++ {
		require.True(t, l.Observe(ctx, key(i), now))
	}
	require.False(t, l.Observe(ctx, key(0), now), "0 becomes the most recent")
	require.True(t, l.Observe(ctx, key(3), now), "evicts 1, the least recent")
	assert.Equal(t, 3, l.Len())
	assert.False(t, l.Observe(ctx, key(0), now))
	assert.False(t, l.Observe(ctx, key(2), now))
	assert.True(t, l.Observe(ctx, key(1), now), "1 was evicted: rare again")

	assert.InDelta(t, 2, testutil.ToFloat64(b.m.rareEvictions.WithLabelValues("x")), 0)
	assert.InDelta(t, 5, testutil.ToFloat64(b.m.rare.WithLabelValues("x", "rare")), 0)
	assert.InDelta(t, 3, testutil.ToFloat64(b.m.rare.WithLabelValues("x", "seen")), 0)
	assert.InDelta(t, 3, testutil.ToFloat64(b.m.rareKeys.WithLabelValues("x")), 0)

	l.SetMax(1)
	assert.Equal(t, 1, l.Len())
	assert.False(t, l.Observe(ctx, key(1), now), "the most recent key survives a shrink")
}

func TestLRUBoundedUnderLoad(t *testing.T) {
	l := NewLRU(100)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				l.Observe(context.Background(), key(g*10000+i), time.Now())
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 100, l.Len())
}

// sharedPair opens one in-process server with a client port and two bus connections to it,
// as two filter instances would have.
func sharedPair(t *testing.T) (*bus.Bus, *bus.Bus) {
	t.Helper()
	cfg := bustest.Config(t)
	cfg.Listen = freeAddr(t)
	a := bustest.Open(t, cfg)
	ext := config.NewDefaultConfig().Bus
	ext.URL = "nats://" + cfg.Listen
	return a, bustest.Open(t, ext)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

const sharedConfig = `
[[inputs.ddtrace]]
  keep_rare_resource = true
  rare_resource_shared = true
  [inputs.ddtrace.sampler]
    sampling_rate = 0.0
`

// TestSharedRareAgreement: two chains over one NATS server, seeing the same resources at
// the same time, keep each resource's first trace exactly once between them.
func TestSharedRareAgreement(t *testing.T) {
	busA, busB := sharedPair(t)
	var chains []*Chain
	for _, b := range []*bus.Bus{busA, busB} {
		fb := NewBuilder(Options{Registerer: prometheus.NewRegistry(), JetStream: b.JetStream()})
		chains = append(chains, build(t, fb, sharedConfig))
	}
	const resources, rounds = 150, 3
	var mu sync.Mutex
	keptBy := map[string][]int{}
	var wg sync.WaitGroup
	for ci, c := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				for i := 0; i < resources; i++ {
					res := fmt.Sprintf("GET /r%d", i)
					b := &spanv1.TraceBatch{Source: "ddtrace", Input: "ddtrace", Traces: []*spanv1.DatakitTrace{trace(span(entry(), resource(res)))}}
					if kept, _ := c.Apply(context.Background(), b); kept != nil {
						mu.Lock()
						keptBy[res] = append(keptBy[res], ci)
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, keptBy, resources, "every resource was rare once")
	perChain := [2]int{}
	for res, who := range keptBy {
		require.Len(t, who, 1, "%s kept by exactly one instance, got %v", res, who)
		perChain[who[0]]++
	}
	t.Logf("rare kept per instance: %v", perChain)

	// A third instance started later agrees that everything was seen.
	late := build(t, NewBuilder(Options{JetStream: busB.JetStream()}), sharedConfig)
	v, _ := decideOne(late, "ddtrace", trace(span(entry(), resource("GET /r7"))))
	assert.Equal(t, Drop, v, "seen by the others within the hour")
	v, by := decideOne(late, "ddtrace", trace(span(entry(), resource("GET /fresh"))))
	assert.Equal(t, Keep, v)
	assert.Equal(t, NameKeepRareResource, by)

	kv, err := busA.JetStream().KeyValue(context.Background(), RareBucket)
	require.NoError(t, err)
	st, err := kv.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, RareWindow, st.TTL(), "the bucket forgets a key an hour after its last sighting")
}

func TestSharedFallsBackToLocalWhenNATSIsGone(t *testing.T) {
	b, err := bus.Open(context.Background(), bustest.Config(t), bus.Options{})
	require.NoError(t, err)
	kv, err := b.JetStream().CreateOrUpdateKeyValue(context.Background(), RareBucketConfig(1))
	require.NoError(t, err)
	fb := NewBuilder(Options{Registerer: prometheus.NewRegistry()})
	l := NewLRU(10)
	l.m = fb.m.rareFor("ddtrace")
	s := NewShared(kv, "ddtrace#1", l, nil)
	assert.Equal(t, "ddtrace_1.", s.prefix, "input names become valid KV tokens")
	now := time.Unix(100, 0)
	require.True(t, s.Observe(context.Background(), key(1), now))
	require.False(t, s.Observe(context.Background(), key(1), now), "answered locally")

	b.Close()
	assert.True(t, s.Observe(context.Background(), key(2), now), "unknown key and no NATS: rare, locally")
	assert.False(t, s.Observe(context.Background(), key(2), now))
	assert.Positive(t, testutil.ToFloat64(fb.m.rareShared.WithLabelValues("ddtrace")))
}

func TestSharedRefreshesBusyKeys(t *testing.T) {
	b := bustest.Open(t, bustest.Config(t))
	kv, err := b.JetStream().CreateOrUpdateKeyValue(context.Background(), RareBucketConfig(1))
	require.NoError(t, err)
	s := NewShared(kv, "jaeger", NewLRU(10), nil)
	ctx := context.Background()
	now := time.Unix(1000, 0)
	require.True(t, s.Observe(ctx, key(1), now))
	name := "jaeger." + fmt.Sprintf("%x", key(1))
	e, err := kv.Get(ctx, name)
	require.NoError(t, err)
	first := e.Revision()

	s.Observe(ctx, key(1), now.Add(time.Second))
	e, err = kv.Get(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, first, e.Revision(), "no write for a key refreshed a second ago")

	s.Observe(ctx, key(1), now.Add(sharedRefresh+time.Second))
	e, err = kv.Get(ctx, name)
	require.NoError(t, err)
	assert.Greater(t, e.Revision(), first, "a busy key is re-written so its TTL restarts")
}
