// Package thriftwire implements apache/thrift's TProtocol reading side over an in-memory
// payload, for the binary and the compact protocol, so that thrift's generated Read methods
// decode a request body without a transport: no per-read io.Reader calls, no per-string
// buffer, no context checks. Every string it returns is a substring of one copy of the
// payload, every binary a sub-slice of a second copy made on first use; or, with the NoCopy
// constructors, both point into the caller's payload itself.
//
// It reproduces apache/thrift v0.22's TBinaryProtocol and TCompactProtocol read by read
// (same values, an error where they fail) as configured with MaxMessageSize = the payload
// size: a length above the payload size is a SIZE_LIMIT error, a length above the bytes
// left is a truncation (io.ErrUnexpectedEOF), so a forged length never allocates more than
// the payload could hold. The fuzz tests check it against the library's protocols.
// Writing is not supported. ReadByte and WriteByte are apache's own (see transport).
package thriftwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/apache/thrift/lib/go/thrift"
)

// errEOF is the error of every read past the end: a truncated payload.
var errEOF = thrift.NewTProtocolException(io.ErrUnexpectedEOF)

// errReadOnly is what every Write method returns.
var errReadOnly = errors.New("thriftwire: the protocol is read-only")

// in is the payload and the read position shared by both protocols.
type in struct {
	str   string // the payload: ReadString returns substrings of it
	bin   []byte // a copy of the payload made by the first ReadBinary
	pos   int
	limit int32 // apache's MaxMessageSize as the callers configured it: max(len, 1)
}

func (r *in) reset(data []byte, noCopy bool) {
	if noCopy {
		r.str, r.bin = unsafe.String(unsafe.SliceData(data), len(data)), data
	} else {
		r.str, r.bin = string(data), nil
	}
	r.pos = 0
	r.limit = int32(min(max(len(data), 1), math.MaxInt32))
}

// Remaining is the number of bytes not read yet.
func (r *in) Remaining() int { return len(r.str) - r.pos }

func (r *in) readByte() (byte, error) {
	if r.pos >= len(r.str) {
		return 0, errEOF
	}
	b := r.str[r.pos]
	r.pos++
	return b, nil
}

// take consumes n bytes (n >= 0, which the callers check) and returns their offset.
func (r *in) take(n int) (int, error) {
	if n > len(r.str)-r.pos {
		r.pos = len(r.str)
		return 0, errEOF
	}
	p := r.pos
	r.pos += n
	return p, nil
}

// checkSize is apache's checkSizeForProtocol.
func (r *in) checkSize(n int32) error {
	if n < 0 {
		return thrift.NewTProtocolExceptionWithType(thrift.NEGATIVE_SIZE, fmt.Errorf("negative size: %d", n))
	}
	if n > r.limit {
		return thrift.NewTProtocolExceptionWithType(thrift.SIZE_LIMIT, fmt.Errorf("size exceeded max allowed: %d", n))
	}
	return nil
}

// checkCount is checkSize for a container: each element takes at least one byte, so a
// count above the bytes left can only fail later; failing now keeps the generated code
// from allocating a slice for it.
func (r *in) checkCount(n int32) error {
	if err := r.checkSize(n); err != nil {
		return err
	}
	if int(n) > len(r.str)-r.pos {
		return errEOF
	}
	return nil
}

func (r *in) substr(n int) (string, error) {
	p, err := r.take(n)
	if err != nil {
		return "", err
	}
	return r.str[p : p+n], nil
}

// stringOf reads a string body of length n.
func (r *in) stringOf(n int32) (string, error) {
	if err := r.checkSize(n); err != nil {
		return "", err
	}
	return r.substr(int(n))
}

// binaryOf reads a binary body of length n: empty but not nil for 0, as both apache
// protocols give (it matters: encoding/json writes "" for it, null for nil).
func (r *in) binaryOf(n int32) ([]byte, error) {
	if err := r.checkSize(n); err != nil {
		return nil, err
	}
	if n == 0 {
		return []byte{}, nil
	}
	return r.bytes(int(n))
}

