package points

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/proto"
)

// addTestdata seeds f with the golden inputs of the given extensions.
func addTestdata(f *testing.F, exts ...string) {
	for _, ext := range exts {
		files, _ := filepath.Glob("testdata/*" + ext)
		for _, p := range files {
			if strings.HasSuffix(p, ".golden.json") {
				continue
			}
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
}

// fuzzOne decodes and checks a body; it must never panic, and what it accepts must survive
// the checks and the echo encoders.
func fuzzOne(t *testing.T, body []byte, enc Encoding) {
	pts, err := Decode(body, enc, Options{NowUnixNano: now})
	if err != nil {
		return
	}
	for _, c := range Categories {
		r, _ := RulesFor(c)
		for _, p := range pts {
			Check(proto.Clone(p).(*pointpb.PBPoint), r, [][2]string{{"host", "h"}})
		}
	}
	for _, form := range []string{"lp", "json", "pbjson"} {
		if _, _, err := Echo(pts, form); err != nil {
			t.Fatalf("echo %s of accepted points: %v", form, err)
		}
	}
}

func FuzzLineProtocol(f *testing.F) {
	for _, s := range []string{
		`cpu,host=a,region=eu i=-1i,u=2u,f=3.5,b=true,s="x",d="aGk="b 1700000000000000000`,
		`my\ meas\,x,tag\ k\=1=v\,a\ b field\,k="q\"uo\\te" 5`,
		"log msg=\"a\nb\" 1\nlog msg=\"c\" 2",
		`m ints=[1i,2i],strs=["a","b"],fl=[1.5,2] 3`,
		"# c\n\nm v=1i 10\r\n",
		"cpu,host= v=1i", `cpu v="abc`, "cpu v=[1i,", "m v=1i 99999999999999999999",
	} {
		f.Add([]byte(s))
	}
	addTestdata(f, ".lp")
	f.Fuzz(func(t *testing.T, body []byte) { fuzzOne(t, body, LineProtocol) })
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`[{"measurement":"cpu","tags":{"z":"1"},"fields":{"u":3,"s":"x","b":false,"arr":[1,2]},"time":1700000000000000000}]`,
		`[{"name":"m","fields":[{"key":"host","s":"a","is_tag":true},{"key":"v","i":"7"}],"time":"5"}]`,
		`[{"measurement":"m","fields":{"v":null,"o":{"a":1}}}]`,
		`[{"measurement":"m","fields":{"v":1},"time":1e30}]`, `[]`, `{}`, `[null]`,
	} {
		f.Add([]byte(s))
	}
	addTestdata(f, ".json")
	f.Fuzz(func(t *testing.T, body []byte) { fuzzOne(t, body, JSON) })
}

func FuzzPBJSON(f *testing.F) {
	f.Add([]byte(`{"arr":[{"name":"m","fields":[{"key":"v","u":"9"}],"time":"5"}]}`))
	f.Add([]byte(`[{"name":"m","fields":[{"key":"v","f":1.5}]}]`))
	f.Add([]byte(`{"arr":[null]}`))
	addTestdata(f, ".pbjson")
	f.Fuzz(func(t *testing.T, body []byte) { fuzzOne(t, body, PBJSON) })
}

func FuzzProtobuf(f *testing.F) {
	b, _ := proto.Marshal(&pointpb.PBPoints{Arr: []*pointpb.PBPoint{{Name: "m", Fields: []*pointpb.Field{{Key: "v", Val: &pointpb.Field_I{I: 1}}}}}})
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) { fuzzOne(t, body, Protobuf) })
}

// benchBody is n metric points in the given encoding, the same data in each.
func benchBody(b *testing.B, n int, enc Encoding) []byte {
	var pts []*pointpb.PBPoint
	var lp strings.Builder
	for i := range n {
		ts := int64(1700000000000000000 + i)
		fmt.Fprintf(&lp, "cpu,host=web-%d,region=eu-west-1,cpu=cpu%d usage_user=%d.5,usage_system=3.25,usage_idle=80.125,cores=8i,load=%di %d\n", i%10, i%8, i%100, i, ts)
		pts = append(pts, &pointpb.PBPoint{Name: "cpu", Time: ts, Fields: []*pointpb.Field{
			tagKV("host", fmt.Sprintf("web-%d", i%10)), tagKV("region", "eu-west-1"), tagKV("cpu", fmt.Sprintf("cpu%d", i%8)),
			{Key: "usage_user", Val: &pointpb.Field_F{F: float64(i%100) + .5}}, {Key: "usage_system", Val: &pointpb.Field_F{F: 3.25}},
			{Key: "usage_idle", Val: &pointpb.Field_F{F: 80.125}}, {Key: "cores", Val: &pointpb.Field_I{I: 8}}, {Key: "load", Val: &pointpb.Field_I{I: int64(i)}},
		}})
	}
	switch enc {
	case LineProtocol:
		return []byte(lp.String())
	case Protobuf:
		out, err := proto.Marshal(&pointpb.PBPoints{Arr: pts})
		if err != nil {
			b.Fatal(err)
		}
		return out
	case JSON:
		_, out, err := Echo(pts, "json")
		if err != nil {
			b.Fatal(err)
		}
		return out
	default:
		_, out, err := Echo(pts, "pbjson")
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
}

func tagKV(k, v string) *pointpb.Field {
	return &pointpb.Field{Key: k, IsTag: true, Val: &pointpb.Field_S{S: v}}
}

// BenchmarkDecode measures decode + metric checks, the gateway's per-request CPU work.
func BenchmarkDecode(b *testing.B) {
	const n = 1000
	rules, _ := RulesFor("metric")
	for _, c := range []struct {
		name string
		enc  Encoding
	}{{"lineproto", LineProtocol}, {"protobuf", Protobuf}, {"json", JSON}, {"pbjson", PBJSON}} {
		body := benchBody(b, n, c.enc)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				pts, err := Decode(body, c.enc, Options{NowUnixNano: now})
				if err != nil || len(pts) != n {
					b.Fatalf("decode: %v (%d points)", err, len(pts))
				}
				for _, p := range pts {
					Check(p, rules, nil)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
