// Package bus carries batches between tracekit's services over NATS: an embedded nats-server
// or an external cluster, JetStream work-queue streams with shared durable pull consumers
// (at-least-once), or plain subjects with queue groups (at-most-once, bus.mode = "core").
package bus

// Subject prefixes and the streams that hold them (ARCHITECTURE.md §2). These constants are
// the only place subject names are spelled.
const (
	SpansPrefix  = "tracekit.spans."
	KeptPrefix   = "tracekit.kept."
	PointsPrefix = "tracekit.points."

	StreamSpans  = "TRACEKIT_SPANS"
	StreamKept   = "TRACEKIT_KEPT"
	StreamPoints = "TRACEKIT_POINTS"
)

// Message headers.
const (
	HeaderInput    = "Tracekit-Input"
	HeaderSource   = "Tracekit-Source"
	HeaderEncoding = "Tracekit-Encoding"
	// HeaderCategory names the Dataway category of a points message.
	HeaderCategory = "Tracekit-Category"
	// HeaderPoints counts the points or spans in a message, for accounting without decoding.
	HeaderPoints = "Tracekit-Points"
)

// SpansSubject is where receivers publish a source's batches.
func SpansSubject(source string) string { return SpansPrefix + source }

// KeptSubject is where the filter publishes what survived.
func KeptSubject(source string) string { return KeptPrefix + source }

// PointsSubject is where the gateway publishes points of a Dataway category.
func PointsSubject(category string) string { return PointsPrefix + category }

// streams lists the three streams and the subjects each captures.
var streams = []struct{ name, subjects string }{
	{StreamSpans, SpansPrefix + ">"},
	{StreamKept, KeptPrefix + ">"},
	{StreamPoints, PointsPrefix + ">"},
}
