// Package buildinfo names the running build; the Makefile sets the variables with -ldflags.
package buildinfo

import (
	"os"
	"runtime"
)

// Set at link time: -X github.com/tracekit/tracekit/libs/buildinfo.Version=...
var (
	Version = "0.1.0-dev"
	Commit  = "unknown"
)

// UserAgent is the User-Agent DataKit sends to Dataway: datakit-<os>-<arch>/<version>/<host>.
// Dataway keys some behaviour off the "datakit-" prefix, so we keep it.
func UserAgent() string {
	return "datakit-" + runtime.GOOS + "-" + runtime.GOARCH + "/" + Version + "/" + Hostname()
}

// Hostname is the host name, or "unknown".
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}
