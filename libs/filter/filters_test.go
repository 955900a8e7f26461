package filter

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sp is a span option.
type sp func(*spanv1.DatakitSpan)

func status(s string) sp      { return func(x *spanv1.DatakitSpan) { x.Status = s } }
func resource(r string) sp    { return func(x *spanv1.DatakitSpan) { x.Resource = r } }
func service(s string) sp     { return func(x *spanv1.DatakitSpan) { x.Service = s } }
func entry() sp               { return func(x *spanv1.DatakitSpan) { x.SpanType = spanmodel.SpanTypeEntry } }
func priority(p int32) sp     { return func(x *spanv1.DatakitSpan) { x.SamplingPriority = &p } }
func tag(k, v string) sp      { return func(x *spanv1.DatakitSpan) { setTag(x, k, v) } }
func httpCode(c string) sp    { return tag("http_status_code", c) }
func sourceType(st string) sp { return func(x *spanv1.DatakitSpan) { x.SourceType = st } }
func field(k string, v *spanv1.FieldValue) sp {
	return func(x *spanv1.DatakitSpan) {
		if x.Fields == nil {
			x.Fields = map[string]*spanv1.FieldValue{}
		}
		x.Fields[k] = v
	}
}

func setTag(x *spanv1.DatakitSpan, k, v string) {
	if x.Tags == nil {
		x.Tags = map[string]string{}
	}
	x.Tags[k] = v
}

func span(opts ...sp) *spanv1.DatakitSpan {
	s := &spanv1.DatakitSpan{TraceId: "1", SpanId: "1", Service: "svc", Resource: "GET /", Status: spanmodel.StatusOK, SpanType: spanmodel.SpanTypeLocal, SourceType: spanmodel.SourceTypeWeb}
	for _, o := range opts {
		o(s)
	}
	return s
}

func trace(spans ...*spanv1.DatakitSpan) *spanv1.DatakitTrace {
	for i, s := range spans {
		s.SpanId = strconv.Itoa(i + 1)
	}
	return &spanv1.DatakitTrace{Spans: spans}
}

func withID(id string, t *spanv1.DatakitTrace) *spanv1.DatakitTrace {
	for _, s := range t.Spans {
		s.TraceId = id
	}
	return t
}

func TestErrorPenetration(t *testing.T) {
	f := ErrorPenetration()
	tests := []struct {
		name string
		tr   *spanv1.DatakitTrace
		want Verdict
	}{
		{"all ok", trace(span(), span()), Continue},
		{"error on a child", trace(span(), span(status("error"))), Keep},
		{"critical", trace(span(status("critical"))), Keep},
		{"warning is not an error", trace(span(status("warning"))), Continue},
		{"info", trace(span(status("info"))), Continue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, f(context.Background(), tt.tr)) })
	}
}

func TestCloseResource(t *testing.T) {
	f, err := CloseResource(map[string][]string{
		"*":     {"^GET /healthz$"},
		"login": {"^POST /auth", "ping"},
		"empty": {},
	})
	require.NoError(t, err)
	tests := []struct {
		name string
		tr   *spanv1.DatakitTrace
		want Verdict
	}{
		{"no match", trace(span(resource("GET /api"))), Continue},
		{"star matches any service", trace(span(service("a"), resource("GET /healthz"))), Drop},
		{"star is anchored as written", trace(span(resource("GET /healthz/x"))), Continue},
		{"service rule", trace(span(service("login"), resource("POST /auth/token"))), Drop},
		{"second regex of the service", trace(span(service("login"), resource("x ping y"))), Drop},
		{"service rule does not apply to others", trace(span(service("other"), resource("POST /auth/token"))), Continue},
		{"any span, not only the root", trace(span(), span(service("login"), resource("ping"))), Drop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, f(context.Background(), tt.tr)) })
	}

	none, err := CloseResource(map[string][]string{"svc": nil})
	require.NoError(t, err)
	assert.Nil(t, none, "no regex: no filter")

	_, err = CloseResource(map[string][]string{"svc": {"ok", "("}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "close_resource.svc[1]")
}

func TestOmitErrStatus(t *testing.T) {
	f := OmitErrStatus([]string{"404", " 500"})
	tests := []struct {
		name string
		tr   *spanv1.DatakitTrace
		want Verdict
	}{
		{"no code", trace(span()), Continue},
		{"code not listed", trace(span(httpCode("200"))), Continue},
		{"listed code on a child", trace(span(httpCode("200")), span(httpCode("404"))), Drop},
		{"listed after trimming", trace(span(httpCode("500"))), Drop},
		{"any source type, not only web", trace(span(sourceType(spanmodel.SourceTypeCustom), httpCode("404"))), Drop},
		{"int field (promoted attribute)", trace(span(field("http_status_code", &spanv1.FieldValue{Kind: &spanv1.FieldValue_I{I: 404}}))), Drop},
		{"string field", trace(span(field("http_status_code", &spanv1.FieldValue{Kind: &spanv1.FieldValue_S{S: "500"}}))), Drop},
		{"float field is not a code", trace(span(field("http_status_code", &spanv1.FieldValue{Kind: &spanv1.FieldValue_F{F: 404}}))), Continue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, f(context.Background(), tt.tr)) })
	}
	assert.Nil(t, OmitErrStatus(nil))
}

