// Command gateway serves DataKit's write API (/v1/write/:category, /v1/ping) on its own
// [http] listener and publishes the points on tracekit.points.<category>.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/gateway/httpgateway"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "gateway", Build: httpgateway.Build}, os.Args[1:], os.Stderr))
}
