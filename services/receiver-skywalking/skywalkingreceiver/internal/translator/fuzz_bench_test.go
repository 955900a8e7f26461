package translator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/spanmodel"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	commonv3 "skywalking.apache.org/repo/goapi/collect/common/v3"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
)

var fuzzOptions = &Options{
	Plugins:    []string{"db.type"},
	IgnoreTags: spanmodel.TagMatcher{regexp.MustCompile(`^x`)},
	InputTags:  map[string]string{"k": "v"},
}

func addSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	require.NoError(f, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b)
	}
}

// FuzzDecodeSegment feeds arbitrary bytes to the /v3/trace and gRPC decoder and the converter.
func FuzzDecodeSegment(f *testing.F) {
	addSeeds(f, "*.pb")
	b, err := proto.Marshal(benchSegment(4))
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		seg, err := DecodeSegment(data)
		if err != nil {
			return
		}
		_, _ = Convert(nil, seg, fuzzOptions)
		for _, sp := range seg.Spans {
			checkMessage(t, sp)
		}
	})
}

func checkMessage(t *testing.T, sp *agentv3.SpanObject) {
	if sp == nil {
		return
	}
	want, err := json.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendSpanJSON(nil, sp); string(got) != string(want) {
		t.Fatalf("message differs from encoding/json:\n got %s\nwant %s", got, want)
	}
}

// FuzzDecodeJSONSegments feeds arbitrary bytes to the OAP JSON decoders (/v3/segment and
// /v3/segments) and the converter.
func FuzzDecodeJSONSegments(f *testing.F) {
	addSeeds(f, "*.json")
	f.Add([]byte(`[]`))
	f.Add([]byte(`[null]`))
	f.Add([]byte(`{"traceId":"t","traceSegmentId":"s","spans":[{"refs":[{}],"parentSpanId":-1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if segs, err := DecodeJSONSegments(data); err == nil {
			_, _ = ConvertAll(segs, fuzzOptions)
			for _, seg := range segs {
				for _, sp := range seg.GetSpans() {
					checkMessage(t, sp)
				}
			}
		}
		if seg, err := DecodeJSONSegment(data); err == nil {
			_, _ = Convert(nil, seg, fuzzOptions)
		}
	})
}

// benchSegment is a go2sky-like segment: an HTTP entry, locals and exits with a few tags.
func benchSegment(n int) *agentv3.SegmentObject {
	seg := &agentv3.SegmentObject{
		TraceId:         "4b2a1f6e2d3c11efa0b10242ac120002",
		TraceSegmentId:  "4b2a1f6f2d3c11efa0b10242ac120002",
		Service:         "checkout",
		ServiceInstance: "checkout-7d9f6c@10.0.0.5",
	}
	for i := 0; i < n; i++ {
		s := &agentv3.SpanObject{
			SpanId: int32(i), ParentSpanId: int32(i - 1),
			StartTime: 1_700_000_000_000 + int64(i), EndTime: 1_700_000_000_100 + int64(i),
			OperationName: fmt.Sprintf("/api/v1/orders/%d", i),
			SpanType:      agentv3.SpanType(i % 3), SpanLayer: agentv3.SpanLayer_Http, ComponentId: 5004,
			Tags: []*commonv3.KeyStringValuePair{
				{Key: "http.method", Value: "POST"}, {Key: "url", Value: "http://checkout:8080/api/v1/orders"},
				{Key: "status_code", Value: "200"},
			},
		}
		if i%3 == 1 {
			s.Peer = "stock:8080"
		}
		if i == 0 {
			s.Refs = []*agentv3.SegmentReference{{
				TraceId: seg.TraceId, ParentTraceSegmentId: "4b2a1f702d3c11efa0b10242ac120002", ParentSpanId: 2,
				ParentService: "gateway", ParentServiceInstance: "gw-1", ParentEndpoint: "/orders", NetworkAddressUsedAtPeer: "checkout:8080",
			}}
		}
		seg.Spans = append(seg.Spans, s)
	}
	return seg
}

const benchSpans = 20

func BenchmarkDecodeConvertProtobuf(b *testing.B) {
	data, err := proto.Marshal(benchSegment(benchSpans))
	require.NoError(b, err)
	opt := &Options{Plugins: []string{"db.type"}, InputTags: map[string]string{"cluster": "eu"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		seg, err := DecodeSegment(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Convert(nil, seg, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchSpans*b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(benchSpans*b.N), "ns/span")
}

func BenchmarkDecodeConvertJSON(b *testing.B) {
	one, err := protojson.Marshal(benchSegment(benchSpans))
	require.NoError(b, err)
	data := append(append([]byte{'['}, one...), ']')
	opt := &Options{Plugins: []string{"db.type"}, InputTags: map[string]string{"cluster": "eu"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		segs, err := DecodeJSONSegments(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ConvertAll(segs, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchSpans*b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(benchSpans*b.N), "ns/span")
}
