// Package dataway turns tracekit's spans into DataKit points and delivers them to Dataway
// the way DataKit does (datakit-spec §3): point conversion (point.go), body encoding and
// splitting by raw size (encode.go), and the HTTP client with retries, 413 splitting and
// metrics (client.go). Conversion and encoding are pure; only the client does I/O.
package dataway
