package translator

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/spanmodel/spanmodeltest"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.uber.org/goleak"
	commonv3 "skywalking.apache.org/repo/goapi/collect/common/v3"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// goldenOptions are the input settings each golden case is converted with.
var goldenOptions = map[string]*Options{
	"entry_exit_local":       {},
	"entry_exit_local_proto": {},
	"cross_process":          {InputTags: map[string]string{"cluster": "eu-1", "url": "overridden by the span"}},
	"cross_process_proto":    {DelMessage: true},
	"plugins": {
		Plugins:    []string{"db.type", "cache.type", "mq.broker"},
		IgnoreTags: spanmodel.TagMatcher{regexp.MustCompile(`^internal\.`)},
	},
	"segments": {DelMessage: true},
}

func decodeFile(t *testing.T, path string) []*agentv3.SegmentObject {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	switch {
	case strings.HasSuffix(path, ".pb"):
		seg, err := DecodeSegment(data)
		require.NoError(t, err)
		return []*agentv3.SegmentObject{seg}
	case strings.HasPrefix(strings.TrimSpace(string(data)), "["):
		segs, err := DecodeJSONSegments(data)
		require.NoError(t, err)
		return segs
	default:
		seg, err := DecodeJSONSegment(data)
		require.NoError(t, err)
		return []*agentv3.SegmentObject{seg}
	}
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*")
	require.NoError(t, err)
	seen := 0
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") || !(strings.HasSuffix(in, ".json") || strings.HasSuffix(in, ".pb")) {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(in), ".json"), ".pb")
		opt, ok := goldenOptions[name]
		require.True(t, ok, "no goldenOptions entry for %s", in)
		seen++
		t.Run(name, func(t *testing.T) {
			spans, err := ConvertAll(decodeFile(t, in), opt)
			require.NoError(t, err)
			got := &spanv1.DatakitTrace{Spans: spans}
			spanmodeltest.CompareGolden(t, filepath.Join("testdata", name+".golden.json"), got, *update)
		})
	}
	assert.Equal(t, len(goldenOptions), seen, "every goldenOptions case has an input file")
}

func kv(k, v string) *commonv3.KeyStringValuePair {
	return &commonv3.KeyStringValuePair{Key: k, Value: v}
}

