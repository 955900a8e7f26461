package dataway

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

var goldenOpts = PointOptions{Hostname: "tk-host", GlobalTags: map[string]string{"host": "global-host", "cluster": "c1", "service": "global-svc"}}

func TestSpanToPointGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "spans.json"))
	require.NoError(t, err)
	var batch spanv1.TraceBatch
	require.NoError(t, protojson.Unmarshal(raw, &batch))
	got := &pointpb.PBPoints{Arr: BatchToPoints(&batch, goldenOpts)}

	golden := filepath.Join("testdata", "points.golden.json")
	if *update {
		out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(got)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(golden, append(out, '\n'), 0o644))
	}
	want := &pointpb.PBPoints{}
	data, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.NoError(t, protojson.Unmarshal(data, want))
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("points differ from %s (-want +got):\n%s", golden, diff)
	}
}

// view flattens a point for table assertions.
func view(p *pointpb.PBPoint) (tags map[string]string, fields map[string]any, order []string) {
	tags, fields = map[string]string{}, map[string]any{}
	for _, f := range p.GetFields() {
		order = append(order, f.GetKey())
		if f.GetIsTag() {
			tags[f.GetKey()] = f.GetS()
			continue
		}
		switch v := f.GetVal().(type) {
		case *pointpb.Field_I:
			fields[f.GetKey()] = v.I
		case *pointpb.Field_U:
			fields[f.GetKey()] = v.U
		case *pointpb.Field_F:
			fields[f.GetKey()] = v.F
		case *pointpb.Field_B:
			fields[f.GetKey()] = v.B
		case *pointpb.Field_S:
			fields[f.GetKey()] = v.S
		case *pointpb.Field_D:
			fields[f.GetKey()] = string(v.D)
		}
	}
	return tags, fields, order
}

func base() *spanv1.DatakitSpan {
	return &spanv1.DatakitSpan{
		TraceId: "t1", SpanId: "s1", ParentId: "0", Service: "svc", Resource: "res", Source: "zipkin",
		SpanType: "entry", SourceType: "custom", Status: "ok", StartUnixNano: 1_000_123_999, DurationNano: 5_999,
	}
}

