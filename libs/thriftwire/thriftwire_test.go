package thriftwire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/google/go-cmp/cmp"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tracekit/tracekit/libs/thriftwire/thriftwiretest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// library is the reference: apache/thrift's own protocol.
var library = thriftwiretest.Library

func ours(data []byte, compact bool) thrift.TProtocol {
	if compact {
		return NewCompact(data)
	}
	return NewBinary(data)
}

// oursNoCopy reads a private copy, so that the library's reader of data can't be affected.
func oursNoCopy(data []byte, compact bool) thrift.TProtocol {
	data = bytes.Clone(data)
	if compact {
		return NewCompactNoCopy(data)
	}
	return NewBinaryNoCopy(data)
}

func remaining(p thrift.TProtocol) int {
	switch p := p.(type) {
	case *Binary:
		return p.Remaining()
	case *Compact:
		return p.Remaining()
	}
	return p.Transport().(*thrift.TMemoryBuffer).Len()
}

func ptr[T any](v T) *T { return &v }

func sampleBatch() *jaeger.Batch {
	s := "v"
	return &jaeger.Batch{
		Process: &jaeger.Process{ServiceName: "svc", Tags: []*jaeger.Tag{{Key: "host", VType: jaeger.TagType_STRING, VStr: &s}}},
		Spans: []*jaeger.Span{{
			TraceIdLow: -9, TraceIdHigh: 7, SpanId: 1 << 40, ParentSpanId: -1, OperationName: "op", Flags: 1,
			StartTime: 1700000000000000, Duration: 12,
			References: []*jaeger.SpanRef{{RefType: jaeger.SpanRefType_FOLLOWS_FROM, TraceIdLow: 1, SpanId: 2}},
			Tags: []*jaeger.Tag{
				{Key: "d", VType: jaeger.TagType_DOUBLE, VDouble: ptr(-0.25)},
				{Key: "b", VType: jaeger.TagType_BOOL, VBool: ptr(true)},
				{Key: "f", VType: jaeger.TagType_BOOL, VBool: ptr(false)},
				{Key: "l", VType: jaeger.TagType_LONG, VLong: ptr(int64(math.MinInt64))},
				{Key: "bin", VType: jaeger.TagType_BINARY, VBinary: []byte{0, 1, 0xff}},
				{Key: "empty", VType: jaeger.TagType_BINARY, VBinary: []byte{}},
				{Key: string(bytes.Repeat([]byte("k"), 300)), VType: jaeger.TagType_STRING, VStr: ptr("")},
			},
			Logs: []*jaeger.Log{{Timestamp: 5, Fields: []*jaeger.Tag{{Key: "event", VType: jaeger.TagType_STRING, VStr: &s}}}},
		}},
		SeqNo: ptr(int64(3)),
		Stats: &jaeger.ClientStats{FullQueueDroppedSpans: 1, TooLargeDroppedSpans: 2, FailedToEmitSpans: 3},
	}
}

func encode(t testing.TB, compact bool, write func(context.Context, thrift.TProtocol) error) []byte {
	t.Helper()
	buf := thrift.NewTMemoryBuffer()
	var p thrift.TProtocol = thrift.NewTBinaryProtocolConf(buf, nil)
	if compact {
		p = thrift.NewTCompactProtocolConf(buf, nil)
	}
	require.NoError(t, write(context.Background(), p))
	require.NoError(t, p.Flush(context.Background()))
	return buf.Bytes()
}

func encodeAgent(t testing.TB, compact bool, b *jaeger.Batch) []byte {
	return encode(t, compact, func(ctx context.Context, p thrift.TProtocol) error {
		if err := p.WriteMessageBegin(ctx, "emitBatch", thrift.ONEWAY, 1); err != nil {
			return err
		}
		if err := (&agent.AgentEmitBatchArgs{Batch: b}).Write(ctx, p); err != nil {
			return err
		}
		return p.WriteMessageEnd(ctx)
	})
}

