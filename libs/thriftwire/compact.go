package thriftwire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/apache/thrift/lib/go/thrift"
)

// The compact protocol's wire constants (thrift's compact_protocol.go; unexported there).
const (
	compactProtocolID  = 0x82
	compactVersion     = 1
	compactVersionMask = 0x1f
	compactTypeBits    = 0x07
	compactTypeShift   = 5

	compactBoolTrue  = 0x01
	compactBoolFalse = 0x02
)

// Compact reads thrift's compact protocol (TCompactProtocol) from a byte slice.
type Compact struct {
	in
	compactLib
	// Field ids are deltas from the previous field of the same struct: the enclosing
	// structs' last ids wait on a stack.
	lastField   []int
	lastFieldID int
	stack       [8]int
	// A bool field's value is in its header; ReadBool then returns it.
	boolValue, boolPending bool
}

var _ thrift.TProtocol = (*Compact)(nil)

// compactLib is binaryLib for the compact protocol.
type compactLib struct{ *thrift.TCompactProtocol }

// NewCompact reads data, which it does not retain (it is copied).
func NewCompact(data []byte) *Compact { return newCompact(data, false) }

// NewCompactNoCopy is NewBinaryNoCopy for the compact protocol: the decoded strings and
// binaries point into data, which must stay unmodified while they are in use.
func NewCompactNoCopy(data []byte) *Compact { return newCompact(data, true) }

func newCompact(data []byte, noCopy bool) *Compact {
	p := &Compact{}
	p.reset(data, noCopy)
	p.resetState()
	p.TCompactProtocol = thrift.NewTCompactProtocolConf(transport{&p.in}, nil)
	return p
}

// Reset starts over on data, as NewCompact does.
func (p *Compact) Reset(data []byte) {
	p.reset(data, false)
	p.resetState()
}

func (p *Compact) resetState() {
	p.lastField = p.stack[:0]
	p.lastFieldID = 0
	p.boolValue, p.boolPending = false, false
}

func (p *Compact) ReadMessageBegin(ctx context.Context) (name string, typeID thrift.TMessageType, seqID int32, err error) {
	id, err := p.readByte()
	if err != nil {
		return
	}
	if id != compactProtocolID {
		return "", typeID, 0, thrift.NewTProtocolExceptionWithType(thrift.BAD_VERSION, fmt.Errorf("expected protocol id %02x but got %02x", compactProtocolID, id))
	}
	vt, err := p.readByte()
	if err != nil {
		return
	}
	typeID = thrift.TMessageType((vt >> compactTypeShift) & compactTypeBits)
	if v := vt & compactVersionMask; v != compactVersion {
		return "", typeID, 0, thrift.NewTProtocolExceptionWithType(thrift.BAD_VERSION, fmt.Errorf("expected version %02x but got %02x", compactVersion, v))
	}
	if seqID, err = p.varint32(); err != nil {
		return
	}
	name, err = p.ReadString(ctx)
	return
}

func (p *Compact) ReadStructBegin(context.Context) (string, error) {
	p.lastField = append(p.lastField, p.lastFieldID)
	p.lastFieldID = 0
	return "", nil
}

func (p *Compact) ReadStructEnd(context.Context) error {
	if len(p.lastField) == 0 {
		return thrift.NewTProtocolExceptionWithType(thrift.INVALID_DATA, errors.New("ReadStructEnd called without matching ReadStructBegin call before"))
	}
	p.lastFieldID = p.lastField[len(p.lastField)-1]
	p.lastField = p.lastField[:len(p.lastField)-1]
	return nil
}

func (p *Compact) ReadFieldBegin(ctx context.Context) (string, thrift.TType, int16, error) {
	if str, pos := p.str, p.pos; pos < len(str) {
		// The common case in one piece: a short-form header (id delta in the high
		// nibble) of a type other than bool, whose value the header would carry.
		t := str[pos]
		if typeID := ttypes[t&0x0f]; t>>4 != 0 && typeID > thrift.BOOL {
			p.pos = pos + 1
			id := int16(p.lastFieldID) + int16(t>>4)
			p.lastFieldID = int(id)
			return "", typeID, id, nil
		}
	}
	return p.readFieldBegin(ctx)
}

func (p *Compact) readFieldBegin(ctx context.Context) (name string, typeID thrift.TType, id int16, err error) {
	t, err := p.readByte()
	if err != nil {
		return
	}
	if t&0x0f == thrift.STOP {
		return "", thrift.STOP, 0, nil
	}
	if delta := int16(t >> 4); delta != 0 {
		id = int16(p.lastFieldID) + delta
	} else if id, err = p.ReadI16(ctx); err != nil {
		return
	}
	if typeID = ttypes[t&0x0f]; typeID == thrift.STOP {
		_, err = ttype(t)
		return "", thrift.STOP, id, err
	}
	if typeID == thrift.BOOL {
		p.boolValue = t&0x0f == compactBoolTrue
		p.boolPending = true
	}
	p.lastFieldID = int(id)
	return
}

func (p *Compact) ReadMapBegin(context.Context) (kType, vType thrift.TType, size int, err error) {
	n, err := p.varint32()
	if err != nil {
		return
	}
	if err = p.checkCount(n); err != nil {
		return
	}
	kv := byte(thrift.STOP)
	if n != 0 {
		if kv, err = p.readByte(); err != nil {
			return
		}
	}
	// apache ignores unknown key and value types here (they fail when read).
	kType, _ = ttype(kv >> 4)
	vType, _ = ttype(kv)
	return kType, vType, int(n), nil
}

