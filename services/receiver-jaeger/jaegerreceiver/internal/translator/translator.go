// Package translator decodes Jaeger thrift (a collector Batch, or an agent emitBatch call
// in the compact or binary protocol) and turns its spans into DatakitSpans as DataKit's
// jaeger input does (datakit-spec §1.2). Pure: no I/O, no clock, no config.
package translator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/libs/thriftwire"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Source is the measurement and source tag of every span.
const Source = "jaeger"

// Options are the input settings the conversion needs.
type Options struct {
	// Tags are [inputs.jaeger.tags]; span tags override them.
	Tags map[string]string
	// IgnoreTags drops span tags whose key matches.
	IgnoreTags spanmodel.TagMatcher
	// DelMessage skips the message field (the span's JSON).
	DelMessage bool
}

// ErrTruncated is wrapped by decode errors caused by the payload ending mid-message (a
// datagram cut by the network or the sender's buffer).
var ErrTruncated = errors.New("payload truncated")

// protocol reads data in place (libs/thriftwire: apache/thrift's binary or compact protocol
// without a transport; the decoded strings point into data). Like apache's with
// MaxMessageSize = len(data), it bounds every length prefix by the payload size, so a
// forged length can't allocate gigabytes.
func protocol(data []byte, compact bool) thrift.TProtocol {
	if compact {
		return thriftwire.NewCompactNoCopy(data)
	}
	return thriftwire.NewBinaryNoCopy(data)
}

func decodeErr(what string, err error) error {
	var te thrift.TTransportException
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &te) && te.TypeId() == thrift.END_OF_FILE) {
		return fmt.Errorf("invalid %s: %w: %w", what, ErrTruncated, err)
	}
	return fmt.Errorf("invalid %s: %w", what, err)
}

// DecodeBatch decodes the body of the collector's /api/traces: a thrift binary Batch. The
// batch's strings and binaries point into data, which must not be modified afterwards.
func DecodeBatch(data []byte) (*jaeger.Batch, error) { return decodeBatch(protocol(data, false)) }

func decodeBatch(p thrift.TProtocol) (*jaeger.Batch, error) {
	b := jaeger.NewBatch()
	if err := b.Read(context.Background(), p); err != nil {
		return nil, decodeErr("jaeger thrift Batch", err)
	}
	return b, nil
}

// DecodeAgent decodes one agent datagram: an Agent.emitBatch call (oneway) in the compact
// (port 6831) or binary (6832) protocol. Like DecodeBatch, it keeps pointing into data.
func DecodeAgent(data []byte, compact bool) (*jaeger.Batch, error) {
	return decodeAgent(protocol(data, compact))
}

func decodeAgent(p thrift.TProtocol) (*jaeger.Batch, error) {
	ctx := context.Background()
	name, typ, _, err := p.ReadMessageBegin(ctx)
	if err != nil {
		return nil, decodeErr("jaeger agent message", err)
	}
	if name != "emitBatch" || (typ != thrift.ONEWAY && typ != thrift.CALL) {
		return nil, fmt.Errorf("invalid jaeger agent message: %q (type %d), want emitBatch", name, typ)
	}
	args := agent.NewAgentEmitBatchArgs()
	if err := args.Read(ctx, p); err != nil {
		return nil, decodeErr("jaeger agent emitBatch", err)
	}
	if err := p.ReadMessageEnd(ctx); err != nil {
		return nil, decodeErr("jaeger agent message", err)
	}
	if args.Batch == nil || args.Batch.Process == nil {
		return nil, errors.New("invalid jaeger agent emitBatch: no batch")
	}
	return args.Batch, nil
}

// SpanCount is the number of spans a batch carries.
func SpanCount(b *jaeger.Batch) int { return len(b.Spans) }