func encodeZipkin(t testing.TB) []byte {
	ep := &zipkincore.Endpoint{Ipv4: 1, Port: -2, ServiceName: "z", Ipv6: []byte{1, 2}}
	spans := []*zipkincore.Span{{
		TraceID: 1, ID: 2, Name: "n", ParentID: ptr(int64(3)), Debug: true, Timestamp: ptr(int64(4)), Duration: ptr(int64(5)),
		TraceIDHigh: ptr(int64(6)),
		Annotations: []*zipkincore.Annotation{{Timestamp: 7, Value: "sr", Host: ep}},
		BinaryAnnotations: []*zipkincore.BinaryAnnotation{
			{Key: "k", Value: []byte("v"), AnnotationType: zipkincore.AnnotationType_STRING, Host: ep},
			{Key: "e", Value: nil, AnnotationType: zipkincore.AnnotationType_BYTES},
		},
	}}
	return encode(t, false, func(ctx context.Context, p thrift.TProtocol) error {
		if err := p.WriteListBegin(ctx, thrift.STRUCT, len(spans)); err != nil {
			return err
		}
		for _, s := range spans {
			if err := s.Write(ctx, p); err != nil {
				return err
			}
		}
		return p.WriteListEnd(ctx)
	})
}

// decoders are the generated Read methods the receivers drive, each returning what it
// decoded.
var decoders = map[string]func(context.Context, thrift.TProtocol) (any, error){
	"batch": func(ctx context.Context, p thrift.TProtocol) (any, error) {
		b := jaeger.NewBatch()
		return b, b.Read(ctx, p)
	},
	"agent": func(ctx context.Context, p thrift.TProtocol) (any, error) {
		name, typ, seq, err := p.ReadMessageBegin(ctx)
		if err != nil {
			return nil, err
		}
		args := agent.NewAgentEmitBatchArgs()
		if err := args.Read(ctx, p); err != nil {
			return nil, err
		}
		return []any{name, typ, seq, args}, p.ReadMessageEnd(ctx)
	},
	"zipkin": func(ctx context.Context, p thrift.TProtocol) (any, error) {
		_, n, err := p.ReadListBegin(ctx)
		if err != nil {
			return nil, err
		}
		var spans []*zipkincore.Span
		for range n {
			s := zipkincore.NewSpan()
			if err := s.Read(ctx, p); err != nil {
				return nil, err
			}
			spans = append(spans, s)
		}
		return spans, p.ReadListEnd(ctx)
	},
}

// walk reads one value of type t as thrift.Skip does, logging every value read, so that two
// protocols can be compared read by read on any input.
func walk(ctx context.Context, p thrift.TProtocol, t thrift.TType, depth int, log *[]any) error {
	if depth <= 0 {
		return errors.New("depth")
	}
	var (
		v   any
		err error
	)
	switch t {
	case thrift.BOOL:
		v, err = p.ReadBool(ctx)
	case thrift.BYTE:
		v, err = p.ReadByte(ctx)
	case thrift.I16:
		v, err = p.ReadI16(ctx)
	case thrift.I32:
		v, err = p.ReadI32(ctx)
	case thrift.I64:
		v, err = p.ReadI64(ctx)
	case thrift.DOUBLE:
		var f float64
		f, err = p.ReadDouble(ctx)
		v = math.Float64bits(f) // NaN != NaN
	case thrift.STRING:
		// Alternate string and binary reads: both decode the same bytes.
		if len(*log)%2 == 0 {
			v, err = p.ReadString(ctx)
		} else {
			v, err = p.ReadBinary(ctx)
		}
	case thrift.UUID:
		v, err = p.ReadUUID(ctx)
	case thrift.STRUCT:
		if _, err := p.ReadStructBegin(ctx); err != nil {
			return err
		}
		for {
			_, ft, id, err := p.ReadFieldBegin(ctx)
			if err != nil {
				return err
			}
			*log = append(*log, []any{"field", ft, id})
			if ft == thrift.STOP {
				break
			}
			if err := walk(ctx, p, ft, depth-1, log); err != nil {
				return err
			}
			if err := p.ReadFieldEnd(ctx); err != nil {
				return err
			}
		}
		return p.ReadStructEnd(ctx)
	case thrift.MAP:
		kt, vt, n, err := p.ReadMapBegin(ctx)
		if err != nil {
			return err
		}
		*log = append(*log, []any{"map", kt, vt, n})
		for range n {
			if err := walk(ctx, p, kt, depth-1, log); err != nil {
				return err
			}
			if err := walk(ctx, p, vt, depth-1, log); err != nil {
				return err
			}
		}
		return p.ReadMapEnd(ctx)
	case thrift.LIST, thrift.SET:
		var (
			et thrift.TType
			n  int
		)
		if t == thrift.LIST {
			et, n, err = p.ReadListBegin(ctx)
		} else {
			et, n, err = p.ReadSetBegin(ctx)
		}
		if err != nil {
			return err
		}
		*log = append(*log, []any{"list", et, n})
		for range n {
			if err := walk(ctx, p, et, depth-1, log); err != nil {
				return err
			}
		}
		return p.ReadListEnd(ctx)
	default:
		return errors.New("unknown type")
	}
	if err != nil {
		return err
	}
	*log = append(*log, v)
	return nil
}

