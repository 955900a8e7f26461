// Command receiver-jaeger accepts Jaeger thrift spans over HTTP (/apis/traces) and, when
// configured, agent UDP datagrams, and publishes them to tracekit.spans.jaeger.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/config"
	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/receiver-jaeger/jaegerreceiver"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "receiver-jaeger", Build: service.Receiver(config.SourceJaeger, jaegerreceiver.Components)}, os.Args[1:], os.Stderr))
}
