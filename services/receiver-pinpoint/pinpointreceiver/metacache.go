package pinpointreceiver

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/telemetry"
	"github.com/tracekit/tracekit/services/receiver-pinpoint/pinpointreceiver/internal/translator"
)

// metaKey is one metadata entry of one agent run: ids restart when an agent restarts, so the
// agent's start time is part of the key.
type metaKey struct {
	agent string // agentid + "^" + starttime
	ref   translator.Ref
}

type metaMetrics struct {
	entries   prometheus.Gauge
	evictions prometheus.Counter
	misses    *prometheus.CounterVec
	waits     *prometheus.CounterVec
}

func newMetaMetrics(reg prometheus.Registerer) *metaMetrics {
	m := &metaMetrics{
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tracekit_pinpoint_metadata_entries", Help: "Pinpoint API/SQL/string metadata entries held in memory.",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tracekit_pinpoint_metadata_evictions_total", Help: "Pinpoint metadata entries evicted by the size cap (least recently used first).",
		}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_pinpoint_metadata_misses_total", Help: "Span references to Pinpoint metadata not known at conversion, left as the id, by kind.",
		}, []string{"kind"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_pinpoint_metadata_waits_total", Help: "Spans held for metadata that had not arrived yet, by result (resolved, timeout).",
		}, []string{"result"}),
	}
	if reg != nil {
		m.entries = telemetry.Register(reg, m.entries)
		m.evictions = telemetry.Register(reg, m.evictions)
		m.misses = telemetry.Register(reg, m.misses)
		m.waits = telemetry.Register(reg, m.waits)
	}
	return m
}

type metaEntry struct {
	key metaKey
	val string
}

// metaCache holds the metadata agents send ahead of their spans, bounded by an LRU cap
// over all agents, and lets a span wait a moment for entries still in flight.
type metaCache struct {
	mu      sync.Mutex
	max     int
	ll      *list.List
	items   map[metaKey]*list.Element
	changed chan struct{} // closed and replaced on every store
	// gaveUp remembers references a span already waited for in vain, so an agent that never
	// sends some metadata costs one wait, not one per span.
	gaveUp  map[metaKey]struct{}
	metrics *metaMetrics
}

func newMetaCache(max int, m *metaMetrics) *metaCache {
	return &metaCache{max: max, ll: list.New(), items: map[metaKey]*list.Element{}, changed: make(chan struct{}),
		gaveUp: map[metaKey]struct{}{}, metrics: m}
}

func (c *metaCache) store(agent string, ref translator.Ref, val string) {
	k := metaKey{agent: agent, ref: ref}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.gaveUp, k)
	if el, ok := c.items[k]; ok {
		el.Value.(*metaEntry).val = val
		c.ll.MoveToFront(el)
	} else {
		c.items[k] = c.ll.PushFront(&metaEntry{key: k, val: val})
		for c.ll.Len() > c.max {
			old := c.ll.Back()
			c.ll.Remove(old)
			delete(c.items, old.Value.(*metaEntry).key)
			c.metrics.evictions.Inc()
		}
		c.metrics.entries.Set(float64(c.ll.Len()))
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *metaCache) lookup(agent string, ref translator.Ref) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[metaKey{agent: agent, ref: ref}]
	if !ok {
		return "", false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*metaEntry).val, true
}

// missing returns the references not yet known and not already given up on, and the
// channel that is closed at the next store.
func (c *metaCache) missing(agent string, refs []translator.Ref) ([]translator.Ref, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []translator.Ref
	for _, r := range refs {
		k := metaKey{agent: agent, ref: r}
		if _, ok := c.items[k]; ok {
			continue
		}
		if _, ok := c.gaveUp[k]; ok {
			continue
		}
		out = append(out, r)
	}
	return out, c.changed
}

// wait holds a span up to timeout for metadata it refers to that has not arrived: agents send
// metadata and spans on different connections, so a span can overtake its ApiMetaData.
// After the timeout the span is converted with placeholders (and counted as misses).
func (c *metaCache) wait(ctx context.Context, agent string, refs []translator.Ref, timeout time.Duration) {
	miss, changed := c.missing(agent, refs)
	if len(miss) == 0 || timeout <= 0 {
		return
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-changed:
			if miss, changed = c.missing(agent, miss); len(miss) == 0 {
				c.metrics.waits.WithLabelValues("resolved").Inc()
				return
			}
		case <-timer.C:
			c.giveUp(agent, miss)
			c.metrics.waits.WithLabelValues("timeout").Inc()
			return
		case <-ctx.Done():
			return
		}
	}
}

func (c *metaCache) giveUp(agent string, refs []translator.Ref) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range refs {
		if len(c.gaveUp) >= c.max {
			// Bounded like the cache: forgetting only means one more wait.
			clear(c.gaveUp)
		}
		c.gaveUp[metaKey{agent: agent, ref: r}] = struct{}{}
	}
}

// resolver is one agent's view of the cache.
type resolver struct {
	c     *metaCache
	agent string
}

func (r resolver) Lookup(ref translator.Ref) (string, bool) { return r.c.lookup(r.agent, ref) }