// walkTypes are the value types a walk starts with, picked by the input's first byte.
var walkTypes = []thrift.TType{thrift.STRUCT, thrift.LIST, thrift.MAP, thrift.SET, thrift.STRING, thrift.I64, thrift.DOUBLE, thrift.UUID, thrift.BOOL}

// equate tells nil from empty: encoding/json does (the Zipkin message is its output).
var equate = cmp.Options{}

// differential checks that ours reads data exactly as apache/thrift does: read by read in
// a walk, and through every generated decoder. Errors must match in error-ness and in
// truncation (io.EOF / io.ErrUnexpectedEOF) when apache's is a truncation and a string's.
func differential(t *testing.T, data []byte, compact bool) {
	t.Helper()
	ctx := context.Background()
	if len(data) > 0 {
		typ := walkTypes[int(data[0])%len(walkTypes)]
		body := data[1:]
		for _, message := range []bool{false, true} {
			logs := [2][]any{{}, {}} // not nil: a cut library log is empty, not nil
			var errs [2]error
			var rest [2]int
			for i, p := range []thrift.TProtocol{library(body, compact), ours(body, compact)} {
				if message {
					name, mt, seq, err := p.ReadMessageBegin(ctx)
					if errs[i] = err; err == nil {
						logs[i] = append(logs[i], name, mt, seq)
					}
				}
				if errs[i] == nil {
					errs[i] = walk(ctx, p, typ, 16, &logs[i])
				}
				rest[i] = remaining(p)
			}
			if (errs[0] == nil) != (errs[1] == nil) {
				t.Fatalf("walk %v (message %v): library error %v, ours %v", typ, message, errs[0], errs[1])
			}
			if errs[0] != nil && len(logs[1]) <= len(logs[0]) {
				// Ours may stop earlier: a container longer than the bytes left fails at
				// its header, the library's at its first missing element.
				logs[0] = logs[0][:len(logs[1])]
			}
			if diff := cmp.Diff(logs[0], logs[1], equate); diff != "" {
				t.Fatalf("walk %v (message %v) differs (-library +ours):\n%s", typ, message, diff)
			}
			if errs[0] == nil && rest[0] != rest[1] {
				t.Fatalf("walk %v (message %v): library left %d bytes, ours %d", typ, message, rest[0], rest[1])
			}
		}
	}
	for name, decode := range decoders {
		if compact && name == "zipkin" {
			continue
		}
		want, werr := decode(ctx, library(data, compact))
		for _, p := range []thrift.TProtocol{ours(data, compact), oursNoCopy(data, compact)} {
			got, gerr := decode(ctx, p)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%s (%T): library error %v, ours %v", name, p, werr, gerr)
			}
			if werr != nil {
				continue
			}
			if diff := cmp.Diff(want, got, equate); diff != "" {
				t.Fatalf("%s (%T) differs (-library +ours):\n%s", name, p, diff)
			}
		}
	}
}

