package lineproto

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
func fb(k string, v bool) *pointpb.Field {
	return &pointpb.Field{Key: k, Val: &pointpb.Field_B{B: v}}
}
func fs(k, v string) *pointpb.Field { return &pointpb.Field{Key: k, Val: &pointpb.Field_S{S: v}} }
func fd(k string, v []byte) *pointpb.Field {
	return &pointpb.Field{Key: k, Val: &pointpb.Field_D{D: v}}
}

func farr(t *testing.T, k string, elems ...*pointpb.BasicTypes) *pointpb.Field {
	a, err := anypb.New(&pointpb.Array{Arr: elems})
	require.NoError(t, err)
	return &pointpb.Field{Key: k, Val: &pointpb.Field_A{A: a}}
}

func TestAppendPoint(t *testing.T) {
	tests := []struct {
		name string
		p    *pointpb.PBPoint
		want string
	}{
		{"types", &pointpb.PBPoint{Name: "m", Time: 42, Fields: []*pointpb.Field{
			tag("t", "v"), fi("i", -42), fu("u", 42), ff("f", 3.14), ff("g", 1e21), fb("b", true), fs("s", `a "q" \ b`), fd("d", []byte("hi")),
		}}, `m,t=v i=-42i,u=42u,f=3.14,g=1e+21,b=true,s="a \"q\" \\ b",d="aGk="b 42` + "\n"},
		{"escapes", &pointpb.PBPoint{Name: "m m,x", Time: 1, Fields: []*pointpb.Field{
			tag("k k", "v=1,2 3"), fs("f,=k", "line1\nline2"),
		}}, `m\ m\,x,k\ k=v\=1\,2\ 3 f\,\=k="line1` + "\n" + `line2" 1` + "\n"},
		{"tags sorted, empty tag values and NaN left out", &pointpb.PBPoint{Name: "m", Fields: []*pointpb.Field{
			tag("z", "1"), tag("a", "2"), tag("e", ""), ff("nan", math.NaN()), fi("x", 1),
		}}, "m,a=2,z=1 x=1i 0\n"},
		{"sorted tags between fields, equal keys in field order", &pointpb.PBPoint{Name: "m", Fields: []*pointpb.Field{
			tag("a", "1"), fi("x", 1), tag("a", "0"), tag("b", "2"),
		}}, "m,a=1,a=0,b=2 x=1i 0\n"},
		{"unsorted tags, equal keys stay in field order", &pointpb.PBPoint{Name: "m", Fields: []*pointpb.Field{
			tag("b", "2"), tag("a", "1"), fi("x", 1), tag("a", "0"),
		}}, "m,a=1,a=0,b=2 x=1i 0\n"},
		{"newline in tag value becomes an escaped space; trailing backslash dropped", &pointpb.PBPoint{Name: "m", Fields: []*pointpb.Field{
			tag("a", "x\ny"), tag("b", `c\`), fi("x", 1),
		}}, "m,a=x\\ y,b=c x=1i 0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendPoint(nil, tt.p)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
	t.Run("no fields", func(t *testing.T) {
		got, err := AppendPoint([]byte("keep"), &pointpb.PBPoint{Name: "m", Fields: []*pointpb.Field{tag("a", "b"), ff("n", math.NaN())}})
		require.ErrorIs(t, err, ErrNoFields)
		assert.Equal(t, "keep", string(got))
	})
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []*pointpb.PBPoint
	}{
		{"basic", "m,t=v i=1i,u=2u,f=1.5,b=t,B=FALSE,s=\"x\" 10\n", []*pointpb.PBPoint{{Name: "m", Time: 10, Fields: []*pointpb.Field{
			tag("t", "v"), fi("i", 1), fu("u", 2), ff("f", 1.5), fb("b", true), fb("B", false), fs("s", "x"),
		}}}},
		{"no timestamp gets the default; comments and blank lines skipped", "# c\n\n  \nm f=1\r\n", []*pointpb.PBPoint{{Name: "m", Time: 99, Fields: []*pointpb.Field{ff("f", 1)}}}},
		{"escapes", `m\ x,k\,=v\ \= s="q\"\\\n" 1`, []*pointpb.PBPoint{{Name: "m x", Time: 1, Fields: []*pointpb.Field{tag("k,", "v ="), fs("s", `q"\\n`)}}}},
		{"newline inside a string", "m s=\"a\nb\" 1\nn f=2i 2", []*pointpb.PBPoint{
			{Name: "m", Time: 1, Fields: []*pointpb.Field{fs("s", "a\nb")}},
			{Name: "n", Time: 2, Fields: []*pointpb.Field{fi("f", 2)}},
		}},
		{"bytes", `m d="aGk="b 1`, []*pointpb.PBPoint{{Name: "m", Time: 1, Fields: []*pointpb.Field{fd("d", []byte("hi"))}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in), 99)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeArray(t *testing.T) {
	got, err := Decode([]byte(`m a=[1i,2i],s=["x","y,z"] 1`), 0)
	require.NoError(t, err)
	want := []*pointpb.PBPoint{{Name: "m", Time: 1, Fields: []*pointpb.Field{
		farr(t, "a", &pointpb.BasicTypes{X: &pointpb.BasicTypes_I{I: 1}}, &pointpb.BasicTypes{X: &pointpb.BasicTypes_I{I: 2}}),
		farr(t, "s", &pointpb.BasicTypes{X: &pointpb.BasicTypes_S{S: "x"}}, &pointpb.BasicTypes{X: &pointpb.BasicTypes_S{S: "y,z"}}),
	}}}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{
		"m", "m 1", "m,t f=1", "m,t= f=1", "m f=", "m f=1x", "m f=\"open", "m f=1 notatime", "m f=1 1 extra",
		",t=v f=1", "m f=1i1", "m f=NaN", "m d=\"!!\"b", "m a=[1i,", "m f=1,", "m\xff f=1",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := Decode([]byte(in), 0)
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
		})
	}
}

// TestRoundTrip encodes points and decodes them back unchanged.
func TestRoundTrip(t *testing.T) {
	pts := []*pointpb.PBPoint{
		{Name: "ddtrace", Time: 1700000000123456789, Fields: []*pointpb.Field{
			tag("dk_fingerprint", "host-1"), tag("http url", "/a,b=c d"), tag("service", "web"),
			fs("message", "{\"a\":\"b\\\\c\"}\nnext"), fi("start", 1700000000123456), fu("big", math.MaxUint64),
			ff("rate", 0.1), ff("neg", -2.5e-300), fb("ok", false), fd("raw", []byte{0, 1, 2, 255}),
		}},
		{Name: "m,with space", Time: -5, Fields: []*pointpb.Field{fi("x", math.MinInt64)}},
		{Name: "arr", Time: 3, Fields: []*pointpb.Field{farr(t, "a", &pointpb.BasicTypes{X: &pointpb.BasicTypes_F{F: 1.25}}, &pointpb.BasicTypes{X: &pointpb.BasicTypes_B{B: true}})}},
	}
	var body []byte
	for _, p := range pts {
		var err error
		body, err = AppendPoint(body, p)
		require.NoError(t, err)
	}
	got, err := Decode(body, 0)
	require.NoError(t, err)
	if diff := cmp.Diff(pts, got, protocmp.Transform()); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s\nbody:\n%s", diff, body)
	}
}

// FuzzDecode: the decoder never panics, and whatever it accepts re-encodes into a body it
// accepts again with the same number of points.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"m,t=v i=1i,u=2u,f=1.5,b=t,s=\"x\" 10\n",
		"ddtrace,service=web,source=ddtrace duration=12i,message=\"{\\\"a\\\":1}\",trace_id=\"1\" 1700000000000000000\n",
		`m\ x,k\,=v\ \= s="q\"\\" 1`,
		"m a=[1i,2i],s=[\"x\"] 1\n# comment\n\nn d=\"aGk=\"b",
		"m s=\"a\nb\" 1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pts, err := Decode(data, 0)
		if err != nil {
			return
		}
		var body []byte
		n := 0
		for _, p := range pts {
			// AppendPoint writes in-order tags in place: the order tagsSorted gives.
			if tagsInOrder(p.GetFields()) {
				var inPlace []*pointpb.Field
				for _, f := range p.GetFields() {
					if f.GetIsTag() {
						inPlace = append(inPlace, f)
					}
				}
				if sorted := tagsSorted(p.GetFields()); !slices.Equal(inPlace, sorted) {
					t.Fatalf("tags in order %v, sorted %v", inPlace, sorted)
				}
			}
			out, err := AppendPoint(body, p)
			if err == nil {
				body = out
				n++
			}
		}
		again, err := Decode(body, 0)
		if err != nil {
			t.Fatalf("re-encoded body does not decode: %v\n%q", err, body)
		}
		if len(again) != n {
			t.Fatalf("re-encoded %d points, decoded %d", n, len(again))
		}
	})
}