func (p *Compact) ReadListBegin(context.Context) (elemType thrift.TType, size int, err error) {
	st, err := p.readByte()
	if err != nil {
		return
	}
	n := int32(st >> 4)
	if n == 15 {
		if n, err = p.varint32(); err != nil {
			return
		}
	}
	if err = p.checkCount(n); err != nil {
		return
	}
	if elemType, err = ttype(st); err != nil {
		return
	}
	return elemType, int(n), nil
}

func (p *Compact) ReadSetBegin(ctx context.Context) (elemType thrift.TType, size int, err error) {
	return p.ReadListBegin(ctx)
}

func (p *Compact) ReadBool(context.Context) (bool, error) {
	if p.boolPending {
		p.boolPending = false
		return p.boolValue, nil
	}
	b, err := p.readByte()
	return b == compactBoolTrue, err
}

func (p *Compact) ReadI16(ctx context.Context) (int16, error) {
	v, err := p.ReadI32(ctx)
	return int16(v), err
}

func (p *Compact) ReadI32(context.Context) (int32, error) {
	if p.pos < len(p.str) {
		if b := p.str[p.pos]; b < 0x80 { // one byte: an enum, a small count
			p.pos++
			return int32(b>>1) ^ -int32(b&1), nil
		}
	}
	v, err := p.varint32()
	if err != nil {
		return 0, err
	}
	u := uint32(v)
	return int32(u>>1) ^ -(v & 1), nil
}

func (p *Compact) ReadI64(context.Context) (int64, error) {
	if p.pos < len(p.str) {
		if b := p.str[p.pos]; b < 0x80 {
			p.pos++
			return int64(b>>1) ^ -int64(b&1), nil
		}
	}
	v, err := p.varint64()
	if err != nil {
		return 0, err
	}
	u := uint64(v)
	return int64(u>>1) ^ -(v & 1), nil
}

func (p *Compact) ReadDouble(context.Context) (float64, error) {
	o, err := p.take(8)
	if err != nil {
		return 0, err
	}
	var b [8]byte
	copy(b[:], p.str[o:o+8])
	return math.Float64frombits(binary.LittleEndian.Uint64(b[:])), nil
}

func (p *Compact) ReadString(context.Context) (string, error) {
	if str, pos := p.str, p.pos; pos < len(str) {
		// The common case in one piece: a one-byte length, all of it in the payload.
		if n := int(str[pos]); n < 0x80 && n < len(str)-pos {
			o := pos + 1
			p.pos = o + n
			return str[o : o+n], nil
		}
	}
	n, err := p.varint32()
	if err != nil {
		return "", err
	}
	return p.stringOf(n)
}

func (p *Compact) ReadBinary(context.Context) ([]byte, error) {
	n, err := p.varint32()
	if err != nil {
		return nil, err
	}
	return p.binaryOf(n)
}

func (p *Compact) ReadUUID(context.Context) (thrift.Tuuid, error) { return p.uuid() }

// Skip is the library's, driven by this reader.
func (p *Compact) Skip(ctx context.Context, fieldType thrift.TType) error {
	return thrift.SkipDefaultDepth(ctx, p, fieldType)
}

func (p *Compact) varint32() (int32, error) {
	v, err := p.varint64()
	return int32(v), err
}

// varint64 is apache's reader: it takes continuation bytes without a length bound (bits
// past the 64th are dropped), so a long run of 0x80 bytes decodes as it does there.
func (p *Compact) varint64() (int64, error) {
	if p.pos < len(p.str) && p.str[p.pos] < 0x80 {
		v := p.str[p.pos]
		p.pos++
		return int64(v), nil
	}
	// The common case: a varint of at most 10 bytes, all in the buffer.
	s := p.str[p.pos:]
	var result int64
	for i := 0; i < len(s) && i < 10; i++ {
		b := s[i]
		result |= int64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			p.pos += i + 1
			return result, nil
		}
	}
	shift := uint(0)
	result = 0
	for {
		b, err := p.readByte()
		if err != nil {
			return 0, err
		}
		result |= int64(b&0x7f) << shift
		if b&0x80 == 0 {
			return result, nil
		}
		shift += 7
	}
}

// ttypes is ttype as a table, STOP for the nibbles ttype refuses (and for STOP).
var ttypes = func() (t [16]thrift.TType) {
	for n := range t {
		t[n], _ = ttype(byte(n))
	}
	return t
}()

// ttype is apache's getTType: the TType of a compact type nibble.
func ttype(t byte) (thrift.TType, error) {
	switch t & 0x0f {
	case thrift.STOP:
		return thrift.STOP, nil
	case compactBoolFalse, compactBoolTrue:
		return thrift.BOOL, nil
	case 0x03:
		return thrift.BYTE, nil
	case 0x04:
		return thrift.I16, nil
	case 0x05:
		return thrift.I32, nil
	case 0x06:
		return thrift.I64, nil
	case 0x07:
		return thrift.DOUBLE, nil
	case 0x08:
		return thrift.STRING, nil
	case 0x09:
		return thrift.LIST, nil
	case 0x0A:
		return thrift.SET, nil
	case 0x0B:
		return thrift.MAP, nil
	case 0x0C:
		return thrift.STRUCT, nil
	case 0x0D:
		return thrift.UUID, nil
	}
	return thrift.STOP, thrift.NewTProtocolException(fmt.Errorf("don't know what type: %v", t&0x0f))
}

// ReadFieldEnd: see Binary.ReadFieldEnd.
func (p *Compact) ReadFieldEnd(context.Context) error { return nil }