func seeds(t testing.TB, compact bool) [][]byte {
	b := sampleBatch()
	out := [][]byte{
		encode(t, compact, b.Write),
		encodeAgent(t, compact, b),
	}
	if !compact {
		out = append(out, encodeZipkin(t))
	}
	return out
}

func TestDifferentialSeedsAndPrefixes(t *testing.T) {
	for _, compact := range []bool{false, true} {
		for _, s := range seeds(t, compact) {
			// About a hundred cuts per payload (the fuzz targets try the rest).
			for n := 0; n <= len(s); n += 1 + len(s)/101 {
				differential(t, s[:n], compact)
				differential(t, append([]byte{0}, s[:n]...), compact) // walked as a struct
			}
		}
	}
}

// TestTruncationIsEOF: every cut payload fails as a truncation (or, as apache's, as a size
// limit when a length passes the whole payload), so callers can tell a
// datagram cut short from a malformed one. (apache's reader is not consistent here: a cut
// at a field header gives a bare io.EOF that thrift.PrependError turns into a plain error.)
func TestTruncationIsEOF(t *testing.T) {
	ctx := context.Background()
	for _, compact := range []bool{false, true} {
		s := encode(t, compact, sampleBatch().Write)
		for n := 0; n < len(s); n++ {
			require.Error(t, jaeger.NewBatch().Read(ctx, library(s[:n], compact)))
			err := jaeger.NewBatch().Read(ctx, ours(s[:n], compact))
			var pe thrift.TProtocolException
			if errors.As(err, &pe) && pe.TypeId() == thrift.SIZE_LIMIT {
				continue // a length longer than the whole cut payload, as apache's reports it
			}
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "compact %v, %d of %d bytes", compact, n, len(s))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, compact := range []bool{false, true} {
		got := jaeger.NewBatch()
		require.NoError(t, got.Read(ctx, ours(encode(t, compact, sampleBatch().Write), compact)))
		require.Empty(t, cmp.Diff(sampleBatch(), got))
	}
}

// TestHostileLengths: lengths the payload cannot hold fail before anything is allocated
// for them; the library fails on them too.
func TestHostileLengths(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		compact bool
		typ     thrift.TType
		data    []byte
		sizeErr bool // SIZE_LIMIT (longer than the payload) rather than a truncation
	}{
		{"binary string", false, thrift.STRING, []byte{0x7f, 0xff, 0xff, 0xff, 'a'}, true},
		{"binary bytes", false, thrift.STRING, []byte{0, 0, 0, 5, 'a', 'b', 'c', 'd'}, false},
		{"binary negative", false, thrift.STRING, []byte{0xff, 0xff, 0xff, 0xff}, false},
		{"binary list", false, thrift.LIST, []byte{thrift.STRUCT, 0x10, 0, 0, 0}, true},
		{"binary map", false, thrift.MAP, []byte{thrift.STRING, thrift.STRING, 0, 0, 0, 9, 1, 2}, false},
		{"compact list", true, thrift.LIST, []byte{0xfc, 0xff, 0xff, 0xff, 0x7f}, true},
		{"compact string", true, thrift.STRING, []byte{0x05, 'a'}, true},
		{"compact map", true, thrift.MAP, []byte{0x03, 0x88, 0}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, library(tc.data, tc.compact).Skip(ctx, tc.typ), "the library accepts it")
			err := ours(tc.data, tc.compact).Skip(ctx, tc.typ)
			require.Error(t, err)
			var pe thrift.TProtocolException
			if tc.sizeErr {
				require.True(t, errors.As(err, &pe) && pe.TypeId() == thrift.SIZE_LIMIT, "%v", err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 100 {
				_ = ours(tc.data, tc.compact).Skip(ctx, tc.typ)
			}
			runtime.ReadMemStats(&after)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(100*1024), "bytes allocated by 100 reads")
		})
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	for _, p := range []thrift.TProtocol{NewBinary([]byte{0x85}), NewCompact([]byte{0x85})} {
		require.Error(t, p.WriteString(ctx, "x"))
		require.Error(t, p.WriteByte(ctx, 1))
		require.Error(t, p.WriteMessageBegin(ctx, "x", thrift.CALL, 1))
		require.NoError(t, p.Flush(ctx))
		require.Equal(t, uint64(1), p.Transport().RemainingBytes())
		_, err := p.Transport().Write([]byte("x"))
		require.Error(t, err)

		b, err := p.ReadByte(ctx) // apache's ReadByte over this package's transport
		require.NoError(t, err)
		require.Equal(t, int8(-123), b)
		_, err = p.ReadByte(ctx)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		n, err := p.Transport().Read(make([]byte, 1))
		require.Equal(t, 0, n)
		require.ErrorIs(t, err, io.EOF)
	}
}

