package httpgateway

import (
	"bytes"
	"io"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func readAllLimit(r io.Reader, n int64) ([]byte, error) { return io.ReadAll(io.LimitReader(r, n)) }
