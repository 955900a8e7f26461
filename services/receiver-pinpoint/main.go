// Command receiver-pinpoint is the Pinpoint gRPC collector as its own service.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/receiver-pinpoint/pinpointreceiver"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "receiver-pinpoint", Build: service.Receiver(config.SourcePinpoint, pinpointreceiver.Components)}, os.Args[1:], os.Stderr))
}
