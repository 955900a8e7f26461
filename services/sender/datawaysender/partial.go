package datawaysender

import "sync"

// A bus message is acked or naked whole, but its points can land in several bodies (a
// message larger than what is left of max_raw_body_size) and one body can fail while the
// others are accepted. partials remembers, for a message naked that way, which of its
// points Dataway already has, so the redelivery sends only the rest instead of the
// accepted part a second time. It is a best effort within one process: a restart, or a
// redelivery to another sender instance, still repeats them (delivery stays at least
// once, as DataKit's is).
type partials struct {
	mu    sync.Mutex
	max   int
	done  map[partialKey][]bool
	order []partialKey // insertion order, for evicting the oldest; may hold removed keys
}

// partialKey names a message across redeliveries: its stream sequence within a pipe.
type partialKey struct {
	pipe string
	seq  uint64
}

func newPartials(max int) *partials {
	return &partials{max: max, done: map[partialKey][]bool{}}
}

// get returns the delivered flags recorded for k when they describe n points.
func (p *partials) get(k partialKey, n int) []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.done[k]
	if len(d) != n {
		return nil
	}
	return d
}

// put records done for k, evicting the oldest records beyond max: forgetting one only
// costs duplicates, never loss.
func (p *partials) put(k partialKey, done []bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.done[k]; !ok {
		p.order = append(p.order, k)
	}
	p.done[k] = done
	for len(p.done) > p.max && len(p.order) > 0 {
		delete(p.done, p.order[0])
		p.order = p.order[1:]
	}
	if len(p.order) > 2*p.max+16 {
		live := p.order[:0]
		for _, o := range p.order {
			if _, ok := p.done[o]; ok {
				live = append(live, o)
			}
		}
		p.order = live
	}
}

func (p *partials) drop(k partialKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.done, k)
}

func (p *partials) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.done)
}
