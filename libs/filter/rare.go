package filter

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// RareBucket is the NATS KV bucket of the shared keep-rare seen-set; its TTL is RareWindow,
// so a key's presence means "seen within the last hour".
const RareBucket = "tracekit_rare_resource"

// rareEntry is one key of the LRU: an intrusive list node, so an observation allocates
// nothing once the key is known.
type rareEntry struct {
	key        RareKey
	seen       int64 // unix nanos of the last observation
	synced     int64 // unix nanos of the last write to the shared set (shared mode)
	prev, next *rareEntry
}

// LRU is a bounded seen-set: DataKit's keep-rare memory (an unbounded sync.Map) with a cap;
// when full, the least recently seen key is forgotten, so a later sighting of it counts as
// rare again.
type LRU struct {
	mu      sync.Mutex
	max     int
	entries map[RareKey]*rareEntry
	head    rareEntry // sentinel: head.next is the most recent
	m       rareMetrics
}

type rareMetrics struct {
	rare, seen, evictions, sharedErrors prometheus.Counter
	keys                                prometheus.Gauge
}

// NewLRU returns an empty seen-set holding at most max keys (max < 1 means 1).
func NewLRU(max int) *LRU {
	l := &LRU{entries: map[RareKey]*rareEntry{}, m: nopRareMetrics()}
	l.head.next, l.head.prev = &l.head, &l.head
	l.SetMax(max)
	return l
}

// SetMax changes the cap (a reload of rare_resource_max_keys), evicting what no longer fits.
func (l *LRU) SetMax(max int) {
	if max < 1 {
		max = 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max
	l.trim()
}

// Len is the number of keys held.
func (l *LRU) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Observe implements SeenSet.
func (l *LRU) Observe(_ context.Context, key RareKey, now time.Time) bool {
	prev, found := l.touch(key, now.UnixNano())
	rare := !found || now.UnixNano()-prev.seen >= int64(RareWindow)
	l.count(rare)
	return rare
}

func (l *LRU) count(rare bool) {
	if rare {
		l.m.rare.Inc()
	} else {
		l.m.seen.Inc()
	}
}

// touch records key as seen at now and returns its previous state.
func (l *LRU) touch(key RareKey, now int64) (rareEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		old := *e
		e.seen = now
		l.unlink(e)
		l.pushFront(e)
		return old, true
	}
	e := &rareEntry{key: key, seen: now}
	l.entries[key] = e
	l.pushFront(e)
	l.trim()
	l.m.keys.Set(float64(len(l.entries)))
	return rareEntry{}, false
}

func (l *LRU) markSynced(key RareKey, now int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		e.synced = now
	}
}

func (l *LRU) trim() {
	for len(l.entries) > l.max {
		last := l.head.prev
		l.unlink(last)
		delete(l.entries, last.key)
		l.m.evictions.Inc()
	}
	l.m.keys.Set(float64(len(l.entries)))
}

func (l *LRU) unlink(e *rareEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (l *LRU) pushFront(e *rareEntry) {
	e.prev, e.next = &l.head, l.head.next
	l.head.next.prev = e
	l.head.next = e
}

// sharedRefresh is how often an instance that keeps seeing a key re-writes it to the shared
// set, so the key's TTL there keeps restarting while the resource is busy.
const sharedRefresh = time.Minute

// sharedOpTimeout bounds one KV round trip; past it the local answer is used.
const sharedOpTimeout = 2 * time.Second

// Shared is a seen-set in a NATS KV bucket, so that every filter instance agrees on what is
// rare: the first instance to create a key keeps the trace, the others see it. A local LRU
// in front answers for keys this instance saw within the window (seen here means seen
// everywhere), so only first sightings and a refresh per key per minute reach NATS. When
// NATS does not answer, the local answer stands (logged and counted).
type Shared struct {
	local  *LRU
	kv     jetstream.KeyValue
	prefix string
	log    *slog.Logger
}

// NewShared is a shared seen-set for one input over an existing bucket; local bounds the
// in-process part.
func NewShared(kv jetstream.KeyValue, input string, local *LRU, log *slog.Logger) *Shared {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Shared{local: local, kv: kv, prefix: kvToken(input) + ".", log: log}
}

// Observe implements SeenSet.
func (s *Shared) Observe(ctx context.Context, key RareKey, now time.Time) bool {
	t := now.UnixNano()
	prev, found := s.local.touch(key, t)
	name := s.prefix + hex.EncodeToString(key[:])
	if found && t-prev.seen < int64(RareWindow) {
		if t-prev.synced >= int64(sharedRefresh) && s.put(ctx, name, t) {
			s.local.markSynced(key, t)
		}
		s.local.count(false)
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, sharedOpTimeout)
	defer cancel()
	_, err := s.kv.Create(ctx, name, stamp(t))
	switch {
	case err == nil:
		s.local.markSynced(key, t)
		s.local.count(true)
		return true
	case errors.Is(err, jetstream.ErrKeyExists):
		// Another instance saw it within the hour; restart its TTL as DataKit re-stamps a
		// key on every sighting.
		if s.put(ctx, name, t) {
			s.local.markSynced(key, t)
		}
		s.local.count(false)
		return false
	default:
		s.local.m.sharedErrors.Inc()
		s.log.Warn("shared rare-resource set unavailable; deciding locally", "err", err)
		s.local.count(true)
		return true
	}
}

func (s *Shared) put(ctx context.Context, name string, t int64) bool {
	ctx, cancel := context.WithTimeout(ctx, sharedOpTimeout)
	defer cancel()
	if _, err := s.kv.Put(ctx, name, stamp(t)); err != nil {
		s.local.m.sharedErrors.Inc()
		s.log.Warn("refresh of a shared rare-resource key failed", "err", err)
		return false
	}
	return true
}

func stamp(t int64) []byte { return strconv.AppendInt(nil, t/int64(time.Millisecond), 10) }

// kvToken makes an input name ("ddtrace#1") a valid KV key token.
func kvToken(input string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, input)
}

// RareBucketConfig is the KV bucket of the shared seen-set.
func RareBucketConfig(replicas int) jetstream.KeyValueConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.KeyValueConfig{
		Bucket:      RareBucket,
		Description: "tracekit keep_rare_resource seen-set (rare_resource_shared)",
		TTL:         RareWindow,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}
