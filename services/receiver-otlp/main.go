// Command receiver-otlp runs the OpenTelemetry (OTLP gRPC and HTTP) trace receiver.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/receiver-otlp/otlpreceiver"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "receiver-otlp", Build: service.Receiver(config.SourceOpenTelemetry, otlpreceiver.Components)}, os.Args[1:], os.Stderr))
}
