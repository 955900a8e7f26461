package translator

import (
	"strconv"

	"github.com/tracekit/tracekit/libs/spanmodel"
	commonv3 "skywalking.apache.org/repo/goapi/collect/common/v3"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"
)

// appendSpanJSON writes the bytes encoding/json.Marshal produces for span (the `message`
// field DataKit stores: struct order, omitempty, enums as numbers, HTML-safe strings)
// without reflection, which was half of the conversion cost. TestMessageMatchesEncodingJSON
// and the fuzz targets hold it to encoding/json's output.
func appendSpanJSON(b []byte, s *agentv3.SpanObject) []byte {
	w := objWriter{b: append(b, '{')}
	w.int(`"spanId":`, int64(s.SpanId))
	w.int(`"parentSpanId":`, int64(s.ParentSpanId))
	w.int(`"startTime":`, s.StartTime)
	w.int(`"endTime":`, s.EndTime)
	if len(s.Refs) > 0 {
		w.key(`"refs":`)
		w.b = append(w.b, '[')
		for i, r := range s.Refs {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = appendRefJSON(w.b, r)
		}
		w.b = append(w.b, ']')
	}
	w.str(`"operationName":`, s.OperationName)
	w.str(`"peer":`, s.Peer)
	w.int(`"spanType":`, int64(s.SpanType))
	w.int(`"spanLayer":`, int64(s.SpanLayer))
	w.int(`"componentId":`, int64(s.ComponentId))
	w.bool(`"isError":`, s.IsError)
	if len(s.Tags) > 0 {
		w.key(`"tags":`)
		w.b = appendKVsJSON(w.b, s.Tags)
	}
	if len(s.Logs) > 0 {
		w.key(`"logs":`)
		w.b = append(w.b, '[')
		for i, l := range s.Logs {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			if l == nil {
				w.b = append(w.b, "null"...)
				continue
			}
			lw := objWriter{b: append(w.b, '{')}
			lw.int(`"time":`, l.Time)
			if len(l.Data) > 0 {
				lw.key(`"data":`)
				lw.b = appendKVsJSON(lw.b, l.Data)
			}
			w.b = append(lw.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.bool(`"skipAnalysis":`, s.SkipAnalysis)
	return append(w.b, '}')
}

func appendRefJSON(b []byte, r *agentv3.SegmentReference) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	w := objWriter{b: append(b, '{')}
	w.int(`"refType":`, int64(r.RefType))
	w.str(`"traceId":`, r.TraceId)
	w.str(`"parentTraceSegmentId":`, r.ParentTraceSegmentId)
	w.int(`"parentSpanId":`, int64(r.ParentSpanId))
	w.str(`"parentService":`, r.ParentService)
	w.str(`"parentServiceInstance":`, r.ParentServiceInstance)
	w.str(`"parentEndpoint":`, r.ParentEndpoint)
	w.str(`"networkAddressUsedAtPeer":`, r.NetworkAddressUsedAtPeer)
	return append(w.b, '}')
}

func appendKVsJSON(b []byte, kvs []*commonv3.KeyStringValuePair) []byte {
	b = append(b, '[')
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		if kv == nil {
			b = append(b, "null"...)
			continue
		}
		w := objWriter{b: append(b, '{')}
		w.str(`"key":`, kv.Key)
		w.str(`"value":`, kv.Value)
		b = append(w.b, '}')
	}
	return append(b, ']')
}

// objWriter writes the members of one JSON object, skipping zero values like omitempty.
type objWriter struct {
	b    []byte
	more bool
}

// key writes the member name k, given quoted with its colon.
func (w *objWriter) key(k string) {
	if w.more {
		w.b = append(w.b, ',')
	}
	w.more = true
	w.b = append(w.b, k...)
}

func (w *objWriter) int(k string, v int64) {
	if v != 0 {
		w.key(k)
		w.b = strconv.AppendInt(w.b, v, 10)
	}
}

func (w *objWriter) str(k, v string) {
	if v != "" {
		w.key(k)
		w.b = spanmodel.AppendJSONString(w.b, v, true)
	}
}

func (w *objWriter) bool(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "true"...)
	}
}