func TestConvertSpan(t *testing.T) {
	base := func(mod func(*agentv3.SpanObject)) *agentv3.SegmentObject {
		s := &agentv3.SpanObject{SpanId: 3, ParentSpanId: 1, StartTime: 1_000, EndTime: 1_500, OperationName: "op"}
		mod(s)
		return &agentv3.SegmentObject{TraceId: "T", TraceSegmentId: "S", Service: "svc", Spans: []*agentv3.SpanObject{s}}
	}
	tests := []struct {
		name  string
		seg   *agentv3.SegmentObject
		opt   *Options
		check func(t *testing.T, s *spanv1.DatakitSpan)
	}{
		{"ids and units", base(func(*agentv3.SpanObject) {}), nil, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, "S3", s.SpanId)
			assert.Equal(t, "S1", s.ParentId)
			assert.Equal(t, "T", s.TraceId)
			assert.Equal(t, int64(1_000_000_000), s.StartUnixNano)
			assert.Equal(t, int64(500_000_000), s.DurationNano)
			assert.Equal(t, "op", s.Resource)
			assert.Empty(t, s.Operation, "DataKit emits no operation tag for SkyWalking")
			assert.Equal(t, "skywalking", s.Source)
			assert.Equal(t, "custom", s.SourceType)
			assert.Equal(t, "ok", s.Status)
			assert.Nil(t, s.SamplingPriority)
		}},
		{"root parent", base(func(s *agentv3.SpanObject) { s.ParentSpanId = -1 }), nil, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, "0", s.ParentId)
		}},
		{"ref wins over in-segment parent", base(func(s *agentv3.SpanObject) {
			s.Refs = []*agentv3.SegmentReference{{ParentTraceSegmentId: "P", ParentSpanId: 7}, {ParentTraceSegmentId: "Q", ParentSpanId: 1}}
		}), nil, func(t *testing.T, s *spanv1.DatakitSpan) { assert.Equal(t, "P7", s.ParentId) }},
		{"nil ref ignored", base(func(s *agentv3.SpanObject) { s.Refs = []*agentv3.SegmentReference{nil}; s.ParentSpanId = -1 }), nil,
			func(t *testing.T, s *spanv1.DatakitSpan) { assert.Equal(t, "0", s.ParentId) }},
		{"error status", base(func(s *agentv3.SpanObject) { s.IsError = true }), nil, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, "error", s.Status)
		}},
		{"span types", base(func(s *agentv3.SpanObject) { s.SpanType = agentv3.SpanType_Exit }), nil, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, "exit", s.SpanType)
		}},
		{"unknown span type is entry", base(func(s *agentv3.SpanObject) { s.SpanType = 42 }), nil, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, "entry", s.SpanType)
		}},
		{"plugin turns span into entry of the tag's service", base(func(s *agentv3.SpanObject) {
			s.SpanType, s.SpanLayer = agentv3.SpanType_Exit, agentv3.SpanLayer_Database
			s.Tags = []*commonv3.KeyStringValuePair{kv("db.type", "postgresql"), kv("db.statement", "SELECT 1")}
		}), &Options{Plugins: []string{"db.type"}}, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, "postgresql", s.Service)
			assert.Equal(t, "entry", s.SpanType)
			assert.Equal(t, "db", s.SourceType)
			assert.Equal(t, "SELECT 1", s.Resource)
		}},
		{"plugin on a non-db layer keeps the operation as resource", base(func(s *agentv3.SpanObject) {
			s.SpanLayer = agentv3.SpanLayer_RPCFramework
			s.Tags = []*commonv3.KeyStringValuePair{kv("rpc.system", "dubbo"), kv("db.statement", "x")}
		}), &Options{Plugins: []string{"rpc.system"}}, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, "dubbo", s.Service)
			assert.Equal(t, "framework", s.SourceType)
			assert.Equal(t, "op", s.Resource)
		}},
		{"empty plugin tag does not match", base(func(s *agentv3.SpanObject) {
			s.Tags = []*commonv3.KeyStringValuePair{kv("db.type", "")}
		}), &Options{Plugins: []string{"db.type"}}, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, "svc", s.Service)
			assert.Equal(t, "custom", s.SourceType)
		}},
		{"tags: input tags, span override, ignore, peer, instance", func() *agentv3.SegmentObject {
			seg := base(func(s *agentv3.SpanObject) {
				s.Peer = "db:5432"
				s.Tags = []*commonv3.KeyStringValuePair{kv("env", "span"), kv("secret.token", "x"), nil, kv("a.b", "c")}
			})
			seg.ServiceInstance = "inst-1"
			return seg
		}(), &Options{
			InputTags:  map[string]string{"env": "input", "team": "core"},
			IgnoreTags: spanmodel.TagMatcher{regexp.MustCompile(`^secret`)},
		}, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Equal(t, map[string]string{
				"env": "span", "team": "core", "a_b": "c", "endpoint": "db:5432", "service_instance": "inst-1",
			}, s.Tags)
		}},
		{"message is the span JSON", base(func(s *agentv3.SpanObject) { s.SpanType = agentv3.SpanType_Local }), nil,
			func(t *testing.T, s *spanv1.DatakitSpan) {
				assert.JSONEq(t, `{"spanId":3,"parentSpanId":1,"startTime":1000,"endTime":1500,"operationName":"op","spanType":2}`, s.Message)
			}},
		{"del_message", base(func(*agentv3.SpanObject) {}), &Options{DelMessage: true}, func(t *testing.T, s *spanv1.DatakitSpan) {
			assert.Empty(t, s.Message)
			assert.Nil(t, s.Tags)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, err := Convert(nil, tt.seg, tt.opt)
			require.NoError(t, err)
			require.Len(t, spans, 1)
			tt.check(t, spans[0])
		})
	}
}