func TestClientPriority(t *testing.T) {
	tests := []struct {
		name string
		tr   *spanv1.DatakitTrace
		want int32
		ok   bool
	}{
		{"none", trace(span(), span()), 0, false},
		{"field on the first span", trace(span(priority(2)), span(priority(-1))), 2, true},
		{"the first span carrying one", trace(span(), span(priority(-1))), -1, true},
		{"ddtrace tag user_keep", trace(span(tag("sampling_rate", "user_keep"))), 2, true},
		{"ddtrace tag sampler_keep", trace(span(tag("sampling_rate", "sampler_keep"))), 1, true},
		{"ddtrace tag user_drop", trace(span(tag("sampling_rate", "user_drop"))), -1, true},
		{"ddtrace tag sampler_drop", trace(span(tag("sampling_rate", "sampler_drop"))), 0, true},
		{"unknown tag value is no priority", trace(span(tag("sampling_rate", "0.5"))), 0, false},
		{"field wins over the tag of the same span", trace(span(priority(0), tag("sampling_rate", "user_keep"))), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := ClientPriority(tt.tr)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, p)
		})
	}
}

func TestPriorityFilters(t *testing.T) {
	reject, keep := PriorityReject(), PriorityKeep()
	tests := []struct {
		p                    int32
		wantReject, wantKeep Verdict
	}{
		{PriorityRuleReject, Drop, Continue},
		{PriorityUserReject, Drop, Continue},
		{PriorityAutoReject, Drop, Continue},
		{PriorityAutoKeep, Continue, Continue},
		{PriorityUserKeep, Continue, Keep},
		{PriorityRuleKeep, Continue, Continue},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(int(tt.p)), func(t *testing.T) {
			tr := trace(span(priority(tt.p)))
			assert.Equal(t, tt.wantReject, reject(context.Background(), tr))
			assert.Equal(t, tt.wantKeep, keep(context.Background(), tr))
		})
	}
	assert.Equal(t, Continue, reject(context.Background(), trace(span())))
	assert.Equal(t, Continue, keep(context.Background(), trace(span())))
}

func TestKeepRareResource(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	f := KeepRareResource(NewLRU(10), clock)
	ctx := context.Background()

	a := func() *spanv1.DatakitTrace { return trace(span(), span(entry(), resource("GET /a"))) }
	assert.Equal(t, Keep, f(ctx, a()), "first sighting is rare")
	assert.Equal(t, Continue, f(ctx, a()), "seen")
	now = now.Add(RareWindow - time.Second)
	assert.Equal(t, Continue, f(ctx, a()), "seen within the hour; the sighting restarts the hour")
	now = now.Add(RareWindow - time.Second)
	assert.Equal(t, Continue, f(ctx, a()), "re-stamped on every sighting")
	now = now.Add(RareWindow)
	assert.Equal(t, Keep, f(ctx, a()), "rare again after an hour unseen")

	assert.Equal(t, Continue, f(ctx, trace(span(resource("GET /never-seen")))), "no entry span: pass on")
	assert.Equal(t, Keep, f(ctx, trace(span(entry(), resource("GET /a"), sourceType("db")))), "source_type is part of the key")
	assert.Equal(t, Keep, f(ctx, trace(span(entry(), service("other"), resource("GET /a")))), "service is part of the key")
	// Only the first entry span counts.
	assert.Equal(t, Continue, f(ctx, trace(span(entry(), resource("GET /a")), span(entry(), resource("GET /b")))))
	assert.Equal(t, Keep, f(ctx, trace(span(entry(), resource("GET /b")))))
}

func TestRareKeyIsDataKits(t *testing.T) {
	// DataKit: md5.Sum([]byte(service + resource + source_type)); printf "svcGET /web" | md5sum.
	k := rareKey(span(service("svc"), resource("GET /"), sourceType("web")))
	assert.Equal(t, "1b425788cf401929dde91d4cb9f7c7c5", fmt.Sprintf("%x", k[:]))
	long := span(service(string(make([]byte, 300))))
	assert.NotPanics(t, func() { rareKey(long) })
}