// ToTraces converts one batch.
func ToTraces(b *jaeger.Batch, opt Options) []*spanv1.DatakitTrace {
	if b == nil || len(b.Spans) == 0 {
		return nil
	}
	var service, project, version, env string
	if b.Process != nil {
		service = spanmodel.ValidString(b.Process.ServiceName)
		for _, t := range b.Process.Tags {
			if t == nil {
				continue
			}
			switch t.Key {
			case "project":
				project = spanmodel.ValidString(tagValue(t))
			case "version":
				version = spanmodel.ValidString(tagValue(t))
			case "env":
				env = spanmodel.ValidString(tagValue(t))
			}
		}
	}
	n := 0
	for _, s := range b.Spans {
		if s != nil {
			n++
		}
	}
	// The spans are one allocation, and their ids and messages are cut from one string
	// (spanmodel.TextBatch): they live and die with the batch anyway.
	store := make([]spanv1.DatakitSpan, n)
	out := make([]*spanv1.DatakitSpan, n)
	tb := spanmodel.GetTextBatch()
	defer tb.Release()
	var (
		keys spanmodel.TagKeys
		memo []keyMemo // by tag position
		// The spans' numeric ids for AssignSpanTypesByID: spanIDs[i], parentIDs[i].
		idStack [2 * 64]uint64
		ids     []uint64
	)
	if 2*n <= len(idStack) {
		ids = idStack[:2*n]
	} else {
		ids = make([]uint64, 2*n)
	}
	spanIDs, parentIDs := ids[:n], ids[n:]
	i := 0
	for _, s := range b.Spans {
		if s == nil {
			continue
		}
		ds := &store[i]
		out[i] = ds
		i++
		ds.Service = service
		ds.Resource = spanmodel.ValidString(s.OperationName)
		ds.Source = Source
		ds.SourceType = spanmodel.SourceTypeCustom
		ds.Project, ds.Version, ds.Env = project, version, env
		ds.StartUnixNano = s.StartTime * 1000
		ds.DurationNano = s.Duration * 1000
		ds.Status = spanmodel.StatusOK
		ds.Tags = spanmodel.NewTags(opt.Tags, len(s.Tags))
		if len(memo) < len(s.Tags) {
			memo = append(memo, make([]keyMemo, len(s.Tags)-len(memo))...)
		}
		for j, t := range s.Tags {
			if t == nil {
				continue
			}
			if t.Key == "error" {
				ds.Status = spanmodel.StatusError
			}
			m := &memo[j]
			if !m.set || m.raw != t.Key {
				m.reset(t.Key, &keys, opt.IgnoreTags)
			}
			if !m.ignored {
				ds.Tags[m.key] = m.value(t)
			}
		}

		start := len(tb.Buf)
		tb.Buf = appendTraceID(tb.Buf, uint64(s.TraceIdHigh), uint64(s.TraceIdLow))
		tb.Set(&ds.TraceId, start)
		start = len(tb.Buf)
		tb.Buf = spanmodel.AppendSpanIDByBase(tb.Buf, uint64(s.SpanId), 16)
		tb.Set(&ds.SpanId, start)
		start = len(tb.Buf)
		parent := parentOf(s)
		spanIDs[i-1], parentIDs[i-1] = uint64(s.SpanId), parent
		tb.Buf = spanmodel.AppendSpanIDByBase(tb.Buf, parent, 16)
		tb.Set(&ds.ParentId, start)
		if !opt.DelMessage {
			start = len(tb.Buf)
			var ok bool
			if tb.Buf, ok = appendMessage(tb.Buf, s, memo); ok {
				tb.Set(&ds.Message, start)
			} else {
				tb.Buf = tb.Buf[:start] // no message, as encoding/json fails on it
			}
			if i == 1 {
				// Room for the rest at this span's size: one growth, not log2(batch).
				tb.Buf = slices.Grow(tb.Buf, len(tb.Buf)*(n-1)+len(tb.Buf)/4)
			}
		}
	}
	tb.Flush()
	// The ids were printed one to one (AppendSpanIDByBase): the numbers decide alike.
	spanmodel.AssignSpanTypesByID(out, spanIDs, parentIDs)
	return spanmodel.GroupByTrace(out)
}

