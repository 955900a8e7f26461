package points

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"github.com/tracekit/tracekit/services/gateway/internal/apierr"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const now = int64(1_700_000_000_123_456_789)

func tag(k, v string) *pointpb.Field {
	return &pointpb.Field{Key: k, IsTag: true, Val: &pointpb.Field_S{S: v}}
}
func fi(k string, v int64) *pointpb.Field {
	return &pointpb.Field{Key: k, Val: &pointpb.Field_I{I: v}}
}
func fu(k string, v uint64) *pointpb.Field {
	return &pointpb.Field{Key: k, Val: &pointpb.Field_U{U: v}}
}
func ff(k string, v float64) *pointpb.Field {
	return &pointpb.Field{Key: k, Val: &pointpb.Field_F{F: v}}
}
func fb(k string, v bool) *pointpb.Field { return &pointpb.Field{Key: k, Val: &pointpb.Field_B{B: v}} }
func fs(k, v string) *pointpb.Field      { return &pointpb.Field{Key: k, Val: &pointpb.Field_S{S: v}} }
func fd(k string, v []byte) *pointpb.Field {
	return &pointpb.Field{Key: k, Val: &pointpb.Field_D{D: v}}
}
func fa(t *testing.T, k string, vals ...*pointpb.BasicTypes) *pointpb.Field {
	a, err := anypb.New(&pointpb.Array{Arr: vals})
	require.NoError(t, err)
	return &pointpb.Field{Key: k, Val: &pointpb.Field_A{A: a}}
}
func bi(v int64) *pointpb.BasicTypes  { return &pointpb.BasicTypes{X: &pointpb.BasicTypes_I{I: v}} }
func bs(v string) *pointpb.BasicTypes { return &pointpb.BasicTypes{X: &pointpb.BasicTypes_S{S: v}} }
func bf(v float64) *pointpb.BasicTypes {
	return &pointpb.BasicTypes{X: &pointpb.BasicTypes_F{F: v}}
}
func pt(name string, time int64, fields ...*pointpb.Field) *pointpb.PBPoint {
	return &pointpb.PBPoint{Name: name, Time: time, Fields: fields}
}

func codeOf(err error) apierr.Code {
	var e *apierr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func requirePoints(t *testing.T, want, got []*pointpb.PBPoint) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if !proto.Equal(want[i], got[i]) {
			t.Fatalf("point %d:\nwant %v\n got %v", i, want[i], got[i])
		}
	}
}

