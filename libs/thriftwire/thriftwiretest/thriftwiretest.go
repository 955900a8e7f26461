// Package thriftwiretest has the reference thriftwire is checked against, for the
// differential tests of the decoders built on it.
package thriftwiretest

import (
	"bytes"
	"math"

	"github.com/apache/thrift/lib/go/thrift"
)

// Library is apache/thrift's own binary or compact protocol over data, configured as the
// receivers did before thriftwire (MaxMessageSize = the payload size).
func Library(data []byte, compact bool) thrift.TProtocol {
	t := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(data)}
	cfg := &thrift.TConfiguration{MaxMessageSize: int32(min(max(len(data), 1), math.MaxInt32))}
	if compact {
		return thrift.NewTCompactProtocolConf(t, cfg)
	}
	return thrift.NewTBinaryProtocolConf(t, cfg)
}
