package translator

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tracekit/tracekit/libs/spanmodel/spanmodeltest"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

var update = flag.Bool("update", false, "rewrite the msgpack fixtures from their builders and the golden files from the translator")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func defaultOptions() Options { return Options{Trace128BitID: true} }

type goldenCase struct {
	name   string // testdata/<name> is the payload, testdata/<name>.golden.json the batch
	build  func() []byte
	decode func([]byte) (ddwire.Traces, error)
	opts   func() Options
}

func marshal(m interface{ MarshalMsg([]byte) ([]byte, error) }) func() []byte {
	return func() []byte {
		b, err := m.MarshalMsg(nil)
		if err != nil {
			panic(err)
		}
		return b
	}
}

func v04(b []byte) (ddwire.Traces, error)     { return ddwire.DecodeTraces(b, ddwire.MsgPack) }
func v03JSON(b []byte) (ddwire.Traces, error) { return ddwire.DecodeTraces(b, ddwire.JSON) }
func v01JSON(b []byte) (ddwire.Traces, error) { return ddwire.DecodeSpans(b, ddwire.JSON) }

var goldenCases = []goldenCase{
	{name: "web_sql.v04.msgpack", build: marshal(webSQL()), decode: v04},
	{name: "web_sql_64bit_hex.v04.msgpack", build: marshal(webSQL()), decode: v04, opts: func() Options {
		o := defaultOptions()
		o.TraceID64BitHex = true
		return o
	}},
	{name: "web_sql_no_128bit.v04.msgpack", build: marshal(webSQL()), decode: v04, opts: func() Options { return Options{DelMessage: true} }},
	{name: "errors_404.v04.msgpack", build: marshal(errors404()), decode: v04},
	{name: "priorities.v04.msgpack", build: marshal(priorities()), decode: v04},
	{name: "customer_tags.v04.msgpack", build: marshal(customerTags()), decode: v04, opts: func() Options {
		o := defaultOptions()
		o.CompatibleOTel = true
		o.CustomerTags = []string{"order.id", "big.blob", "reg:^user\\."}
		o.Tags = map[string]string{"cluster": "eu-1", "host": "input-host", "env": "from-input", "service": "ignored"}
		return o
	}},
	{name: "numeric_variants.v04.msgpack", build: numericVariants, decode: v04},
	{name: "dict.v05.msgpack", build: v05Dict, decode: ddwire.DecodeV05},
	{name: "chunks.v07.msgpack", build: marshal(ptr(chunksV07())), decode: ddwire.DecodeV07},
	{name: "web.v03.json", decode: v03JSON},
	{name: "flat.v01.json", decode: v01JSON},
}

func ptr[T any](v T) *T { return &v }

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.name)
			if *update && tc.build != nil {
				require.NoError(t, os.WriteFile(path, tc.build(), 0o644))
			}
			payload, err := os.ReadFile(path)
			require.NoError(t, err)
			traces, err := tc.decode(payload)
			require.NoError(t, err)
			opts := defaultOptions()
			if tc.opts != nil {
				opts = tc.opts()
			}
			tr, err := New(opts)
			require.NoError(t, err)
			got := &spanv1.TraceBatch{Source: Source, Input: "ddtrace", Traces: tr.Convert(traces, "10.0.0.7")}

			spanmodeltest.CompareGolden(t, path+".golden.json", got, *update)
		})
	}
}

// The fixtures on disk must be what their builders write, so nobody edits a binary file
// by hand and forgets the builder.
func TestFixturesMatchBuilders(t *testing.T) {
	for _, tc := range goldenCases {
		if tc.build == nil {
			continue
		}
		onDisk, err := os.ReadFile(filepath.Join("testdata", tc.name))
		require.NoError(t, err)
		// builders that range over maps (v0.5 metrics) are deterministic only up to map
		// order; decode both sides and compare the traces instead of the bytes.
		want, err := tc.decode(tc.build())
		require.NoError(t, err)
		got, err := tc.decode(onDisk)
		require.NoError(t, err)
		require.Equal(t, want, got, tc.name)
	}
}
