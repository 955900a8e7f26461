// Command sender runs the sender service: tracekit.kept.> and tracekit.points.> → Dataway.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/sender/datawaysender"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "sender", Build: datawaysender.Build}, os.Args[1:], os.Stderr))
}