func TestDecodeLineProtocol(t *testing.T) {
	cases := []struct {
		name, body, precision string
		want                  []*pointpb.PBPoint
		code                  apierr.Code
	}{
		{name: "all value types", body: `cpu,host=a,region=eu i=-1i,u=2u,f=3.5,b=true,s="x",d="aGk="b 1700000000000000000`,
			want: []*pointpb.PBPoint{pt("cpu", 1700000000000000000, tag("host", "a"), tag("region", "eu"), fi("i", -1), fu("u", 2), ff("f", 3.5), fb("b", true), fs("s", "x"), fd("d", []byte("hi")))}},
		{name: "bool spellings", body: "m a=t,b=T,c=True,d=f,e=F,g=FALSE 1",
			precision: "n",
			want:      []*pointpb.PBPoint{pt("m", 1, fb("a", true), fb("b", true), fb("c", true), fb("d", false), fb("e", false), fb("g", false))}},
		{name: "escapes", body: `my\ meas\,x,tag\ k\=1=v\,a\ b field\,k="q\"uo\\te" 5`, precision: "s",
			want: []*pointpb.PBPoint{pt("my meas,x", 5e9, tag("tag k=1", "v,a b"), fs("field,k", `q"uo\te`))}},
		{name: "newline inside string", body: "log msg=\"a\nb\" 1\nlog msg=\"c\" 2", precision: "ms",
			want: []*pointpb.PBPoint{pt("log", 1e6, fs("msg", "a\nb")), pt("log", 2e6, fs("msg", "c"))}},
		{name: "arrays", body: `m ints=[1i,2i],strs=["a","b"],fl=[1.5,2] 3`, precision: "u",
			want: []*pointpb.PBPoint{pt("m", 3000, fa(t, "ints", bi(1), bi(2)), fa(t, "strs", bs("a"), bs("b")), fa(t, "fl", bf(1.5), bf(2)))}},
		{name: "no timestamp gets now", body: "m v=1i\n",
			want: []*pointpb.PBPoint{pt("m", now, fi("v", 1))}},
		{name: "comments blank lines crlf", body: "# hi\n\nm v=1i 10\r\n\n",
			precision: "n",
			want:      []*pointpb.PBPoint{pt("m", 10, fi("v", 1))}},
		{name: "auto seconds", body: "m v=1i 1700000000", want: []*pointpb.PBPoint{pt("m", 1700000000e9, fi("v", 1))}},
		{name: "auto ms", body: "m v=1i 1700000000123", want: []*pointpb.PBPoint{pt("m", 1700000000123e6, fi("v", 1))}},
		{name: "auto us", body: "m v=1i 1700000000123456", want: []*pointpb.PBPoint{pt("m", 1700000000123456e3, fi("v", 1))}},
		{name: "auto ns", body: "m v=1i 1700000000123456789", want: []*pointpb.PBPoint{pt("m", 1700000000123456789, fi("v", 1))}},
		{name: "minutes", body: "m v=1i 2", precision: "m", want: []*pointpb.PBPoint{pt("m", 120e9, fi("v", 1))}},
		{name: "hours", body: "m v=1i 2", precision: "h", want: []*pointpb.PBPoint{pt("m", 7200e9, fi("v", 1))}},
		{name: "missing fields", body: "cpu,host=a", code: apierr.InvalidLinePoint},
		{name: "missing tag value", body: "cpu,host= v=1i", code: apierr.InvalidLinePoint},
		{name: "bad int", body: "cpu v=1.5i", code: apierr.InvalidLinePoint},
		{name: "bad float", body: "cpu v=abc", code: apierr.InvalidLinePoint},
		{name: "inf literal", body: "cpu v=inf", code: apierr.InvalidLinePoint},
		{name: "unterminated string", body: `cpu v="abc`, code: apierr.InvalidLinePoint},
		{name: "bad base64", body: `cpu v="!!"b`, code: apierr.InvalidLinePoint},
		{name: "bad timestamp", body: "cpu v=1i 12x", code: apierr.InvalidLinePoint},
		{name: "unterminated array", body: "cpu v=[1i,2i", code: apierr.InvalidLinePoint},
		{name: "only comments", body: "# nothing\n", code: apierr.NoPoints},
		{name: "bad precision", body: "m v=1i 1", precision: "d", code: apierr.InvalidPrecision},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode([]byte(c.body), LineProtocol, Options{Precision: c.precision, NowUnixNano: now})
			if c.code != "" {
				require.Error(t, err)
				assert.Equal(t, c.code, codeOf(err), err.Error())
				return
			}
			require.NoError(t, err)
			requirePoints(t, c.want, got)
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name, body, precision string
		enc                   Encoding
		want                  []*pointpb.PBPoint
		warns                 int
		code                  apierr.Code
	}{
		{name: "simple, numbers as float, sorted keys",
			body: `[{"measurement":"cpu","tags":{"z":"1","a":"2"},"fields":{"u":3,"s":"x","b":false,"arr":[1,2]},"time":1700000000000000000}]`,
			want: []*pointpb.PBPoint{pt("cpu", 1700000000000000000, tag("a", "2"), tag("z", "1"), fa(t, "arr", bf(1), bf(2)), fb("b", false), fs("s", "x"), ff("u", 3))}},
		{name: "time with precision", precision: "s", body: `[{"measurement":"m","fields":{"v":1},"time":10}]`,
			want: []*pointpb.PBPoint{pt("m", 10e9, ff("v", 1))}},
		{name: "no time gets now", body: `[{"measurement":"m","fields":{"v":1}}]`, want: []*pointpb.PBPoint{pt("m", now, ff("v", 1))}},
		{name: "null field dropped with warning", body: `[{"measurement":"m","fields":{"v":1,"n":null}}]`, warns: 1,
			want: []*pointpb.PBPoint{{Name: "m", Time: now, Fields: []*pointpb.Field{ff("v", 1)}, Warns: []*pointpb.Warn{{Type: WarnNilField, Msg: `field "n" is null: dropped`}}}}},
		{name: "pbjson element inside json", body: `[{"name":"m","fields":[{"key":"host","s":"a","is_tag":true},{"key":"v","i":"7"}],"time":"5"}]`,
			want: []*pointpb.PBPoint{pt("m", 5, tag("host", "a"), fi("v", 7))}},
		{name: "pbjson body", enc: PBJSON, body: `{"arr":[{"name":"m","fields":[{"key":"v","u":"9"}],"time":"5"}]}`,
			want: []*pointpb.PBPoint{pt("m", 5, fu("v", 9))}},
		{name: "pbjson bare array without time", enc: PBJSON, body: `[{"name":"m","fields":[{"key":"v","f":1.5}]}]`,
			want: []*pointpb.PBPoint{pt("m", now, ff("v", 1.5))}},
		{name: "not an array", body: `{"measurement":"m"}`, code: apierr.InvalidJSONPoint},
		{name: "nested object field", body: `[{"measurement":"m","fields":{"o":{"a":1}}}]`, code: apierr.InvalidJSONPoint},
		{name: "mixed array", body: `[{"measurement":"m","fields":{"a":[1,"x"]}}]`, code: apierr.InvalidJSONPoint},
		{name: "non-string tag", body: `[{"measurement":"m","tags":{"a":1},"fields":{"v":1}}]`, code: apierr.InvalidJSONPoint},
		{name: "fractional time", body: `[{"measurement":"m","fields":{"v":1},"time":1.5}]`, code: apierr.InvalidJSONPoint},
		{name: "truncated", body: `[{"measurement":"m"`, code: apierr.InvalidJSONPoint},
		{name: "empty array", body: `[]`, code: apierr.NoPoints},
		{name: "bad pbjson", enc: PBJSON, body: `{"arr":[{"name":1}]}`, code: apierr.InvalidJSONPoint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := c.enc
			if enc == LineProtocol {
				enc = JSON
			}
			got, err := Decode([]byte(c.body), enc, Options{Precision: c.precision, NowUnixNano: now})
			if c.code != "" {
				require.Error(t, err)
				assert.Equal(t, c.code, codeOf(err), err.Error())
				return
			}
			require.NoError(t, err)
			requirePoints(t, c.want, got)
			assert.Equal(t, c.warns, Warnings(got))
		})
	}
}

