package dataway

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/dataway/lineproto"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// requireSameAsSpanToPoint checks the direct writers against the point path for one span.
func requireSameAsSpanToPoint(t testing.TB, s *spanv1.DatakitSpan, o PointOptions, sc *Scratch) {
	t.Helper()
	p := SpanToPoint(s, o)
	want, wantOK := appendPoint([]byte("x"), p)
	got, gotOK := AppendSpanPoint([]byte("x"), s, o, sc)
	require.Equal(t, wantOK, gotOK, "hand-encodable")
	if wantOK {
		require.Equal(t, want, got)
	} else {
		require.Equal(t, []byte("x"), got, "dst is left as it was")
	}

	wantLine, wantErr := lineproto.AppendPoint([]byte("x"), p)
	gotLine, gotErr := AppendSpanLine([]byte("x"), s, o, sc)
	require.Equal(t, wantErr, gotErr)
	require.Equal(t, string(wantLine), string(gotLine))
}

func goldenSpans(t testing.TB) []*spanv1.DatakitSpan {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "spans.json"))
	require.NoError(t, err)
	var batch spanv1.TraceBatch
	require.NoError(t, protojson.Unmarshal(raw, &batch))
	var out []*spanv1.DatakitSpan
	for _, tr := range batch.GetTraces() {
		out = append(out, tr.GetSpans()...)
	}
	return out
}

