// Package filter is DataKit's tracing filter chain (datakit-spec §2, ARCHITECTURE §5): per
// input, in the documented order error penetration → close resource → omit status code →
// keep rare resource → sampler, each filter able to end the chain, plus the client's sampling
// priority and trace_max_spans.
package filter

import (
	"context"
	"crypto/md5"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Verdict is one filter's answer about one trace.
type Verdict uint8

// Verdicts. Keep and Drop end the chain, as DataKit's (trace, true) and (nil, true).
const (
	Continue Verdict = iota
	Keep
	Drop
)

func (v Verdict) String() string {
	switch v {
	case Keep:
		return "keep"
	case Drop:
		return "drop"
	}
	return "continue"
}

// Func is one filter. It sees whole traces, never empty ones, and may annotate them (the
// sampler adds dk_sampling_rate to the first span). It must be safe for concurrent use.
type Func func(ctx context.Context, t *spanv1.DatakitTrace) Verdict

// Filter names: the `filter` label of the metrics and what Chain.Filters lists.
const (
	NamePriority         = "priority"
	NameErrorPenetration = "error_penetration"
	NameCloseResource    = "close_resource"
	NameOmitErrStatus    = "omit_err_status"
	NameKeepRareResource = "keep_rare_resource"
	NameSampler          = "sampler"
	// NameEnd labels traces no filter decided about: they are kept.
	NameEnd = "end"
	// NameEmpty labels traces without spans, which DataKit's filters drop.
	NameEmpty = "empty"
	// NameTraceMaxSpans labels the spans cut from kept traces longer than trace_max_spans.
	NameTraceMaxSpans = "trace_max_spans"
)

// Client sampling priorities (DDTrace semantics, datakit-spec §2.4).
const (
	PriorityRuleReject int32 = -3
	PriorityUserReject int32 = -1
	PriorityAutoReject int32 = 0
	PriorityAutoKeep   int32 = 1
	PriorityUserKeep   int32 = 2
	PriorityRuleKeep   int32 = 3
)

// DDTrace's receiver writes the priority as tag sampling_rate (DDPriorityMap).
var priorityTags = map[string]int32{
	"user_keep":    PriorityUserKeep,
	"sampler_keep": PriorityAutoKeep,
	"user_drop":    PriorityUserReject,
	"sampler_drop": PriorityAutoReject,
}

// ClientPriority is the trace's client decision: that of the first span carrying one,
// either as sampling_priority or as DDTrace's sampling_rate tag. A tracer stamps the
// priority on its local root, which is not always the first span of a chunk, so the spans
// before it are looked past.
func ClientPriority(t *spanv1.DatakitTrace) (int32, bool) {
	for _, s := range t.GetSpans() {
		if s.SamplingPriority != nil {
			return *s.SamplingPriority, true
		}
		if tag, ok := s.Tags["sampling_rate"]; ok {
			if p, ok := priorityTags[tag]; ok {
				return p, true
			}
		}
	}
	return 0, false
}

// PriorityReject drops the traces the client rejected (user, auto or rule reject), before
// any other filter: DataKit's DDTrace receiver discards them at decode time.
func PriorityReject() Func {
	return func(_ context.Context, t *spanv1.DatakitTrace) Verdict {
		if p, ok := ClientPriority(t); ok && p <= PriorityAutoReject {
			return Drop
		}
		return Continue
	}
}

// PriorityKeep keeps what the user asked to keep; it runs just before the sampler, where
// DataKit's sampler honours user_keep. Auto and rule keep still go through the sampler, as
// in DataKit.
func PriorityKeep() Func {
	return func(_ context.Context, t *spanv1.DatakitTrace) Verdict {
		if p, ok := ClientPriority(t); ok && p == PriorityUserKeep {
			return Keep
		}
		return Continue
	}
}

// ErrorPenetration keeps a trace with any span of status error or critical.
func ErrorPenetration() Func {
	return func(_ context.Context, t *spanv1.DatakitTrace) Verdict {
		for _, s := range t.Spans {
			if s.Status == spanmodel.StatusError || s.Status == spanmodel.StatusCritical {
				return Keep
			}
		}
		return Continue
	}
}

// CloseResource drops a trace when any span's resource matches a regex of its service (or
// of "*", every service). The regexes stay separate rather than joined in one alternation,
// which would lose the cheap rejection by literal prefix that most rules (^GET /health)
// allow.
func CloseResource(rules map[string][]string) (Func, error) {
	var all []matcher
	bySvc := map[string][]matcher{}
	svcs := make([]string, 0, len(rules))
	for svc := range rules {
		svcs = append(svcs, svc)
	}
	sort.Strings(svcs)
	for _, svc := range svcs {
		for i, r := range rules[svc] {
			m, err := newMatcher(r)
			if err != nil {
				return nil, fmt.Errorf("close_resource.%s[%d]: %w", svc, i, err)
			}
			if svc == "*" {
				all = append(all, m)
			} else {
				bySvc[svc] = append(bySvc[svc], m)
			}
		}
	}
	if len(all) == 0 && len(bySvc) == 0 {
		return nil, nil
	}
	return func(_ context.Context, t *spanv1.DatakitTrace) Verdict {
		for _, s := range t.Spans {
			if anyMatch(all, s.Resource) || anyMatch(bySvc[s.Service], s.Resource) {
				return Drop
			}
		}
		return Continue
	}, nil
}

func anyMatch(ms []matcher, s string) bool {
	for i := range ms {
		if ms[i].match(s) {
			return true
		}
	}
	return false
}

// matcher is a regexp with, when it is anchored at the start of the text, its literal
// prefix: a resource without that prefix is rejected without running the regexp.
type matcher struct {
	re     *regexp.Regexp
	prefix string
}

func newMatcher(expr string) (matcher, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return matcher{}, err
	}
	m := matcher{re: re}
	if anchoredAtStart(expr) {
		m.prefix, _ = re.LiteralPrefix()
	}
	return m, nil
}

