package translator

import (
	"math"
	"slices"
	"strconv"

	"github.com/tracekit/tracekit/libs/spanmodel"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

// message is DataKit's message field: the span as JSON with the ids left out (DataKit
// zeroes them and omitempty drops them) and only the meta that was not promoted (taken). Keys are
// sorted so the same span always gives the same message. Written by hand because
// encoding/json costs several microseconds a span, most of the per-span budget.
func message(s *ddwire.Span, taken []string) string {
	b := make([]byte, 0, 128+48*(len(s.Meta)+len(s.Metrics)))
	b = append(b, `{"service":`...)
	b = appendString(b, string(s.Service))
	b = append(b, `,"name":`...)
	b = appendString(b, string(s.Name))
	b = append(b, `,"resource":`...)
	b = appendString(b, string(s.Resource))
	b = append(b, `,"start":`...)
	b = strconv.AppendInt(b, int64(s.Start), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(s.Duration), 10)
	if s.Error != 0 {
		b = append(b, `,"error":`...)
		b = strconv.AppendInt(b, int64(s.Error), 10)
	}
	if len(s.Meta) > len(taken) {
		var buf [32]string
		b = append(b, `,"meta":{`...)
		first := true
		for _, k := range sortedKeys(buf[:0], s.Meta) {
			if slices.Contains(taken, k) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, string(s.Meta[k]))
		}
		b = append(b, '}')
	}
	if len(s.Metrics) > 0 {
		var buf [32]string
		b = append(b, `,"metrics":{`...)
		for i, k := range sortedKeys(buf[:0], s.Metrics) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendFloat(b, float64(s.Metrics[k]))
		}
		b = append(b, '}')
	}
	if s.Type != "" {
		b = append(b, `,"type":`...)
		b = appendString(b, string(s.Type))
	}
	b = append(b, '}')
	return string(b)
}

// sortedKeys appends m's keys to keys (a caller's stack buffer) in order.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendFloat formats like encoding/json; NaN and infinities, which JSON cannot hold,
// become null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString writes s as encoding/json does (HTML-escaped, as json.Marshal in DataKit).
func appendString(b []byte, s string) []byte { return spanmodel.AppendJSONString(b, s, true) }
