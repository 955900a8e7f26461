package thriftwire

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/thrift/lib/go/thrift"
)

// Binary reads thrift's binary protocol (TBinaryProtocol, non-strict reads as the library's
// default) from a byte slice.
type Binary struct {
	in
	binaryLib
}

// binaryLib is apache's protocol over the same payload, for ReadByte and WriteByte only (see
// transport); one level down, so that every other method is this package's.
type binaryLib struct{ *thrift.TBinaryProtocol }

var _ thrift.TProtocol = (*Binary)(nil)

// NewBinary reads data, which it does not retain (it is copied).
func NewBinary(data []byte) *Binary { return newBinary(data, false) }

// NewBinaryNoCopy reads data without copying it: the strings and binaries decoded point
// into data, which must not be modified as long as they are in use (a request body read
// for this decode alone), and must be treated as read-only themselves.
func NewBinaryNoCopy(data []byte) *Binary { return newBinary(data, true) }

func newBinary(data []byte, noCopy bool) *Binary {
	p := &Binary{}
	p.reset(data, noCopy)
	p.TBinaryProtocol = thrift.NewTBinaryProtocolConf(transport{&p.in}, nil)
	return p
}

// Reset starts over on data, as NewBinary does.
func (p *Binary) Reset(data []byte) { p.reset(data, false) }

func (p *Binary) ReadMessageBegin(ctx context.Context) (name string, typeID thrift.TMessageType, seqID int32, err error) {
	size, err := p.ReadI32(ctx)
	if err != nil {
		return "", typeID, 0, err
	}
	if size < 0 {
		typeID = thrift.TMessageType(size & 0x0ff)
		if int64(size)&thrift.VERSION_MASK != thrift.VERSION_1 {
			return "", typeID, 0, thrift.NewTProtocolExceptionWithType(thrift.BAD_VERSION, fmt.Errorf("bad version in ReadMessageBegin"))
		}
		if name, err = p.ReadString(ctx); err != nil {
			return name, typeID, 0, err
		}
		seqID, err = p.ReadI32(ctx)
		return name, typeID, seqID, err
	}
	// The old unversioned header: apache reads the name without a size check.
	if name, err = p.substr(int(size)); err != nil {
		return name, typeID, 0, err
	}
	b, err := p.readByte()
	if err != nil {
		return name, typeID, 0, err
	}
	typeID = thrift.TMessageType(int8(b)) // apache reads it as a signed thrift byte
	seqID, err = p.ReadI32(ctx)
	return name, typeID, seqID, err
}

func (p *Binary) ReadStructBegin(context.Context) (string, error) { return "", nil }

func (p *Binary) ReadStructEnd(context.Context) error { return nil }

func (p *Binary) ReadFieldBegin(ctx context.Context) (string, thrift.TType, int16, error) {
	// Locals: a store to p.pos would otherwise make the compiler reload p.str.
	if str, pos := p.str, p.pos; pos+3 <= len(str) {
		s := str[pos : pos+3] // one bounds check for the three bytes
		if typeID := thrift.TType(s[0]); typeID != thrift.STOP {
			p.pos = pos + 3
			return "", typeID, int16(uint16(s[1])<<8 | uint16(s[2])), nil
		}
		p.pos = pos + 1
		return "", thrift.STOP, 0, nil
	}
	return p.readFieldBegin(ctx)
}

// readFieldBegin is ReadFieldBegin near the end of the payload.
func (p *Binary) readFieldBegin(context.Context) (name string, typeID thrift.TType, id int16, err error) {
	t, err := p.readByte()
	if err != nil {
		return "", thrift.TType(t), 0, err
	}
	typeID = thrift.TType(t)
	if typeID != thrift.STOP {
		id, err = p.ReadI16(context.Background())
	}
	return "", typeID, id, err
}

func (p *Binary) ReadMapBegin(ctx context.Context) (kType, vType thrift.TType, size int, err error) {
	k, err := p.readByte()
	if err != nil {
		return
	}
	v, err := p.readByte()
	if err != nil {
		return
	}
	n, err := p.ReadI32(ctx)
	if err != nil {
		return
	}
	if err = p.checkCount(n); err != nil {
		return
	}
	return thrift.TType(k), thrift.TType(v), int(n), nil
}

func (p *Binary) ReadListBegin(ctx context.Context) (elemType thrift.TType, size int, err error) {
	t, err := p.readByte()
	if err != nil {
		return
	}
	elemType = thrift.TType(t)
	n, err := p.ReadI32(ctx)
	if err != nil {
		return
	}
	if err = p.checkCount(n); err != nil {
		return
	}
	return elemType, int(n), nil
}

func (p *Binary) ReadSetBegin(ctx context.Context) (elemType thrift.TType, size int, err error) {
	return p.ReadListBegin(ctx)
}

func (p *Binary) ReadBool(context.Context) (bool, error) {
	b, err := p.readByte()
	return b == 1, err
}

func (p *Binary) ReadI16(context.Context) (int16, error) {
	o, err := p.take(2)
	if err != nil {
		return 0, err
	}
	return int16(uint16(p.str[o])<<8 | uint16(p.str[o+1])), nil
}

func (p *Binary) ReadI32(context.Context) (int32, error) {
	o, err := p.take(4)
	if err != nil {
		return 0, err
	}
	s := p.str[o : o+4]
	return int32(uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])), nil
}

func (p *Binary) ReadI64(context.Context) (int64, error) {
	v, err := p.u64()
	return int64(v), err
}

func (p *Binary) ReadDouble(context.Context) (float64, error) {
	v, err := p.u64()
	return math.Float64frombits(v), err
}

func (p *Binary) u64() (uint64, error) {
	o, err := p.take(8)
	if err != nil {
		return 0, err
	}
	s := p.str[o : o+8] // one bounds check; the shifts compile to one load and a byte swap
	return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
		uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7]), nil
}

func (p *Binary) ReadString(ctx context.Context) (string, error) {
	if str, o := p.str, p.pos+4; o <= len(str) {
		// The common case in one piece: a sane length, all of it in the payload.
		s := str[o-4 : o]
		n := int(int32(uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])))
		if uint(n) <= uint(len(str)-o) { // 0 <= n <= bytes left
			p.pos = o + n
			return str[o : o+n], nil
		}
	}
	n, err := p.ReadI32(ctx)
	if err != nil {
		return "", err
	}
	return p.stringOf(n)
}

func (p *Binary) ReadBinary(ctx context.Context) ([]byte, error) {
	n, err := p.ReadI32(ctx)
	if err != nil {
		return nil, err
	}
	return p.binaryOf(n)
}

func (p *Binary) ReadUUID(context.Context) (thrift.Tuuid, error) { return p.uuid() }

// Skip is the library's, driven by this reader.
func (p *Binary) Skip(ctx context.Context, fieldType thrift.TType) error {
	return thrift.SkipDefaultDepth(ctx, p, fieldType)
}

// ReadFieldEnd is in's, declared here so that the interface call lands on it directly
// instead of on a promoted-method wrapper (one call per field of every struct).
func (p *Binary) ReadFieldEnd(context.Context) error { return nil }
