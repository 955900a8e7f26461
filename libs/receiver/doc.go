// Package receiver is the transport plumbing every protocol receiver shares: body reading
// with decompression and a size cap, the one mapping from error class to HTTP and gRPC
// status, the [threads] admission pool, and the receiver metrics.
package receiver
