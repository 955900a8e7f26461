package filter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tracekit/tracekit/libs/config"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Indexes of the names the tallies count by.
const (
	idxEnd = iota
	idxEmpty
	idxPriority
	idxErrorPenetration
	idxCloseResource
	idxOmitErrStatus
	idxKeepRareResource
	idxSampler
	idxTraceMaxSpans
	nIdx
)

var names = [nIdx]string{
	idxEnd:              NameEnd,
	idxEmpty:            NameEmpty,
	idxPriority:         NamePriority,
	idxErrorPenetration: NameErrorPenetration,
	idxCloseResource:    NameCloseResource,
	idxOmitErrStatus:    NameOmitErrStatus,
	idxKeepRareResource: NameKeepRareResource,
	idxSampler:          NameSampler,
	idxTraceMaxSpans:    NameTraceMaxSpans,
}

// dkReasons are datakit_input_drop_number's reason values; DataKit's own sampler drops
// user_drop traces with reason sample, so a client reject counts as sample too.
var dkReasons = [nIdx]string{
	idxEmpty:            "empty",
	idxPriority:         "sample",
	idxCloseResource:    "resource",
	idxOmitErrStatus:    "statusCode",
	idxSampler:          "sample",
	idxTraceMaxSpans:    "trace_max_spans",
	idxEnd:              "",
	idxErrorPenetration: "",
	idxKeepRareResource: "",
}

type step struct {
	idx int
	fn  Func
}

// inputChain is the chain of one [[inputs.<source>]] section.
type inputChain struct {
	steps    []step
	maxSpans int
}

func (ic *inputChain) decide(ctx context.Context, t *spanv1.DatakitTrace) (Verdict, int) {
	if len(t.Spans) == 0 {
		return Drop, idxEmpty
	}
	for _, s := range ic.steps {
		if v := s.fn(ctx, t); v != Continue {
			return v, s.idx
		}
	}
	return Keep, idxEnd
}

// Chain holds the filters of every configured input. It is immutable once built (a reload
// builds a new one) and safe for concurrent use.
type Chain struct {
	inputs   map[string]*inputChain
	fallback *inputChain
	m        *Metrics
	log      *slog.Logger
}

// Filters lists the filters the batches of input go through, in order.
func (c *Chain) Filters(input string) []string {
	ic := c.inputs[input]
	if ic == nil {
		ic = c.fallback
	}
	out := make([]string, len(ic.steps))
	for i, s := range ic.steps {
		out[i] = names[s.idx]
	}
	return out
}

// Apply runs the batch's input chain over every trace and returns what is kept (nil when
// nothing is), with trace_max_spans applied to the kept traces. It annotates and truncates
// the batch's traces in place. commit records the batch in the metrics; the filter stage
// calls it once the result is stored, so a batch redelivered after a failed publish is
// counted once.
func (c *Chain) Apply(ctx context.Context, b *spanv1.TraceBatch) (kept *spanv1.TraceBatch, commit func()) {
	input := b.Input
	if input == "" {
		input = b.Source
	}
	ic := c.inputs[input]
	if ic == nil {
		ic = c.fallback
		c.m.unknownInput.WithLabelValues(input).Inc()
	}
	tl := &tally{m: c.m, source: b.Source, input: input, notes: make([]traceNote, 0, len(b.Traces))}
	var out []*spanv1.DatakitTrace
	changed := false
	for i, t := range b.Traces {
		n := len(t.Spans)
		note := traceNote{drop: -1}
		if n > 0 {
			note.service = t.Spans[0].Service
		}
		tl.traces[0][0]++
		tl.spans[0][0] += n
		v, idx := ic.decide(ctx, t)
		if v == Drop {
			tl.traces[2][idx]++
			tl.spans[2][idx] += n
			note.drop, note.spans = idx, n
			if !changed {
				changed = true
				out = append(make([]*spanv1.DatakitTrace, 0, len(b.Traces)), b.Traces[:i]...)
			}
			tl.notes = append(tl.notes, note)
			continue
		}
		if ic.maxSpans > 0 && n > ic.maxSpans {
			cut := n - ic.maxSpans
			t.Spans = t.Spans[:ic.maxSpans]
			tl.spans[2][idxTraceMaxSpans] += cut
			note.truncated = cut
			n = ic.maxSpans
		}
		tl.traces[1][idx]++
		tl.spans[1][idx] += n
		tl.notes = append(tl.notes, note)
		if changed {
			out = append(out, t)
		}
	}
	if !changed {
		return b, tl.commit
	}
	if len(out) == 0 {
		return nil, tl.commit
	}
	return &spanv1.TraceBatch{Source: b.Source, Input: b.Input, ReceivedUnixNano: b.ReceivedUnixNano, Traces: out}, tl.commit
}

type traceNote struct {
	service   string
	drop      int // index of the dropping filter, -1 when kept
	spans     int // spans dropped with the trace
	truncated int // spans cut by trace_max_spans
}

// tally counts one batch so the counters are touched once per batch and label, not per trace.
type tally struct {
	m             *Metrics
	source, input string
	// [received, kept, dropped][filter]; received uses [0][0] only.
	traces, spans [3][nIdx]int
	notes         []traceNote
}

