// Command filter runs the filter service: tracekit.spans.> → chain → tracekit.kept.<source>.
package main

import (
	"os"

	"github.com/tracekit/tracekit/libs/service"
	"github.com/tracekit/tracekit/services/filter/filterstage"
)

func main() {
	os.Exit(service.Main(service.Spec{Name: "filter", Build: filterstage.Build}, os.Args[1:], os.Stderr))
}