func TestSpanToPointRules(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes, 2-byte runes
	tests := []struct {
		name  string
		span  func(*spanv1.DatakitSpan)
		opts  PointOptions
		check func(t *testing.T, p *pointpb.PBPoint, tags map[string]string, fields map[string]any)
	}{
		{
			name: "units are microseconds and time is the start in ns",
			check: func(t *testing.T, p *pointpb.PBPoint, _ map[string]string, fields map[string]any) {
				assert.Equal(t, int64(1_000_123), fields["start"])
				assert.Equal(t, int64(5), fields["duration"])
				assert.Equal(t, int64(1_000_123_999), p.GetTime())
				assert.Equal(t, "zipkin", p.GetName())
			},
		},
		{
			name: "optional tags and message only when set",
			check: func(t *testing.T, _ *pointpb.PBPoint, tags map[string]string, fields map[string]any) {
				for _, k := range []string{"operation", "env", "project", "version", "dk_fingerprint"} {
					assert.NotContains(t, tags, k)
				}
				assert.NotContains(t, fields, "message")
				assert.Equal(t, map[string]string{"source": "zipkin", "service": "svc", "span_type": "entry", "source_type": "custom", "status": "ok"}, tags)
			},
		},
		{
			name: "dots become underscores in tag and field keys",
			span: func(s *spanv1.DatakitSpan) {
				s.Tags = map[string]string{"http.url": "/a.b"}
				s.Fields = map[string]*spanv1.FieldValue{"error.stack": {Kind: &spanv1.FieldValue_S{S: "x"}}}
			},
			check: func(t *testing.T, _ *pointpb.PBPoint, tags map[string]string, fields map[string]any) {
				assert.Equal(t, "/a.b", tags["http_url"])
				assert.Equal(t, "x", fields["error_stack"])
			},
		},
		{
			name: "existing dk_fingerprint and span tags win over hostname and global tags",
			span: func(s *spanv1.DatakitSpan) { s.Tags = map[string]string{"dk_fingerprint": "otel_1.0", "host": "h1"} },
			opts: PointOptions{Hostname: "me", GlobalTags: map[string]string{"host": "global", "region": "eu"}},
			check: func(t *testing.T, _ *pointpb.PBPoint, tags map[string]string, _ map[string]any) {
				assert.Equal(t, "otel_1.0", tags["dk_fingerprint"])
				assert.Equal(t, "h1", tags["host"])
				assert.Equal(t, "eu", tags["region"])
			},
		},
		{
			name: "hostname fills dk_fingerprint",
			opts: PointOptions{Hostname: "me"},
			check: func(t *testing.T, _ *pointpb.PBPoint, tags map[string]string, _ map[string]any) {
				assert.Equal(t, "me", tags["dk_fingerprint"])
			},
		},
		{
			name: "standard tags and fields win over extra ones",
			span: func(s *spanv1.DatakitSpan) {
				s.Tags = map[string]string{"service": "other", "resource": "tag-res"}
				s.Fields = map[string]*spanv1.FieldValue{"trace_id": {Kind: &spanv1.FieldValue_S{S: "fake"}}}
			},
			check: func(t *testing.T, p *pointpb.PBPoint, tags map[string]string, fields map[string]any) {
				assert.Equal(t, "svc", tags["service"])
				assert.Equal(t, "t1", fields["trace_id"])
				assert.Equal(t, "res", fields["resource"])
				assert.NotContains(t, tags, "resource", "a key is either a tag or a field")
			},
		},
		{
			name: "tag values cut at 1024 bytes on a rune boundary, keys at 256",
			span: func(s *spanv1.DatakitSpan) {
				s.Tags = map[string]string{"long": long, strings.Repeat("k", 300): "v"}
			},
			check: func(t *testing.T, _ *pointpb.PBPoint, tags map[string]string, _ map[string]any) {
				assert.Equal(t, strings.Repeat("é", 512), tags["long"])
				assert.Equal(t, "v", tags[strings.Repeat("k", 256)])
			},
		},
		{
			name: "typed fields; NaN dropped; infinities clamped",
			span: func(s *spanv1.DatakitSpan) {
				s.Fields = map[string]*spanv1.FieldValue{
					"i":   {Kind: &spanv1.FieldValue_I{I: -4}},
					"u":   {Kind: &spanv1.FieldValue_U{U: 4}},
					"b":   {Kind: &spanv1.FieldValue_B{B: true}},
					"d":   {Kind: &spanv1.FieldValue_D{D: []byte("raw")}},
					"nan": {Kind: &spanv1.FieldValue_F{F: nan()}},
					"inf": {Kind: &spanv1.FieldValue_F{F: inf()}},
				}
			},
			check: func(t *testing.T, _ *pointpb.PBPoint, _ map[string]string, fields map[string]any) {
				assert.Equal(t, int64(-4), fields["i"])
				assert.Equal(t, uint64(4), fields["u"])
				assert.Equal(t, true, fields["b"])
				assert.Equal(t, "raw", fields["d"])
				assert.NotContains(t, fields, "nan")
				assert.InDelta(t, 1.8446744073709552e19, fields["inf"], 1)
			},
		},
		{
			name: "empty source gets the default measurement",
			span: func(s *spanv1.DatakitSpan) { s.Source = "" },
			check: func(t *testing.T, p *pointpb.PBPoint, _ map[string]string, _ map[string]any) {
				assert.Equal(t, DefaultMeasurement, p.GetName())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			if tt.span != nil {
				tt.span(s)
			}
			p := SpanToPoint(s, tt.opts)
			tags, fields, order := view(p)
			tt.check(t, p, tags, fields)
			// Deterministic order: tags by key, then fields by key, each key once.
			nTags := len(tags)
			assert.Len(t, order, nTags+len(fields))
			assert.IsIncreasing(t, order[:nTags])
			assert.IsIncreasing(t, order[nTags:])
		})
	}
}

func TestSpanToPointDeterministic(t *testing.T) {
	s := base()
	s.Tags = map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}
	first := SpanToPoint(s, goldenOpts)
	for range 20 {
		require.True(t, cmp.Equal(first, SpanToPoint(s, goldenOpts), protocmp.Transform()))
	}
}