func TestDecodeProtobuf(t *testing.T) {
	in := &pointpb.PBPoints{Arr: []*pointpb.PBPoint{pt("m", 0, tag("h", "a"), fi("v", 1)), pt("n", 42, fs("s", "x"))}}
	body, err := proto.Marshal(in)
	require.NoError(t, err)
	got, err := Decode(body, Protobuf, Options{Precision: "s", NowUnixNano: now})
	require.NoError(t, err)
	// protobuf times are nanoseconds whatever the precision; 0 means now.
	requirePoints(t, []*pointpb.PBPoint{pt("m", now, tag("h", "a"), fi("v", 1)), pt("n", 42, fs("s", "x"))}, got)

	_, err = Decode([]byte{0xff, 0xff, 0xff}, Protobuf, Options{})
	assert.Equal(t, apierr.InvalidProtobufPoint, codeOf(err))
}

func TestEncodingOf(t *testing.T) {
	for ct, want := range map[string]Encoding{
		"":                                  LineProtocol,
		"text/plain":                        LineProtocol,
		"application/x-www-form-urlencoded": LineProtocol,
		"application/json":                  JSON,
		"application/json; charset=utf-8":   JSON,
		"application/pbjson; proto=com.guance.Point":   PBJSON,
		"application/protobuf; proto=com.guance.Point": Protobuf,
		"application/x-protobuf":                       Protobuf,
		"garbage;;":                                    LineProtocol,
	} {
		assert.Equal(t, want, EncodingOf(ct), ct)
	}
}

func warnTypes(p *pointpb.PBPoint) []string {
	var out []string
	for _, w := range p.GetWarns() {
		out = append(out, w.GetType())
	}
	return out
}