// keyMemo is what became of the last tag key seen at one position of a span's tags (its
// DataKit key, or ignored): a batch's spans mostly repeat one tag layout, and comparing two
// short strings is cheaper than the key memo's map lookup (spanmodel.TagKeys.Put) and the
// ignore_tags regexes.
type keyMemo struct {
	raw, key     string
	set, ignored bool
	// The last number formatted at this position (a status code, a port, a sampler
	// parameter mostly repeats across a batch): strconv allocates every string of 3+ digits.
	num     uint64 // the LONG or the DOUBLE's bits
	numType jaeger.TagType
	numSet  bool
	numStr  string
	// The message's `{"key":…,"vType":…` for this key and jsonType.
	json     string
	jsonType jaeger.TagType
}

// reset makes m the memo of the key raw.
func (m *keyMemo) reset(raw string, keys *spanmodel.TagKeys, ignore spanmodel.TagMatcher) {
	k := spanmodel.ValidString(raw)
	*m = keyMemo{raw: raw, set: true, ignored: len(ignore) > 0 && ignore.Match(k)}
	if !m.ignored {
		m.key = keys.Key(k)
	}
}

// value is t's DataKit tag value (tagValue, valid UTF-8), from the memo when it is the
// number last seen at this position.
func (m *keyMemo) value(t *jaeger.Tag) string {
	var n uint64
	switch {
	case t.VType == jaeger.TagType_STRING && t.VStr != nil: // tagValue's first case, inline
		return spanmodel.ValidString(*t.VStr)
	case t.VType == jaeger.TagType_LONG && t.VLong != nil:
		n = uint64(*t.VLong)
	case t.VType == jaeger.TagType_DOUBLE && t.VDouble != nil:
		n = math.Float64bits(*t.VDouble)
	default:
		return spanmodel.ValidString(tagValue(t))
	}
	if !m.numSet || m.numType != t.VType || m.num != n {
		m.num, m.numType, m.numSet, m.numStr = n, t.VType, true, tagValue(t)
	}
	return m.numStr
}

// appendTraceID is DataKit's Jaeger form: 32 hex digits when the high half is set,
// otherwise the low half in unpadded hex.
func appendTraceID(b []byte, high, low uint64) []byte {
	if high != 0 {
		return spanmodel.AppendHex128(b, high, low)
	}
	return strconv.AppendUint(b, low, 16)
}

// parentOf is parentSpanId, or for tracers that only fill references (newer Jaeger SDKs,
// OpenTelemetry's Jaeger exporter) the CHILD_OF reference within the same trace.
func parentOf(s *jaeger.Span) uint64 {
	if s.ParentSpanId != 0 {
		return uint64(s.ParentSpanId)
	}
	for _, r := range s.References {
		if r != nil && r.RefType == jaeger.SpanRefType_CHILD_OF && r.TraceIdLow == s.TraceIdLow && r.TraceIdHigh == s.TraceIdHigh {
			return uint64(r.SpanId)
		}
	}
	return 0
}

// tagValue renders a tag as DataKit does: doubles as plain decimals without exponent,
// binary as raw text.
func tagValue(t *jaeger.Tag) string {
	switch t.VType {
	case jaeger.TagType_STRING:
		if t.VStr != nil {
			return *t.VStr
		}
	case jaeger.TagType_DOUBLE:
		if t.VDouble != nil {
			return strconv.FormatFloat(*t.VDouble, 'f', -1, 64)
		}
	case jaeger.TagType_BOOL:
		if t.VBool != nil {
			return strconv.FormatBool(*t.VBool)
		}
	case jaeger.TagType_LONG:
		if t.VLong != nil {
			return strconv.FormatInt(*t.VLong, 10)
		}
	case jaeger.TagType_BINARY:
		return string(t.VBinary)
	}
	return ""
}