func TestAppendSpanPointMatchesSpanToPoint(t *testing.T) {
	fv := func(v any) *spanv1.FieldValue {
		switch x := v.(type) {
		case int64:
			return &spanv1.FieldValue{Kind: &spanv1.FieldValue_I{I: x}}
		case uint64:
			return &spanv1.FieldValue{Kind: &spanv1.FieldValue_U{U: x}}
		case float64:
			return &spanv1.FieldValue{Kind: &spanv1.FieldValue_F{F: x}}
		case bool:
			return &spanv1.FieldValue{Kind: &spanv1.FieldValue_B{B: x}}
		case []byte:
			return &spanv1.FieldValue{Kind: &spanv1.FieldValue_D{D: x}}
		case string:
			return &spanv1.FieldValue{Kind: &spanv1.FieldValue_S{S: x}}
		}
		return nil
	}
	long := strings.Repeat("é", 600)
	cases := map[string]func(*spanv1.DatakitSpan){
		"base": func(*spanv1.DatakitSpan) {},
		"optional tags": func(s *spanv1.DatakitSpan) {
			s.Operation, s.Env, s.Project, s.Version, s.Message = "op", "prod", "p", "1.0", "msg"
		},
		"empty standards": func(s *spanv1.DatakitSpan) { *s = spanv1.DatakitSpan{} },
		"key normalization and collisions": func(s *spanv1.DatakitSpan) {
			s.Tags = map[string]string{
				"a.b": "dot", "a_b": "underscore", "a\nb": "newline", "a b": "space", `x\`: "bs", `x\\`: "bs2", "x": "plain",
				`\`: "only backslashes", ".": "dot only", strings.Repeat("k", 300): "long1", strings.Repeat("k", 256) + "z": "long2",
			}
			s.Fields = map[string]*spanv1.FieldValue{"a.b": fv("field"), "y.z": fv("f"), "y_z": fv(int64(1))}
		},
		"standard keys win": func(s *spanv1.DatakitSpan) {
			s.Tags = map[string]string{"service": "t", "trace_id": "t", "start": "t", "env": "tag-env", "message": "tag-msg", "dk_fingerprint": "span-fp"}
			s.Fields = map[string]*spanv1.FieldValue{"status": fv("f"), "resource": fv(int64(2)), "version": fv("field-version"), "operation": fv(true)}
		},
		"optional standard keys win when set": func(s *spanv1.DatakitSpan) {
			s.Env, s.Message, s.Version, s.Operation, s.Project = "std-env", "std-msg", "v", "op", "p"
			s.Tags = map[string]string{"env": "tag-env", "message": "tag-msg", "operation": "tag-op"}
			s.Fields = map[string]*spanv1.FieldValue{"version": fv("field-version"), "project": fv("field-project")}
		},
		"tags win over global tags and fields": func(s *spanv1.DatakitSpan) {
			s.Tags = map[string]string{"host": "span", "g.x": "span-dot"}
			s.Fields = map[string]*spanv1.FieldValue{"host": fv("field"), "cluster": fv("field"), "dk_fingerprint": fv("f")}
		},
		"typed fields": func(s *spanv1.DatakitSpan) {
			s.Fields = map[string]*spanv1.FieldValue{
				"i": fv(int64(-7)), "i0": fv(int64(0)), "u": fv(uint64(math.MaxUint64)), "u0": fv(uint64(0)),
				"f": fv(0.25), "f0": fv(0.0), "nan": fv(math.NaN()), "inf": fv(math.Inf(1)), "-inf": fv(math.Inf(-1)),
				"b": fv(true), "b0": fv(false), "d": fv([]byte("raw")), "d0": fv([]byte(nil)), "s": fv(""),
				"nilkind": {}, "nilvalue": nil,
			}
		},
		"nan does not take a key": func(s *spanv1.DatakitSpan) {
			s.Fields = map[string]*spanv1.FieldValue{"a.b": fv(math.NaN()), "a_b": fv("kept")}
		},
		"truncation": func(s *spanv1.DatakitSpan) {
			s.Source, s.Service, s.Message = strings.Repeat("s", 1100), long, long
			s.Tags = map[string]string{"long": long, "ascii": strings.Repeat("v", 2000)}
		},
		"invalid utf-8 value":   func(s *spanv1.DatakitSpan) { s.Tags = map[string]string{"k": "\xff"} },
		"invalid utf-8 key":     func(s *spanv1.DatakitSpan) { s.Tags = map[string]string{"\xfe": "v"} },
		"invalid utf-8 field":   func(s *spanv1.DatakitSpan) { s.Fields = map[string]*spanv1.FieldValue{"k": fv("\xff")} },
		"invalid utf-8 source":  func(s *spanv1.DatakitSpan) { s.Source = "\xff" },
		"invalid dropped twice": func(s *spanv1.DatakitSpan) { s.Tags = map[string]string{"service": "\xff", "a.b": "ok", "a_b": "\xff"} },
		"truncated to nothing":  func(s *spanv1.DatakitSpan) { s.Source = strings.Repeat("\x80", 1100) },
		"negative times":        func(s *spanv1.DatakitSpan) { s.StartUnixNano, s.DurationNano = -1999, -1 },
		"zero time":             func(s *spanv1.DatakitSpan) { s.StartUnixNano = 0 },
		"empty source":          func(s *spanv1.DatakitSpan) { s.Source = "" },
	}
	optSets := []PointOptions{
		{},
		{Hostname: "me"},
		goldenOpts,
		{Hostname: "h", GlobalTags: map[string]string{"host": "g", "g.x": "dot", "g_x": "us", "service": "g", "": "empty", `\`: "bs", "cluster": strings.Repeat("c", 1500)}},
	}
	sc := &Scratch{}
	for name, mod := range cases {
		for oi, o := range optSets {
			t.Run(fmt.Sprintf("%s/opts%d", name, oi), func(t *testing.T) {
				s := base()
				mod(s)
				requireSameAsSpanToPoint(t, s, o, sc)
			})
		}
	}
	t.Run("golden spans", func(t *testing.T) {
		for _, s := range goldenSpans(t) {
			requireSameAsSpanToPoint(t, s, goldenOpts, sc)
		}
	})
	t.Run("nil span", func(t *testing.T) { requireSameAsSpanToPoint(t, nil, goldenOpts, sc) })
}

// requireSameBodies checks EncodeSpans against Encode(SpanToPoint ...) and Resplit
// against encoding each half again.
func requireSameBodies(t testing.TB, e Encoder, spans []*spanv1.DatakitSpan, o PointOptions) {
	t.Helper()
	pts := make([]*pointpb.PBPoint, len(spans))
	for i, s := range spans {
		pts[i] = SpanToPoint(s, o)
	}
	want, wantDrops, wantErr := e.Encode(pts)
	got, gotDrops, gotErr := e.EncodeSpans(spans, o)
	require.Equal(t, wantErr, gotErr)
	require.Equal(t, wantDrops, gotDrops)
	require.Len(t, got, len(want))
	for i := range want {
		requireSameBody(t, want[i], got[i])
		b := got[i]
		first, second, ok, err := e.Resplit(b)
		require.NoError(t, err)
		require.Equal(t, b.Len() >= 2, ok)
		if !ok {
			continue
		}
		sub := e
		sub.MaxRawBodySize = max(e.MaxRawBodySize, b.RawSize)
		for k, part := range []*Body{first, second} {
			var idx []int
			if k == 0 {
				idx = b.Index[:b.Len()/2]
			} else {
				idx = b.Index[b.Len()/2:]
			}
			var half []*pointpb.PBPoint
			for _, j := range idx {
				half = append(half, pts[j])
			}
			again, drops, err := sub.Encode(half)
			require.NoError(t, err)
			require.Empty(t, drops)
			require.Len(t, again, 1)
			again[0].Index = idx
			requireSameBody(t, again[0], part)
		}
	}
}

func requireSameBody(t testing.TB, want, got *Body) {
	t.Helper()
	require.Equal(t, want.Index, got.Index)
	require.Equal(t, want.RawSize, got.RawSize)
	require.Equal(t, want.ContentType, got.ContentType)
	require.Equal(t, want.ContentEncoding, got.ContentEncoding)
	require.Equal(t, want.offsets, got.offsets)
	require.Equal(t, rawOf(t, want), rawOf(t, got))
}

func rawOf(t testing.TB, b *Body) []byte {
	t.Helper()
	if b.ContentEncoding != "gzip" {
		return b.Data
	}
	zr, err := gzip.NewReader(bytes.NewReader(b.Data))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	return raw
}

func TestEncodeSpansMatchesEncode(t *testing.T) {
	var spans []*spanv1.DatakitSpan
	for i := range 120 {
		s := testSpan(i, i%7*60)
		switch i % 40 {
		case 13:
			s.Tags["bad"] = "\xff" // a marshal drop, after the size checks as before
		case 27:
			s.Message = strings.Repeat("x", 5000) // too large for the small limits
		case 31:
			s.Source = ""
		}
		spans = append(spans, s)
	}
	spans = append(spans, goldenSpans(t)...)
	for _, enc := range []Encoding{EncodingV2, EncodingV1} {
		for _, gz := range []bool{false, true} {
			for _, limit := range []int{300, 1024, 4096, 1 << 20} {
				t.Run(fmt.Sprintf("%s/gzip=%v/limit=%d", enc, gz, limit), func(t *testing.T) {
					requireSameBodies(t, Encoder{Encoding: enc, MaxRawBodySize: limit, Gzip: gz}, spans, goldenOpts)
				})
			}
		}
	}
	_, _, err := (&Encoder{}).EncodeSpans(spans, goldenOpts)
	assert.Error(t, err, "max raw body size must be set")
}

func TestResplitOffsets(t *testing.T) {
	for _, enc := range []Encoding{EncodingV2, EncodingV1} {
		e := Encoder{Encoding: enc, MaxRawBodySize: 1 << 20, Gzip: true}
		var spans []*spanv1.DatakitSpan
		for i := range 7 {
			spans = append(spans, testSpan(i, i*10))
		}
		bodies, _, err := e.EncodeSpans(spans, PointOptions{})
		require.NoError(t, err)
		require.Len(t, bodies, 1)
		a, b, ok, err := e.Resplit(bodies[0])
		require.NoError(t, err)
		require.True(t, ok)
		// A half splits again at its own middle.
		bb, bc, ok, err := e.Resplit(b)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, []int{0, 1, 2}, a.Index)
		assert.Equal(t, []int{3, 4}, bb.Index)
		assert.Equal(t, []int{5, 6}, bc.Index)
		assert.Equal(t, []string{"span-5", "span-6"}, decodeBody(t, bc))
		assert.Equal(t, bodies[0].RawSize, a.RawSize+bb.RawSize+bc.RawSize)
	}
	_, _, _, err := (&Encoder{}).Resplit(&Body{Index: []int{0, 1}})
	assert.ErrorContains(t, err, "offsets")
}

// fuzzSpans reads spans, options and a body limit from fuzz bytes. The pieces favour
// what the conversion treats specially: dots, newlines, trailing backslashes, standard
// key names, multi-byte and invalid UTF-8, and lengths around the key and value limits.
type fuzzSpans struct{ b []byte }

var fuzzPieces = []string{
	"a", "b", ".", "_", "\n", `\`, " ", "é", "\xff", "\x80", "\xe2\x82", "k", "x.y",
	TagSource, TagService, TagSpanType, TagSourceType, TagStatus, TagOperation, TagEnv, TagProject, TagVersion,
	TagDKFingerprint, FieldTraceID, FieldSpanID, FieldParentID, FieldResource, FieldStart, FieldDuration, FieldMessage,
}

func (f *fuzzSpans) byte() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *fuzzSpans) int64() int64 {
	var buf [8]byte
	n := copy(buf[:], f.b)
	f.b = f.b[n:]
	return int64(binary.LittleEndian.Uint64(buf[:]))
}

func (f *fuzzSpans) str() string {
	n := f.byte()
	if n >= 248 {
		return strings.Repeat(fuzzPieces[int(f.byte())%len(fuzzPieces)], 120+int(f.byte())*4)
	}
	var sb strings.Builder
	for range n % 6 {
		sb.WriteString(fuzzPieces[int(f.byte())%len(fuzzPieces)])
	}
	return sb.String()
}

func (f *fuzzSpans) value() *spanv1.FieldValue {
	switch f.byte() % 9 {
	case 0:
		return &spanv1.FieldValue{Kind: &spanv1.FieldValue_I{I: f.int64()}}
	case 1:
		return &spanv1.FieldValue{Kind: &spanv1.FieldValue_U{U: uint64(f.int64())}}
	case 2:
		specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1)}
		if c := f.byte(); int(c) < len(specials) {
			return &spanv1.FieldValue{Kind: &spanv1.FieldValue_F{F: specials[c]}}
		}
		return &spanv1.FieldValue{Kind: &spanv1.FieldValue_F{F: math.Float64frombits(uint64(f.int64()))}}
	case 3:
		return &spanv1.FieldValue{Kind: &spanv1.FieldValue_B{B: f.byte()&1 == 1}}
	case 4:
		if f.byte()&1 == 0 {
			return &spanv1.FieldValue{Kind: &spanv1.FieldValue_D{}}
		}
		return &spanv1.FieldValue{Kind: &spanv1.FieldValue_D{D: []byte(f.str())}}
	case 5:
		return &spanv1.FieldValue{}
	case 6:
		return nil
	}
	return &spanv1.FieldValue{Kind: &spanv1.FieldValue_S{S: f.str()}}
}

func (f *fuzzSpans) tags(max byte) map[string]string {
	n := f.byte() % max
	if n == 0 {
		return nil
	}
	m := map[string]string{}
	for range n {
		m[f.str()] = f.str()
	}
	return m
}

func (f *fuzzSpans) span() *spanv1.DatakitSpan {
	s := &spanv1.DatakitSpan{
		TraceId: f.str(), ParentId: f.str(), SpanId: f.str(), Service: f.str(), Resource: f.str(), Operation: f.str(),
		Source: f.str(), SpanType: f.str(), SourceType: f.str(), Env: f.str(), Project: f.str(), Version: f.str(),
		Status: f.str(), Message: f.str(), StartUnixNano: f.int64(), DurationNano: f.int64(),
		Tags: f.tags(8),
	}
	if n := f.byte() % 6; n > 0 {
		s.Fields = map[string]*spanv1.FieldValue{}
		for range n {
			s.Fields[f.str()] = f.value()
		}
	}
	return s
}

// FuzzAppendSpanPoint: for arbitrary spans and options the direct writers give the point
// path's bytes (v2 and line protocol), and EncodeSpans the bodies and drops of Encode.
func FuzzAppendSpanPoint(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x03\x01\x02\x03\x02\x10\x11\x05\x0e\x0f\x10\x11\x12\x13\x00\x00\x00\x00\x00\x00\x00\x00\x05\x02\x03\x0c\x0d\x02\x0e\x04\x01\x02\x01\x09"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := &fuzzSpans{b: data}
		o := PointOptions{Hostname: fs.str(), GlobalTags: fs.tags(4)}
		limit := 64 + int(fs.byte())*16
		spans := []*spanv1.DatakitSpan{fs.span()}
		for len(fs.b) > 0 && len(spans) < 6 {
			spans = append(spans, fs.span())
		}
		sc := &Scratch{}
		for _, s := range spans {
			requireSameAsSpanToPoint(t, s, o, sc)
		}
		for _, enc := range []Encoding{EncodingV2, EncodingV1} {
			requireSameBodies(t, Encoder{Encoding: enc, MaxRawBodySize: limit}, spans, o)
		}
	})
}