func TestCheck(t *testing.T) {
	long := strings.Repeat("k", 300)
	cases := []struct {
		name, category string
		in             *pointpb.PBPoint
		extra          [][2]string
		want           *pointpb.PBPoint
		warns          []string
	}{
		{name: "metric drops string fields, keeps dots", category: "metric",
			in:    pt("cpu", 1, tag("a.b", "x"), fs("s", "v"), ff("f.x", 1)),
			want:  pt("cpu", 1, tag("a.b", "x"), ff("f.x", 1)),
			warns: []string{WarnStringField}},
		{name: "logging status default, no dots, disabled keys", category: "logging",
			in:    pt("nginx", 1, tag("source", "x"), fs("a.b", "m"), fs("date", "d")),
			want:  pt("nginx", 1, fs("a_b", "m"), fs("status", "info")),
			warns: []string{WarnDisabledKey, WarnDotInKey, WarnDisabledKey, WarnRequiredKey}},
		{name: "logging keeps given status", category: "logging",
			in: pt("l", 1, tag("status", "error"), fs("message", "m")), want: pt("l", 1, tag("status", "error"), fs("message", "m"))},
		{name: "object name required", category: "object",
			in: pt("host", 1, fs("class", "c"), fi("cpu", 1)), want: pt("host", 1, fi("cpu", 1), tag("name", "default")),
			warns: []string{WarnDisabledKey, WarnRequiredKey}},
		{name: "empty measurement, duplicate and clashing keys", category: "custom_object",
			in:    pt("", 1, tag("k", "t"), fi("k", 1), fi("v", 1), fi("v", 2), fi("", 3)),
			want:  pt("__default", 1, tag("k", "t"), fi("v", 1)),
			warns: []string{WarnEmptyMeasurement, WarnSameKey, WarnSameKey, WarnInvalidKey}},
		{name: "long key truncated, collision dropped", category: "network",
			in:    pt("m", 1, fi(long, 1), fi(long+"x", 2)),
			want:  pt("m", 1, fi(long[:256], 1)),
			warns: []string{WarnLongKey, WarnLongKey, WarnSameKey}},
		{name: "tag value truncated, key cleanup", category: "rum",
			in:    pt("m", 1, tag("t", strings.Repeat("v", 1100)), fi("a\\", 1), fi("b\nc", 2)),
			want:  pt("m", 1, tag("t", strings.Repeat("v", 1024)), fi("a", 1), fi("b c", 2)),
			warns: []string{WarnLongTagValue, WarnInvalidKey, WarnInvalidKey}},
		{name: "inf and nan", category: "keyevent",
			in:    pt("m", 1, ff("p", math.Inf(1)), ff("n", math.Inf(-1)), ff("x", math.NaN())),
			want:  pt("m", 1, fu("p", math.MaxUint64), fi("n", math.MinInt64)),
			warns: []string{WarnInfField, WarnInfField, WarnNaNField}},
		{name: "global tags do not override", category: "security",
			in: pt("m", 1, tag("host", "mine"), fi("v", 1)), extra: [][2]string{{"env", "prod"}, {"host", "global"}},
			want: pt("m", 1, tag("host", "mine"), fi("v", 1), tag("env", "prod"))},
		{name: "tracing no dots", category: "tracing",
			in: pt("ddtrace", 1, tag("http.method", "GET"), fi("v", 1)), want: pt("ddtrace", 1, tag("http_method", "GET"), fi("v", 1)),
			warns: []string{WarnDotInKey}},
		{name: "non-string tag dropped", category: "metric",
			in: pt("m", 1, &pointpb.Field{Key: "t", IsTag: true, Val: &pointpb.Field_I{I: 1}}, fi("v", 1)), want: pt("m", 1, fi("v", 1)),
			warns: []string{WarnInvalidTagValue}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := RulesFor(c.category)
			require.True(t, ok)
			Check(c.in, r, c.extra)
			assert.Equal(t, c.warns, warnTypes(c.in))
			c.in.Warns = nil
			if !proto.Equal(c.want, c.in) {
				t.Fatalf("want %v\n got %v", c.want, c.in)
			}
		})
	}
}

func TestCheckLimits(t *testing.T) {
	r, _ := RulesFor("metric")
	r.MaxTags, r.MaxFields = 2, 1
	p := pt("m", 1, tag("a", "1"), tag("b", "2"), tag("c", "3"), fi("x", 1), fi("y", 2))
	Check(p, r, nil)
	assert.Equal(t, []string{WarnMaxTags, WarnMaxFields}, warnTypes(p))
	p.Warns = nil
	require.True(t, proto.Equal(pt("m", 1, tag("a", "1"), tag("b", "2"), fi("x", 1)), p), p.String())
}

func TestRulesForUnknown(t *testing.T) {
	for _, c := range Categories {
		_, ok := RulesFor(c)
		assert.True(t, ok, c)
	}
	for _, c := range []string{"", "metrics", "profiling", "Metric"} {
		_, ok := RulesFor(c)
		assert.False(t, ok, c)
	}
}

func TestEchoRoundTrip(t *testing.T) {
	pts := []*pointpb.PBPoint{pt("cpu", 5, tag("host", "a"), fi("i", 1), fs("s", `x"y`), fa(t, "arr", bi(1), bi(2)))}
	for _, form := range []string{"lp", "pbjson"} {
		ct, body, err := Echo(pts, form)
		require.NoError(t, err)
		enc := EncodingOf(ct)
		got, err := Decode(body, enc, Options{Precision: "n"})
		require.NoError(t, err, form)
		requirePoints(t, pts, got)
	}
	ct, body, err := Echo(pts, "json")
	require.NoError(t, err)
	assert.Equal(t, ContentTypeJSON, ct)
	assert.JSONEq(t, `[{"measurement":"cpu","tags":{"host":"a"},"fields":{"i":1,"s":"x\"y","arr":[1,2]},"time":5}]`, string(body))

	_, err = EchoForm("xml")
	assert.Equal(t, apierr.InvalidEcho, codeOf(err))
}
