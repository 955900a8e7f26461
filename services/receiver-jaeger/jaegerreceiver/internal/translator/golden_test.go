package translator

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/spanmodel/spanmodeltest"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

var update = flag.Bool("update", false, "rewrite the thrift fixtures from their builders and the golden files from the translator")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ptr[T any](v T) *T { return &v }

func strTag(k, v string) *jaeger.Tag {
	return &jaeger.Tag{Key: k, VType: jaeger.TagType_STRING, VStr: &v}
}

// shopBatch is what jaeger-client-go sends for a web request: root, a local child and an
// exit child with an error, plus process tags DataKit copies (project, version, env).
func shopBatch() *jaeger.Batch {
	const trace = 0x3c4d5e6f708192a3
	return &jaeger.Batch{
		Process: &jaeger.Process{ServiceName: "shop", Tags: []*jaeger.Tag{
			strTag("project", "mall"), strTag("version", "2.0.1"), strTag("env", "prod"),
			strTag("hostname", "web-1"), strTag("jaeger.version", "Go-2.30.0"),
		}},
		Spans: []*jaeger.Span{
			{TraceIdLow: trace, SpanId: 0x11, OperationName: "GET /cart", Flags: 1, StartTime: 1700000000000000, Duration: 12000,
				Tags: []*jaeger.Tag{
					strTag("span.kind", "server"), strTag("http.method", "GET"),
					{Key: "http.status_code", VType: jaeger.TagType_LONG, VLong: ptr(int64(200))},
					{Key: "sampler.param", VType: jaeger.TagType_BOOL, VBool: ptr(true)},
					{Key: "ratio", VType: jaeger.TagType_DOUBLE, VDouble: ptr(1e-7)},
					{Key: "big", VType: jaeger.TagType_DOUBLE, VDouble: ptr(1.5e21)},
					{Key: "blob", VType: jaeger.TagType_BINARY, VBinary: []byte("raw\xffbytes")},
				},
				Logs: []*jaeger.Log{{Timestamp: 1700000000000500, Fields: []*jaeger.Tag{strTag("event", "start")}}}},
			{TraceIdLow: trace, SpanId: 0x12, ParentSpanId: 0x11, OperationName: "load-cart", Flags: 1, StartTime: 1700000000001000, Duration: 8000},
			{TraceIdLow: trace, SpanId: 0x13, ParentSpanId: 0x12, OperationName: "SELECT cart", Flags: 1, StartTime: 1700000000002000, Duration: 3000,
				Tags: []*jaeger.Tag{strTag("db.statement", "SELECT * FROM cart"), {Key: "error", VType: jaeger.TagType_BOOL, VBool: ptr(true)}}},
			// 128-bit trace, parent given only as a CHILD_OF reference.
			{TraceIdHigh: 0x0a, TraceIdLow: 0, SpanId: -2, OperationName: "consume", StartTime: 1700000001000000, Duration: 10,
				References: []*jaeger.SpanRef{{RefType: jaeger.SpanRefType_CHILD_OF, TraceIdHigh: 0x0a, TraceIdLow: 0, SpanId: 0x21}}},
			{TraceIdHigh: 0x0a, TraceIdLow: 0, SpanId: 0x21, OperationName: "publish", StartTime: 1700000000900000, Duration: 50},
		},
	}
}

func writeBatch(b *jaeger.Batch) ([]byte, error) {
	buf := thrift.NewTMemoryBuffer()
	p := thrift.NewTBinaryProtocolConf(buf, nil)
	if err := b.Write(context.Background(), p); err != nil {
		return nil, err
	}
	return buf.Bytes(), p.Flush(context.Background())
}

// writeAgent is one agent datagram as jaeger-client-go's UDP sender writes it.
func writeAgent(b *jaeger.Batch, compact bool) ([]byte, error) {
	ctx := context.Background()
	buf := thrift.NewTMemoryBuffer()
	var p thrift.TProtocol = thrift.NewTBinaryProtocolConf(buf, nil)
	if compact {
		p = thrift.NewTCompactProtocolConf(buf, nil)
	}
	if err := p.WriteMessageBegin(ctx, "emitBatch", thrift.ONEWAY, 1); err != nil {
		return nil, err
	}
	if err := (&agent.AgentEmitBatchArgs{Batch: b}).Write(ctx, p); err != nil {
		return nil, err
	}
	if err := p.WriteMessageEnd(ctx); err != nil {
		return nil, err
	}
	return buf.Bytes(), p.Flush(ctx)
}

type goldenCase struct {
	name   string // testdata/<name> is the payload, testdata/<name>.golden.json the batch
	build  func() ([]byte, error)
	decode func([]byte) (*jaeger.Batch, error)
	opts   Options
}

func agentDecoder(compact bool) func([]byte) (*jaeger.Batch, error) {
	return func(b []byte) (*jaeger.Batch, error) { return DecodeAgent(b, compact) }
}

var goldenCases = []goldenCase{
	{name: "shop.batch.thrift", build: func() ([]byte, error) { return writeBatch(shopBatch()) }, decode: DecodeBatch},
	{name: "shop.compact.udp", build: func() ([]byte, error) { return writeAgent(shopBatch(), true) }, decode: agentDecoder(true)},
	{name: "shop.binary.udp", build: func() ([]byte, error) { return writeAgent(shopBatch(), false) }, decode: agentDecoder(false)},
	{name: "shop_options.batch.thrift", build: func() ([]byte, error) { return writeBatch(shopBatch()) }, decode: DecodeBatch, opts: Options{
		Tags:       map[string]string{"cluster": "eu-1", "span.kind": "from-input"},
		IgnoreTags: spanmodel.TagMatcher{regexp.MustCompile(`^db\.`), regexp.MustCompile(`^blob$`)},
		DelMessage: true,
	}},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.name)
			if *update {
				b, err := tc.build()
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(path, b, 0o644))
			}
			payload, err := os.ReadFile(path)
			require.NoError(t, err)
			want, err := tc.build()
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, payload), "%s is stale: run go test -update", path)

			b, err := tc.decode(payload)
			require.NoError(t, err)
			got := &spanv1.TraceBatch{Source: Source, Input: Source, Traces: ToTraces(b, tc.opts)}
			_, err = spanmodel.Marshal(got)
			require.NoError(t, err, "the batch must be publishable")

			spanmodeltest.CompareGolden(t, path+".golden.json", got, *update)
		})
	}
}
