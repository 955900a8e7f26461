// Command receiver-ddtrace is the Datadog trace-agent intake as its own service: it
// publishes what tracers send on tracekit.spans.ddtrace.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "receiver-ddtrace", Build: service.Receiver(config.SourceDDTrace, ddtracereceiver.Components)}, os.Args[1:], os.Stderr))
}
