// Package nt1 decodes CAT's native ("NT1") message-tree codec (datakit-spec §1.6).
//
// Body layout: a 3-byte version ("NT1"), ten length-prefixed strings (domain, hostname, ip
// address, thread group name, thread id, thread name, message id, parent message id, root
// message id, session token), then the root message. Every string is an unsigned varint byte
// length (7 bits per byte, least significant group first, high bit = more) followed by the
// bytes. Messages start with one tag byte:
//
//	't' transaction start: varint timestamp (ms), type, name; then its children
//	'T' transaction end:   status, data, varint duration (µs)
//	'A' atomic transaction (no children, as CAT's Java client writes them):
//	    varint timestamp (ms), type, name, status, data, varint duration (µs)
//	'E' event, 'M' metric, 'L' trace (log), 'H' heartbeat:
//	    varint timestamp (ms), type, name, status, data
//
// The frame around a body (4-byte big-endian length) is the transport's business.
package nt1

import (
	"errors"
	"fmt"
)

// maxDepth bounds transaction nesting so a hostile body cannot grow the stack without end.
const maxDepth = 512

// Message is an event, metric, trace or heartbeat.
type Message struct {
	Tag         byte // 'E', 'M', 'L' or 'H'
	TimestampMs int64
	Type        string
	Name        string
	Status      string
	Data        string
}

// Transaction is a timed unit of work with nested transactions and messages.
type Transaction struct {
	TimestampMs    int64
	Type           string
	Name           string
	Status         string
	Data           string
	DurationMicros int64
	Children       []*Transaction
	Messages       []Message
}

// Tree is one decoded message tree.
type Tree struct {
	Version         string
	Domain          string
	Hostname        string
	IPAddress       string
	ThreadGroupName string
	ThreadID        string
	ThreadName      string
	MessageID       string
	ParentMessageID string
	RootMessageID   string
	SessionToken    string
	// Root is the outermost transaction; nil when the tree carries only messages.
	Root *Transaction
	// Messages are the messages outside any transaction.
	Messages []Message
	// Heartbeats are every 'H' message of the tree, wherever it sits.
	Heartbeats []Message
}

// ErrVersion is returned when the body does not start with a native codec version.
var ErrVersion = errors.New("nt1: not a native CAT message (want version NT1)")

type reader struct {
	s   string
	off int
}

func (r *reader) varint() (int64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		if r.off >= len(r.s) {
			return 0, fmt.Errorf("nt1: truncated varint at byte %d", r.off)
		}
		b := r.s[r.off]
		r.off++
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return int64(v), nil
		}
	}
	return 0, fmt.Errorf("nt1: varint longer than 64 bits at byte %d", r.off)
}

func (r *reader) str(what string) (string, error) {
	n, err := r.varint()
	if err != nil {
		return "", fmt.Errorf("%s length: %w", what, err)
	}
	if n < 0 || n > int64(len(r.s)-r.off) {
		return "", fmt.Errorf("nt1: %s length %d passes the end of the body (%d bytes left)", what, n, len(r.s)-r.off)
	}
	v := r.s[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

// Decode parses one message tree. Strings in the result share one copy of body.
func Decode(body []byte) (*Tree, error) {
	if len(body) < 3 || body[0] != 'N' || body[1] != 'T' {
		return nil, ErrVersion
	}
	r := &reader{s: string(body), off: 3}
	t := &Tree{Version: r.s[:3]}
	for _, h := range []struct {
		dst  *string
		name string
	}{
		{&t.Domain, "domain"}, {&t.Hostname, "hostname"}, {&t.IPAddress, "ip address"},
		{&t.ThreadGroupName, "thread group name"}, {&t.ThreadID, "thread id"}, {&t.ThreadName, "thread name"},
		{&t.MessageID, "message id"}, {&t.ParentMessageID, "parent message id"}, {&t.RootMessageID, "root message id"},
		{&t.SessionToken, "session token"},
	} {
		v, err := r.str(h.name)
		if err != nil {
			return nil, fmt.Errorf("nt1 header: %w", err)
		}
		*h.dst = v
	}
	if err := t.body(r); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Tree) body(r *reader) error {
	var open []*Transaction
	for r.off < len(r.s) {
		tag := r.s[r.off]
		r.off++
		switch tag {
		case 't', 'A':
			tx, err := start(r)
			if err != nil {
				return err
			}
			if tag == 'A' {
				if err := end(r, tx); err != nil {
					return err
				}
			}
			switch {
			case len(open) > 0:
				parent := open[len(open)-1]
				parent.Children = append(parent.Children, tx)
			case t.Root == nil:
				t.Root = tx
			default:
				return errors.New("nt1: a second root transaction in one tree")
			}
			if tag == 't' {
				if len(open) >= maxDepth {
					return fmt.Errorf("nt1: transactions nested deeper than %d", maxDepth)
				}
				open = append(open, tx)
			}
		case 'T':
			if len(open) == 0 {
				return fmt.Errorf("nt1: transaction end at byte %d without a start", r.off-1)
			}
			if err := end(r, open[len(open)-1]); err != nil {
				return err
			}
			open = open[:len(open)-1]
		case 'E', 'M', 'L', 'H':
			m, err := message(r, tag)
			if err != nil {
				return err
			}
			if tag == 'H' {
				t.Heartbeats = append(t.Heartbeats, m)
			}
			if len(open) > 0 {
				parent := open[len(open)-1]
				parent.Messages = append(parent.Messages, m)
			} else {
				t.Messages = append(t.Messages, m)
			}
		default:
			return fmt.Errorf("nt1: unknown message tag 0x%02x at byte %d", tag, r.off-1)
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("nt1: %d transaction(s) not ended (root %q)", len(open), open[0].Name)
	}
	return nil
}

func start(r *reader) (*Transaction, error) {
	ts, err := r.varint()
	if err != nil {
		return nil, fmt.Errorf("transaction timestamp: %w", err)
	}
	typ, err := r.str("transaction type")
	if err != nil {
		return nil, err
	}
	name, err := r.str("transaction name")
	if err != nil {
		return nil, err
	}
	return &Transaction{TimestampMs: ts, Type: typ, Name: name}, nil
}

func end(r *reader, tx *Transaction) error {
	var err error
	if tx.Status, err = r.str("transaction status"); err != nil {
		return err
	}
	if tx.Data, err = r.str("transaction data"); err != nil {
		return err
	}
	if tx.DurationMicros, err = r.varint(); err != nil {
		return fmt.Errorf("transaction duration: %w", err)
	}
	return nil
}

func message(r *reader, tag byte) (Message, error) {
	m := Message{Tag: tag}
	var err error
	if m.TimestampMs, err = r.varint(); err != nil {
		return m, fmt.Errorf("%c timestamp: %w", tag, err)
	}
	for _, f := range []struct {
		dst  *string
		name string
	}{{&m.Type, "type"}, {&m.Name, "name"}, {&m.Status, "status"}, {&m.Data, "data"}} {
		if *f.dst, err = r.str(string(tag) + " " + f.name); err != nil {
			return m, err
		}
	}
	return m, nil
}