func (t *tally) commit() {
	verdicts := [3]string{LabelReceived, LabelKept, LabelDropped}
	t.m.traces.WithLabelValues(t.source, LabelReceived, "").Add(float64(t.traces[0][0]))
	t.m.spans.WithLabelValues(t.source, LabelReceived, "").Add(float64(t.spans[0][0]))
	for v := 1; v < 3; v++ {
		for i := 0; i < nIdx; i++ {
			if t.traces[v][i] != 0 {
				t.m.traces.WithLabelValues(t.source, verdicts[v], names[i]).Add(float64(t.traces[v][i]))
			}
			if t.spans[v][i] != 0 {
				t.m.spans.WithLabelValues(t.source, verdicts[v], names[i]).Add(float64(t.spans[v][i]))
			}
		}
	}
	for _, n := range t.notes {
		t.m.dkTracing.WithLabelValues(t.input, n.service).Inc()
		if n.drop >= 0 {
			t.m.dkDrop.WithLabelValues(t.input, n.service, dkReasons[n.drop]).Observe(float64(n.spans))
		}
		if n.truncated > 0 {
			t.m.dkDrop.WithLabelValues(t.input, n.service, dkReasons[idxTraceMaxSpans]).Observe(float64(n.truncated))
		}
	}
}

// Options are the dependencies of a Builder.
type Options struct {
	// Registerer receives the metrics (nil: unregistered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// JetStream holds the shared keep-rare bucket; nil (core mode) refuses rare_resource_shared.
	JetStream jetstream.JetStream
	// Now is the clock of the keep-rare window (tests move it).
	Now func() time.Time
}

// Builder builds chains from configurations. It owns the state that must outlive a reload:
// the keep-rare seen-sets (a reload that reset them would make every resource rare again)
// and the metrics.
type Builder struct {
	o  Options
	m  *Metrics
	mu sync.Mutex
	// rare holds each input's LRU, by input name.
	rare map[string]*LRU
	kv   jetstream.KeyValue
}

// NewBuilder returns a Builder.
func NewBuilder(o Options) *Builder {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Builder{o: o, m: NewMetrics(o.Registerer), rare: map[string]*LRU{}}
}

// sources in a fixed order, so errors come out in a stable order.
var sources = []string{
	config.SourceDDTrace, config.SourceJaeger, config.SourceOpenTelemetry, config.SourceSkyWalking,
	config.SourceZipkin, config.SourceCAT, config.SourcePinpoint,
}

// Build makes the chain of every input section of cfg. An invalid setting fails the whole
// build with the key named, and leaves the state of the previous chain untouched.
func (b *Builder) Build(cfg *config.Config) (*Chain, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := &Chain{inputs: map[string]*inputChain{}, m: b.m, log: b.o.Logger}
	c.fallback = &inputChain{steps: []step{{idxPriority, PriorityReject()}}}
	rare := map[string]*LRU{}
	resize := map[*LRU]int{}
	var errs []error
	for _, src := range sources {
		for i := 0; ; i++ {
			name := config.InputName(src, i)
			tr, ok := cfg.Inputs.TracingFor(name)
			if !ok {
				break
			}
			ic, err := b.buildInput(name, tr, cfg.Bus.Replicas, rare, resize)
			if err != nil {
				errs = append(errs, fmt.Errorf("inputs.%s[%d].%w", src, i, err))
				continue
			}
			c.inputs[name] = ic
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for l, max := range resize {
		l.SetMax(max)
	}
	b.rare = rare
	return c, nil
}

func (b *Builder) buildInput(name string, tr *config.Tracing, replicas int, rare map[string]*LRU, resize map[*LRU]int) (*inputChain, error) {
	if tr.TraceMaxSpans < 0 {
		return nil, errors.New("trace_max_spans: must not be negative")
	}
	ic := &inputChain{maxSpans: tr.TraceMaxSpans}
	ic.steps = append(ic.steps, step{idxPriority, PriorityReject()}, step{idxErrorPenetration, ErrorPenetration()})
	cr, err := CloseResource(tr.CloseResource)
	if err != nil {
		return nil, err
	}
	if cr != nil {
		ic.steps = append(ic.steps, step{idxCloseResource, cr})
	}
	if f := OmitErrStatus(tr.OmitErrStatus); f != nil {
		ic.steps = append(ic.steps, step{idxOmitErrStatus, f})
	}
	if tr.KeepRareResource {
		seen, err := b.seenSet(name, tr, replicas, rare, resize)
		if err != nil {
			return nil, err
		}
		ic.steps = append(ic.steps, step{idxKeepRareResource, KeepRareResource(seen, b.o.Now)})
	}
	if tr.Sampler != nil {
		s, err := Sampler(tr.Sampler.SamplingRate)
		if err != nil {
			return nil, err
		}
		ic.steps = append(ic.steps, step{idxPriority, PriorityKeep()}, step{idxSampler, s})
	}
	return ic, nil
}

func (b *Builder) seenSet(name string, tr *config.Tracing, replicas int, rare map[string]*LRU, resize map[*LRU]int) (SeenSet, error) {
	if tr.RareResourceMaxKeys < 1 {
		return nil, fmt.Errorf("rare_resource_max_keys: must be >= 1, got %d", tr.RareResourceMaxKeys)
	}
	l := b.rare[name]
	if l == nil {
		l = NewLRU(tr.RareResourceMaxKeys)
		l.m = b.m.rareFor(name)
	} else {
		resize[l] = tr.RareResourceMaxKeys
	}
	rare[name] = l
	if !tr.RareResourceShared {
		return l, nil
	}
	if b.o.JetStream == nil {
		return nil, errors.New("rare_resource_shared: needs bus.mode = \"jetstream\" (the seen-set is a NATS KV bucket)")
	}
	if b.kv == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kv, err := b.o.JetStream.CreateOrUpdateKeyValue(ctx, RareBucketConfig(replicas))
		if err != nil {
			return nil, fmt.Errorf("rare_resource_shared: create kv bucket %s: %w", RareBucket, err)
		}
		b.kv = kv
	}
	return NewShared(b.kv, name, l, b.o.Logger), nil
}
