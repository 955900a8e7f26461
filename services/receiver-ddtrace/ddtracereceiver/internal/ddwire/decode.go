package ddwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// Encoding is how a body is serialized.
type Encoding int

// Encodings a tracer may send.
const (
	// Sniff decides from the first byte: JSON bodies start with '[' or '{' (positive
	// fixints in msgpack, never a valid top level for a trace payload).
	Sniff Encoding = iota
	MsgPack
	JSON
)

// priorityKey is the metric tracers put their sampling decision in.
const priorityKey = "_sampling_priority_v1"

// priorityNone is the v0.7 chunk priority meaning "no decision" (int8 minimum).
const priorityNone = -128

func sniff(body []byte, enc Encoding) Encoding {
	if enc != Sniff {
		return enc
	}
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) > 0 && (b[0] == '[' || b[0] == '{') {
		return JSON
	}
	return MsgPack
}

// validate walks the whole message once without allocating, so every array and map
// header is known to be backed by bytes before the decoder sizes a slice or map from it.
func validate(body []byte) error {
	rest, err := msgp.Skip(body)
	if err != nil {
		return fmt.Errorf("malformed msgpack: %w", err)
	}
	if len(rest) == len(body) {
		return errors.New("malformed msgpack: empty body")
	}
	return nil
}

// DecodeTraces decodes a /v0.2 .. /v0.4 body ([][]span).
func DecodeTraces(body []byte, enc Encoding) (Traces, error) {
	var ts Traces
	if sniff(body, enc) == JSON {
		if err := json.Unmarshal(body, &ts); err != nil {
			return nil, fmt.Errorf("decode JSON traces: %w", err)
		}
		return ts, nil
	}
	// The decoder reads or skips every byte of the payload, so a body it decodes is one
	// validate passes. Validation, an eighth of the instructions of decode and convert,
	// is left for bodies that fail (its error is the one reported when it fails too) and
	// for those with unknown fields (msgp.Skip counts their nesting from the field, not
	// from the body, so only validate refuses the deepest ones).
	d := strDecoder{body: string(body)}
	ts, _, err := d.traces(body)
	if err != nil || d.skipped {
		if verr := validate(body); verr != nil {
			return nil, fmt.Errorf("decode msgpack traces: %w", verr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("decode msgpack traces: %w", err)
	}
	return ts, nil
}

// DecodeSpans decodes a /v0.1/spans body (a flat []span) and groups it into traces by
// trace id, in first-seen order.
func DecodeSpans(body []byte, enc Encoding) (Traces, error) {
	var ss Spans
	if sniff(body, enc) == JSON {
		if err := json.Unmarshal(body, &ss); err != nil {
			return nil, fmt.Errorf("decode JSON spans: %w", err)
		}
	} else if err := validate(body); err != nil {
		return nil, fmt.Errorf("decode msgpack spans: %w", err)
	} else if _, err := ss.UnmarshalMsg(body); err != nil {
		return nil, fmt.Errorf("decode msgpack spans: %w", err)
	}
	idx := map[Uint64]int{}
	var ts Traces
	for _, s := range ss {
		if s == nil {
			continue
		}
		i, ok := idx[s.TraceID]
		if !ok {
			i = len(ts)
			idx[s.TraceID] = i
			ts = append(ts, nil)
		}
		ts[i] = append(ts[i], s)
	}
	return ts, nil
}

// DecodeV05 decodes a /v0.5/traces body and resolves its string dictionary.
func DecodeV05(body []byte) (Traces, error) {
	var p V05Payload
	if err := validate(body); err != nil {
		return nil, fmt.Errorf("decode v0.5 msgpack payload: %w", err)
	}
	if _, err := p.UnmarshalMsg(body); err != nil {
		return nil, fmt.Errorf("decode v0.5 msgpack payload: %w", err)
	}
	ts, err := p.Resolve()
	if err != nil {
		return nil, fmt.Errorf("decode v0.5 msgpack payload: %w", err)
	}
	return ts, nil
}

// Resolve replaces dictionary indexes by their strings.
func (p *V05Payload) Resolve() (Traces, error) {
	str := func(i uint64) (Str, error) {
		if i >= uint64(len(p.Strings)) {
			return "", fmt.Errorf("string index %d out of range (dictionary has %d entries)", i, len(p.Strings))
		}
		return p.Strings[i], nil
	}
	ts := make(Traces, 0, len(p.Traces))
	for ti, t := range p.Traces {
		tr := make(Trace, 0, len(t))
		for si, s := range t {
			if s == nil {
				continue
			}
			sp, err := s.resolve(str)
			if err != nil {
				return nil, fmt.Errorf("trace %d span %d: %w", ti, si, err)
			}
			tr = append(tr, sp)
		}
		ts = append(ts, tr)
	}
	return ts, nil
}

func (s *V05Span) resolve(str func(uint64) (Str, error)) (*Span, error) {
	var errs []error
	get := func(name string, i Uint64) Str {
		v, err := str(uint64(i))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return v
	}
	sp := &Span{
		Service:  get("service", s.Service),
		Name:     get("name", s.Name),
		Resource: get("resource", s.Resource),
		TraceID:  s.TraceID,
		SpanID:   s.SpanID,
		ParentID: s.ParentID,
		Start:    s.Start,
		Duration: s.Duration,
		Error:    s.Error,
		Type:     get("type", s.Type),
	}
	if len(s.Meta) > 0 {
		meta := make(Meta, 0, len(s.Meta))
		for _, kv := range s.Meta {
			meta = append(meta, KV[Str]{string(get("meta key", Uint64(kv.Key))), get("meta value", Uint64(kv.Value))})
		}
		sp.Meta = normalize(meta)
	}
	if len(s.Metrics) > 0 {
		metrics := make(Metrics, 0, len(s.Metrics))
		for _, kv := range s.Metrics {
			metrics = append(metrics, KV[Float64]{string(get("metrics key", Uint64(kv.Key))), Float64(kv.Value)})
		}
		sp.Metrics = normalize(metrics)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sp, nil
}

// DecodeV07 decodes a /v0.7/traces body. A chunk's priority is carried into the chunk's
// first span as _sampling_priority_v1 when no span of it has one, so every version
// reaches the translator the same way.
func DecodeV07(body []byte) (Traces, error) {
	var p TracerPayload
	if err := validate(body); err != nil {
		return nil, fmt.Errorf("decode v0.7 msgpack payload: %w", err)
	}
	if _, err := p.UnmarshalMsg(body); err != nil {
		return nil, fmt.Errorf("decode v0.7 msgpack payload: %w", err)
	}
	ts := make(Traces, 0, len(p.Chunks))
	for _, c := range p.Chunks {
		if c == nil {
			continue
		}
		tr := make(Trace, 0, len(c.Spans))
		has := false
		for _, s := range c.Spans {
			if s == nil {
				continue
			}
			if _, ok := s.Metrics.Get(priorityKey); ok {
				has = true
			}
			if env, _ := s.Meta.Get("env"); p.Env != "" && env == "" {
				s.Meta.Set("env", p.Env)
			}
			tr = append(tr, s)
		}
		if !has && len(tr) > 0 && c.Priority != nil && *c.Priority != priorityNone {
			tr[0].Metrics.Set(priorityKey, Float64(*c.Priority))
		}
		ts = append(ts, tr)
	}
	return ts, nil
}
