// Command receiver-zipkin accepts Zipkin v1 and v2 spans over HTTP and publishes them to
// tracekit.spans.zipkin.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/receiver-zipkin/zipkinreceiver"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "receiver-zipkin", Build: service.Receiver(config.SourceZipkin, zipkinreceiver.Components)}, os.Args[1:], os.Stderr))
}