func TestConvertRefusesBadSegments(t *testing.T) {
	tests := []struct {
		name string
		segs []*agentv3.SegmentObject
		want string
	}{
		{"null", []*agentv3.SegmentObject{nil}, "segments[0]: invalid segment: null segment"},
		{"no trace id", []*agentv3.SegmentObject{{TraceSegmentId: "s"}}, `traceId is empty (segment "s")`},
		{"no segment id", []*agentv3.SegmentObject{{TraceId: "t"}, {TraceId: "t"}}, `segments[0]: invalid segment: traceSegmentId is empty (trace "t")`},
		{"second bad", []*agentv3.SegmentObject{{TraceId: "t", TraceSegmentId: "s"}, {}}, "segments[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConvertAll(tt.segs, nil)
			require.ErrorIs(t, err, ErrInvalidSegment)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	spans, err := ConvertAll([]*agentv3.SegmentObject{{TraceId: "t", TraceSegmentId: "s", Spans: []*agentv3.SpanObject{nil, {}}}}, nil)
	require.NoError(t, err)
	assert.Len(t, spans, 1, "null spans are skipped")
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte) error
		in     string
		want   string
	}{
		{"protobuf garbage", func(b []byte) error { _, err := DecodeSegment(b); return err }, "\xff\xff\xff", "protobuf SegmentObject"},
		{"json not an object", func(b []byte) error { _, err := DecodeJSONSegment(b); return err }, `[1]`, "JSON SegmentObject"},
		{"json bad number", func(b []byte) error { _, err := DecodeJSONSegment(b); return err }, `{"spans":[{"spanId":"one"}]}`, "spanId"},
		{"segments not an array", func(b []byte) error { _, err := DecodeJSONSegments(b); return err }, `{"traceId":"x"}`, "want an array"},
		{"segments empty body", func(b []byte) error { _, err := DecodeJSONSegments(b); return err }, ``, "want an array"},
		{"segments truncated", func(b []byte) error { _, err := DecodeJSONSegments(b); return err }, `[{"traceId":"x"}`, "JSON segments"},
		{"segments bad element", func(b []byte) error { _, err := DecodeJSONSegments(b); return err }, `[{"traceId":"x"},{"spans":7}]`, "JSON segments[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode([]byte(tt.in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrDecode), "%v wraps ErrDecode", err)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// DataKit stores encoding/json's rendering of the span; appendSpanJSON must match it byte
// for byte, including escaping.
func TestMessageMatchesEncodingJSON(t *testing.T) {
	odd := "<a href=\"x\">&amp;</a>\\\b\f\n\r\t\x00\x1f\x7f é \u2028\u2029 \xff\xfe 😀"
	spans := []*agentv3.SpanObject{
		{},
		{SpanId: -1, ParentSpanId: -2, StartTime: -3, EndTime: 1 << 62, SpanType: 7, SpanLayer: -1, ComponentId: 1, IsError: true, SkipAnalysis: true},
		{
			OperationName: odd, Peer: odd,
			Refs: []*agentv3.SegmentReference{nil, {}, {RefType: 1, TraceId: odd, ParentTraceSegmentId: "p", ParentSpanId: 3,
				ParentService: "s", ParentServiceInstance: "i", ParentEndpoint: "e", NetworkAddressUsedAtPeer: "n"}},
			Tags: []*commonv3.KeyStringValuePair{nil, {}, kv(odd, odd)},
			Logs: []*agentv3.Log{nil, {}, {Time: 5, Data: []*commonv3.KeyStringValuePair{kv("k", "v"), nil}}},
		},
		{Refs: []*agentv3.SegmentReference{}, Tags: []*commonv3.KeyStringValuePair{}, Logs: []*agentv3.Log{}},
	}
	for i, s := range spans {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendSpanJSON(nil, s)), "span %d", i)
	}
}
