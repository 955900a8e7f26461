// Package translator converts OTLP trace data (pdata) into tracekit spans the way DataKit's
// opentelemetry input builds its tracing points (datakit-spec §1.3), with the decisions of
// ARCHITECTURE §5. It is pure: no I/O, clocks or config; the transport passes Options and a
// Meta per request.
//
// Rules worth knowing (each has a table test in otlp_to_spans_test.go):
//
//   - status: ERROR → error; OK and UNSET → ok; an unknown code → info. DataKit answers info
//     only for a span with no Status message at all; SDKs always send one (so DataKit shows
//     ok for them) and pdata keeps no presence bit, so UNSET is ok here too.
//   - source_type is derived from the span's own attributes: db.system → db,
//     messaging.system → message_queue, rpc.system or any http.* / url.* key → web, else
//     custom (DataKit's check on tags always yields custom; we do not copy that).
//   - promoted attributes become typed fields; only an int value whose point key is
//     http_status_code becomes a tag. A string http.status_code stays a string field, as in
//     DataKit. Later sources win: resource, then scope, then span, then event attributes.
//     A key is either a tag or a field: the later write removes the other kind.
//   - input tags override everything, including service and status; keys that tracekit
//     carries in dedicated span fields (service, status, span_type, source_type, env,
//     project, version, operation) set those fields.
//   - the message is protojson-shaped (lowerCamel names, 64-bit integers as strings, enum
//     names, zero values omitted) but ids are lowercase hex as in OTLP/JSON, not base64.
//   - duration is end-start, 0 when end is before start.
package translator
