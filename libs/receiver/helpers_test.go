package receiver

import "time"

const (
	testTimeout = 5 * time.Second
	pollEvery   = 5 * time.Millisecond
)