func (r *in) bytes(n int) ([]byte, error) {
	p, err := r.take(n)
	if err != nil {
		return nil, err
	}
	if r.bin == nil {
		r.bin = []byte(r.str)
	}
	return r.bin[p : p+n : p+n], nil
}

func (r *in) uuid() (thrift.Tuuid, error) {
	var u thrift.Tuuid
	p, err := r.take(len(u))
	if err != nil {
		return u, err
	}
	copy(u[:], r.str[p:])
	return u, nil
}

func (r *in) ReadMessageEnd(context.Context) error { return nil }

func (r *in) ReadFieldEnd(context.Context) error { return nil }

func (r *in) ReadMapEnd(context.Context) error { return nil }

func (r *in) ReadListEnd(context.Context) error { return nil }

func (r *in) ReadSetEnd(context.Context) error { return nil }

func (r *in) Flush(context.Context) error { return nil }

// Transport is the payload as a read-only transport.
func (r *in) Transport() thrift.TTransport { return transport{r} }

// transport is the payload as a thrift transport. Two protocol methods come from
// apache/thrift's own protocols reading it, ReadByte and WriteByte: go vet insists that a
// method so named has io.ByteReader's (io.ByteWriter's) signature, which TProtocol's are
// not, so this package can't declare them itself.
type transport struct{ r *in }

var _ thrift.TRichTransport = transport{}

func (t transport) ReadByte() (byte, error) { return t.r.readByte() }

func (t transport) Read(b []byte) (int, error) {
	if len(b) > 0 && t.r.pos >= len(t.r.str) {
		return 0, io.EOF
	}
	n := copy(b, t.r.str[t.r.pos:])
	t.r.pos += n
	return n, nil
}

func (t transport) RemainingBytes() uint64          { return uint64(t.r.Remaining()) }
func (t transport) Write([]byte) (int, error)       { return 0, errReadOnly }
func (t transport) WriteByte(byte) error            { return errReadOnly }
func (t transport) WriteString(string) (int, error) { return 0, errReadOnly }
func (t transport) Flush(context.Context) error     { return nil }
func (t transport) Open() error                     { return nil }
func (t transport) IsOpen() bool                    { return true }
func (t transport) Close() error                    { return nil }

func (r *in) WriteMessageBegin(context.Context, string, thrift.TMessageType, int32) error {
	return errReadOnly
}
func (r *in) WriteMessageEnd(context.Context) error                   { return errReadOnly }
func (r *in) WriteStructBegin(context.Context, string) error          { return errReadOnly }
func (r *in) WriteStructEnd(context.Context) error                    { return errReadOnly }
func (r *in) WriteFieldStop(context.Context) error                    { return errReadOnly }
func (r *in) WriteFieldEnd(context.Context) error                     { return errReadOnly }
func (r *in) WriteMapEnd(context.Context) error                       { return errReadOnly }
func (r *in) WriteListEnd(context.Context) error                      { return errReadOnly }
func (r *in) WriteSetEnd(context.Context) error                       { return errReadOnly }
func (r *in) WriteBool(context.Context, bool) error                   { return errReadOnly }
func (r *in) WriteI16(context.Context, int16) error                   { return errReadOnly }
func (r *in) WriteI32(context.Context, int32) error                   { return errReadOnly }
func (r *in) WriteI64(context.Context, int64) error                   { return errReadOnly }
func (r *in) WriteDouble(context.Context, float64) error              { return errReadOnly }
func (r *in) WriteString(context.Context, string) error               { return errReadOnly }
func (r *in) WriteBinary(context.Context, []byte) error               { return errReadOnly }
func (r *in) WriteUUID(context.Context, thrift.Tuuid) error           { return errReadOnly }
func (r *in) WriteListBegin(context.Context, thrift.TType, int) error { return errReadOnly }
func (r *in) WriteSetBegin(context.Context, thrift.TType, int) error  { return errReadOnly }
func (r *in) WriteFieldBegin(context.Context, string, thrift.TType, int16) error {
	return errReadOnly
}
func (r *in) WriteMapBegin(context.Context, thrift.TType, thrift.TType, int) error {
	return errReadOnly
}
