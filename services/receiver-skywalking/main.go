// Command receiver-skywalking receives SkyWalking agent data (gRPC on `address`, HTTP
// /v3/trace and OAP's /v3/segment(s)) and publishes it on tracekit.spans.skywalking.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/receiver-skywalking/skywalkingreceiver"
)

func main() {
	os.Exit(service.Main(service.Spec{
		Name:  "receiver-skywalking",
		Build: service.Receiver(config.SourceSkyWalking, skywalkingreceiver.Components),
	}, os.Args[1:], os.Stderr))
}
