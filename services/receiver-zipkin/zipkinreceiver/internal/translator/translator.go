// Package translator turns Zipkin v1 (JSON, thrift) and v2 (JSON, proto3) spans into
// DatakitSpans as DataKit's zipkin input does (datakit-spec §1.5), except that v1 start and
// duration are microseconds (ARCHITECTURE §5). Pure: no I/O, no clock, no config.
package translator

import (
	"github.com/tracekit/tracekit/libs/spanmodel"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
)

// Source is the measurement and source tag of every span.
const Source = "zipkin"

// Services DataKit uses when a span names none (the v2 spelling is DataKit's).
const (
	UnknownServiceV2       = "zipkin_v2_unknow_service"
	UnknownServiceV1JSON   = "zipkin_v1_unknown_service"
	UnknownServiceV1Thrift = "zipkin_core_v1_unknown_service"
)

// Options are the input settings the conversion needs.
type Options struct {
	// Tags are [inputs.zipkin.tags]; span tags override them.
	Tags map[string]string
	// IgnoreTags drops span tags whose key matches.
	IgnoreTags spanmodel.TagMatcher
	// DelMessage skips the message field (the span's JSON).
	DelMessage bool
}

// group assigns span_type over the whole payload (multi-server: Zipkin carries one
// service per span) and groups the spans by trace.
func group(spans []*spanv1.DatakitSpan) []*spanv1.DatakitTrace {
	if len(spans) == 0 {
		return nil
	}
	spanmodel.AssignSpanTypes(spans, true)
	return spanmodel.GroupByTrace(spans)
}

// scratch is what one payload's conversion reuses from span to span.
type scratch struct {
	keys spanmodel.TagKeys
}

func statusOf(isErr bool) string {
	if isErr {
		return spanmodel.StatusError
	}
	return spanmodel.StatusOK
}