func TestSamplerVectors(t *testing.T) {
	// Residues (UnifyToUint64ID(id) % 10000) worked out by hand from DataKit's rules.
	tests := []struct {
		name, id string
		rate     float64
		want     Verdict
	}{
		{"decimal residue 2999", "12999", 0.3, Keep},
		{"decimal residue 3000 (strict <)", "3000", 0.3, Drop},
		{"decimal residue 9999", "29999", 0.3, Drop},
		{"rate 0 keeps nothing, not even residue 0 (DataKit's <= would)", "0", 0, Drop},
		{"rate 1 keeps everything", "9999", 1, Keep},
		{"hex 0xbb7 = 2999", "0bb7", 0.3, Keep},
		{"hex 0xbb8 = 3000", "0bb8", 0.3, Drop},
		{"64-bit hex, residue 6230", "a3ce929d0e0e4736", 0.624, Keep},
		{"64-bit hex, residue 6230, below", "a3ce929d0e0e4736", 0.623, Drop},
		{"128-bit hex: last 8 chars as ASCII, residue 150", "4bf92f3577b34da6a3ce929d0e0e4736", 0.02, Keep},
		{"128-bit hex, residue 150, below", "4bf92f3577b34da6a3ce929d0e0e4736", 0.015, Drop},
		{"128-bit with leading zeros still parses as hex", "00000000000000000000000000000bb7", 0.3, Keep},
		{"arbitrary string, residue 4753", "agent^123^1", 0.48, Keep},
		{"arbitrary string, residue 4753, below", "agent^123^1", 0.47, Drop},
		{"upper-case hex is a string: 0x4646 = 17990, residue 7990", "FF", 0.8, Keep},
		{"upper-case hex below", "FF", 0.799, Drop},
		{"empty id is 0", "", 0.01, Keep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Sampler(tt.rate)
			require.NoError(t, err)
			tr := withID(tt.id, trace(span(), span()))
			assert.Equal(t, tt.want, f(context.Background(), tr))
			require.Contains(t, tr.Spans[0].Fields, SamplingRateField, "dk_sampling_rate on the first span")
			assert.InDelta(t, tt.rate, tr.Spans[0].Fields[SamplingRateField].GetF(), 0)
			assert.NotContains(t, tr.Spans[1].Fields, SamplingRateField)
		})
	}
	for _, bad := range []float64{-0.1, 1.1, math.NaN()} {
		_, err := Sampler(bad)
		assert.ErrorContains(t, err, "sampler.sampling_rate")
	}
}

func TestSamplerThresholdRounding(t *testing.T) {
	// 0.29 × 10000 is 2899.9999999999995 in float64; truncating would keep 2899 residues.
	assert.True(t, SampleID("2899", 2900))
	f, err := Sampler(0.29)
	require.NoError(t, err)
	assert.Equal(t, Keep, f(context.Background(), withID("2899", trace(span()))))
	assert.Equal(t, Drop, f(context.Background(), withID("2900", trace(span()))))
}

func TestSamplerStatistics(t *testing.T) {
	const n = 120_000
	f, err := Sampler(0.3)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []func() string{
		func() string { return strconv.FormatUint(rng.Uint64(), 10) },                  // DDTrace decimal
		func() string { return fmt.Sprintf("%016x", rng.Uint64()) },                    // 64-bit hex
		func() string { return fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()) }, // 128-bit hex (OTel, Jaeger)
	}
	for i, gen := range kinds {
		kept := 0
		for j := 0; j < n; j++ {
			if f(context.Background(), withID(gen(), trace(span()))) == Keep {
				kept++
			}
		}
		ratio := float64(kept) / n
		assert.InDelta(t, 0.3, ratio, 0.01, "id kind %d kept %.4f", i, ratio)
	}
}

func TestMatcherPrefixShortcut(t *testing.T) {
	tests := []struct {
		expr     string
		anchored bool
	}{
		{"^GET /healthz$", true},
		{`\AGET`, true},
		{"(^GET) /x", true},
		{"^(?:GET|POST) /x", true},
		{"GET /healthz", false},
		{"(?m)^GET", false},
		{"^GET|^POST", false},
		{"x^GET", false},
		{"(?i)^get /", true},
	}
	inputs := []string{"", "GET /healthz", "GET /healthz/x", "get /healthz", "POST /x", "GET /x", "a\nGET", "xGET", "GET"}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			assert.Equal(t, tt.anchored, anchoredAtStart(tt.expr))
			m, err := newMatcher(tt.expr)
			require.NoError(t, err)
			for _, in := range inputs {
				assert.Equal(t, m.re.MatchString(in), m.match(in), "%q on %q: the shortcut must not change the answer", tt.expr, in)
			}
		})
	}
}