func (m *matcher) match(s string) bool {
	if m.prefix != "" && !strings.HasPrefix(s, m.prefix) {
		return false
	}
	return m.re.MatchString(s)
}

// anchoredAtStart reports whether every match of expr must start at the beginning of the
// text (a leading ^ or \A outside multi-line mode).
func anchoredAtStart(expr string) bool {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return false
	}
	re = re.Simplify()
	for re.Op == syntax.OpConcat || re.Op == syntax.OpCapture {
		if len(re.Sub) == 0 {
			return false
		}
		re = re.Sub[0]
	}
	return re.Op == syntax.OpBeginText
}

// OmitErrStatus drops a trace when any span's http_status_code is listed. Unlike DataKit it
// looks at every span, not only source_type web ones, so it works for every source
// (ARCHITECTURE §5). Running after error penetration, it never drops an error trace.
func OmitErrStatus(codes []string) Func {
	if len(codes) == 0 {
		return nil
	}
	set := make(map[string]struct{}, len(codes))
	for _, c := range codes {
		set[strings.TrimSpace(c)] = struct{}{}
	}
	return func(_ context.Context, t *spanv1.DatakitTrace) Verdict {
		for _, s := range t.Spans {
			if code, ok := statusCode(s); ok {
				if _, omit := set[code]; omit {
					return Drop
				}
			}
		}
		return Continue
	}
}

// statusCode reads http_status_code from the tags, or from the fields where OpenTelemetry
// promotes a non-integer attribute.
func statusCode(s *spanv1.DatakitSpan) (string, bool) {
	if c, ok := s.Tags["http_status_code"]; ok {
		return c, true
	}
	f, ok := s.Fields["http_status_code"]
	if !ok {
		return "", false
	}
	switch v := f.Kind.(type) {
	case *spanv1.FieldValue_S:
		return v.S, true
	case *spanv1.FieldValue_I:
		return strconv.FormatInt(v.I, 10), true
	case *spanv1.FieldValue_U:
		return strconv.FormatUint(v.U, 10), true
	}
	return "", false
}

// RareWindow is how long a resource stays "seen" (DataKit's hard-coded hour).
const RareWindow = time.Hour

// RareKey is DataKit's keep-rare key: MD5 of service + resource + source_type.
type RareKey [md5.Size]byte

// SeenSet remembers the rare-resource keys. Observe records key as seen at now and reports
// whether it was rare: never seen, or last seen at least RareWindow ago.
type SeenSet interface {
	Observe(ctx context.Context, key RareKey, now time.Time) (rare bool)
}

// KeepRareResource keeps a trace whose first entry span's service, resource and
// source_type were not seen within the last hour; a trace without an entry span passes on.
func KeepRareResource(seen SeenSet, now func() time.Time) Func {
	return func(ctx context.Context, t *spanv1.DatakitTrace) Verdict {
		for _, s := range t.Spans {
			if s.SpanType != spanmodel.SpanTypeEntry {
				continue
			}
			if seen.Observe(ctx, rareKey(s), now()) {
				return Keep
			}
			return Continue
		}
		return Continue
	}
}

func rareKey(s *spanv1.DatakitSpan) RareKey {
	n := len(s.Service) + len(s.Resource) + len(s.SourceType)
	var stack [256]byte
	buf := stack[:0]
	if n > len(stack) {
		buf = make([]byte, 0, n)
	}
	buf = append(buf, s.Service...)
	buf = append(buf, s.Resource...)
	buf = append(buf, s.SourceType...)
	return md5.Sum(buf)
}

// SamplingRateField is the float field the sampler adds to the first span, as DataKit.
const SamplingRateField = "dk_sampling_rate"

// Sampler keeps a trace iff UnifyToUint64ID(trace_id of the first span) % 10000 is below
// rate × 10000: every instance, and every DataKit, takes the same decision for an id.
// Unlike DataKit's `<=` the comparison is strict, so rate 0 keeps nothing and 0.3 keeps
// exactly 3000 of every 10000 residues; the threshold is rounded so 0.29 is 2900, not 2899.
func Sampler(rate float64) (Func, error) {
	if math.IsNaN(rate) || rate < 0 || rate > 1 {
		return nil, fmt.Errorf("sampler.sampling_rate: must be within [0, 1], got %v", rate)
	}
	threshold := uint64(math.Round(rate * 10000))
	return func(_ context.Context, t *spanv1.DatakitTrace) Verdict {
		first := t.Spans[0]
		if first.Fields == nil {
			first.Fields = map[string]*spanv1.FieldValue{}
		}
		first.Fields[SamplingRateField] = &spanv1.FieldValue{Kind: &spanv1.FieldValue_F{F: rate}}
		if SampleID(first.TraceId, threshold) {
			return Keep
		}
		return Drop
	}, nil
}

// SampleID is the sampler's decision for one trace id and a threshold out of 10000.
func SampleID(traceID string, threshold uint64) bool {
	return spanmodel.UnifyToUint64ID(traceID)%10000 < threshold
}
