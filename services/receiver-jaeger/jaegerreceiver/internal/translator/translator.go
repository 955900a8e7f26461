// Package translator decodes Jaeger thrift (a collector Batch, or an agent emitBatch call
// in the compact or binary protocol) and turns its spans into DatakitSpans as DataKit's
// jaeger input does (datakit-spec §1.2). Pure: no I/O, no clock, no config.
package translator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"

	"github.com/tracekit/tracekit/libs/spanmodel"
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

// protocol bounds every length prefix by the payload size: a list can't hold more elements
// than the payload has bytes, so a forged length can't allocate gigabytes.
func protocol(data []byte, compact bool) thrift.TProtocol {
	t := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(data)}
	cfg := &thrift.TConfiguration{MaxMessageSize: int32(min(max(len(data), 1), math.MaxInt32))}
	if compact {
		return thrift.NewTCompactProtocolConf(t, cfg)
	}
	return thrift.NewTBinaryProtocolConf(t, cfg)
}

func decodeErr(what string, err error) error {
	var te thrift.TTransportException
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &te) && te.TypeId() == thrift.END_OF_FILE) {
		return fmt.Errorf("invalid %s: %w: %w", what, ErrTruncated, err)
	}
	return fmt.Errorf("invalid %s: %w", what, err)
}

// DecodeBatch decodes the body of the collector's /api/traces: a thrift binary Batch.
func DecodeBatch(data []byte) (*jaeger.Batch, error) {
	b := jaeger.NewBatch()
	if err := b.Read(context.Background(), protocol(data, false)); err != nil {
		return nil, decodeErr("jaeger thrift Batch", err)
	}
	return b, nil
}

// DecodeAgent decodes one agent datagram: an Agent.emitBatch call (oneway) in the compact
// (port 6831) or binary (6832) protocol.
func DecodeAgent(data []byte, compact bool) (*jaeger.Batch, error) {
	ctx := context.Background()
	p := protocol(data, compact)
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
	out := make([]*spanv1.DatakitSpan, 0, len(b.Spans))
	var (
		msg  []byte // reused: each span's message is copied out of it
		keys spanmodel.TagKeys
	)
	for _, s := range b.Spans {
		if s == nil {
			continue
		}
		ds := &spanv1.DatakitSpan{
			TraceId:       traceID(uint64(s.TraceIdHigh), uint64(s.TraceIdLow)),
			SpanId:        spanmodel.FormatSpanIDByBase(uint64(s.SpanId), 16),
			ParentId:      spanmodel.FormatSpanIDByBase(parentOf(s), 16),
			Service:       service,
			Resource:      spanmodel.ValidString(s.OperationName),
			Source:        Source,
			SourceType:    spanmodel.SourceTypeCustom,
			Project:       project,
			Version:       version,
			Env:           env,
			StartUnixNano: s.StartTime * 1000,
			DurationNano:  s.Duration * 1000,
			Status:        spanmodel.StatusOK,
			Tags:          spanmodel.NewTags(opt.Tags, len(s.Tags)),
		}
		for _, t := range s.Tags {
			if t == nil {
				continue
			}
			if t.Key == "error" {
				ds.Status = spanmodel.StatusError
			}
			keys.Put(ds.Tags, opt.IgnoreTags, spanmodel.ValidString(t.Key), spanmodel.ValidString(tagValue(t)))
		}
		if !opt.DelMessage {
			var ok bool
			if msg, ok = appendMessage(msg[:0], s); ok {
				ds.Message = string(msg)
			}
		}
		out = append(out, ds)
	}
	spanmodel.AssignSpanTypes(out, false)
	return spanmodel.GroupByTrace(out)
}

// traceID is DataKit's Jaeger form: 32 hex digits when the high half is set, otherwise the
// low half in unpadded hex.
func traceID(high, low uint64) string {
	if high != 0 {
		return spanmodel.Hex128(high, low)
	}
	return strconv.FormatUint(low, 16)
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