// TestResetAndSharing: a reset reader starts over, and what it returned before stays valid
// (it is not in the caller's buffer, which may be reused).
func TestResetAndSharing(t *testing.T) {
	ctx := context.Background()
	data := encode(t, false, sampleBatch().Write)
	p := NewBinary(data)
	first := jaeger.NewBatch()
	require.NoError(t, first.Read(ctx, p))
	clear(data)
	require.Equal(t, "svc", first.Process.ServiceName)
	require.Equal(t, []byte{0, 1, 0xff}, first.Spans[0].Tags[4].VBinary)

	data = encode(t, true, sampleBatch().Write)
	c := NewCompact([]byte{0xff})
	_, _ = c.ReadStructBegin(ctx)
	_, _, _, _ = c.ReadFieldBegin(ctx)
	c.Reset(data)
	second := jaeger.NewBatch()
	require.NoError(t, second.Read(ctx, c))
	require.Equal(t, 0, c.Remaining())
	require.Empty(t, cmp.Diff(first, second, equate))

	// NoCopy shares the payload instead.
	data = encode(t, false, sampleBatch().Write)
	shared := jaeger.NewBatch()
	require.NoError(t, shared.Read(ctx, NewBinaryNoCopy(data)))
	require.Empty(t, cmp.Diff(first, shared, equate))
	bin := shared.Spans[0].Tags[4].VBinary
	require.Equal(t, len(bin), cap(bin), "a binary can't be appended to over the payload")
	i := bytes.Index(data, []byte("svc"))
	data[i] = 'S'
	require.Equal(t, "Svc", shared.Process.ServiceName)
}

func fuzz(f *testing.F, compact bool) {
	for _, s := range seeds(f, compact) {
		f.Add(s)
		f.Add(append([]byte{0}, s...))
		f.Add(s[:len(s)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) { differential(t, data, compact) })
}

func FuzzBinary(f *testing.F) { fuzz(f, false) }

func FuzzCompact(f *testing.F) { fuzz(f, true) }

// TestFieldHeaderAndVarintEdges walks structs made of every field header byte (and every
// one-byte varint) against apache's, at every distance from the payload's end: the fast
// paths of ReadFieldBegin, ReadI32 and ReadI64 hand the unusual cases (bool headers, long
// forms, unknown types, a header or value cut short) to the general reader.
func TestFieldHeaderAndVarintEdges(t *testing.T) {
	for b := range 256 {
		h := byte(b)
		for _, tail := range [][]byte{nil, {0x00}, {0x80, 0x01, 0x00}, {h, h, 0x00}} {
			// Compact: header h then a value; a long-form header (0x0T, zigzag id) of
			// type h's low nibble; an id delta past int16 (long form near the top).
			for _, body := range [][]byte{
				append([]byte{h}, tail...),
				append([]byte{0x16, h, 0x26, 0x00}, tail...),
				append([]byte{h & 0x0f, h, 0x00}, tail...),
				append([]byte{0x06, 0xfe, 0xff, 0x03, 0x00, 0xf6, h}, tail...),
			} {
				for n := 0; n <= len(body); n++ {
					differential(t, append([]byte{0}, body[:n]...), true)
				}
			}
			// Binary: type h with a big-endian id, at 0 to 3+ bytes from the end.
			body := append([]byte{h, 0x7f, h, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05}, tail...)
			for n := 0; n <= len(body); n++ {
				differential(t, append([]byte{0}, body[:n]...), false)
			}
		}
	}
}
