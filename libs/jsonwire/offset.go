package jsonwire

// InputOffset is how many bytes of the payload have been read, for a decoder that sizes
// what it builds from how long its first record was.
func (r *Reader) InputOffset() int64 { return r.dec.InputOffset() }
