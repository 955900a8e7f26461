// Package cattest is a CAT client for tests: it encodes message trees in the native NT1
// codec and frames them as CAT clients write them to port 2280. No Go CAT client is served
// by the module proxy, so this is written from the protocol (see package nt1 for the layout).
package cattest

import (
	"encoding/binary"
	"time"
)

// Node is a message inside a tree.
type Node interface{ encode(b []byte) []byte }

// Transaction is a timed unit of work. Without children it is written as an atomic 'A'
// message, as CAT's Java client does; with children as 't' ... 'T'.
type Transaction struct {
	Start    time.Time
	Type     string
	Name     string
	Status   string // "0" is success
	Data     string
	Duration time.Duration
	Children []Node
}

// Message is an event ('E'), metric ('M'), trace ('L') or heartbeat ('H').
type Message struct {
	Tag    byte
	Time   time.Time
	Type   string
	Name   string
	Status string
	Data   string
}

// Tree is one message tree with its header.
type Tree struct {
	Domain, Hostname, IP                      string
	ThreadGroupName, ThreadID, ThreadName     string
	MessageID, ParentMessageID, RootMessageID string
	SessionToken                              string
	Root                                      Node
}

// AppendVarint writes v as CAT's unsigned varint: 7 bits a byte, low group first.
func AppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendString writes a varint byte length and the bytes.
func AppendString(b []byte, s string) []byte {
	return append(AppendVarint(b, uint64(len(s))), s...)
}

func ms(t time.Time) uint64 { return uint64(t.UnixMilli()) }

func (t *Transaction) encode(b []byte) []byte {
	if len(t.Children) == 0 {
		b = append(b, 'A')
		b = AppendVarint(b, ms(t.Start))
		b = AppendString(b, t.Type)
		b = AppendString(b, t.Name)
		b = AppendString(b, t.Status)
		b = AppendString(b, t.Data)
		return AppendVarint(b, uint64(t.Duration.Microseconds()))
	}
	b = append(b, 't')
	b = AppendVarint(b, ms(t.Start))
	b = AppendString(b, t.Type)
	b = AppendString(b, t.Name)
	for _, c := range t.Children {
		b = c.encode(b)
	}
	b = append(b, 'T')
	b = AppendString(b, t.Status)
	b = AppendString(b, t.Data)
	return AppendVarint(b, uint64(t.Duration.Microseconds()))
}

func (m *Message) encode(b []byte) []byte {
	b = append(b, m.Tag)
	b = AppendVarint(b, ms(m.Time))
	b = AppendString(b, m.Type)
	b = AppendString(b, m.Name)
	b = AppendString(b, m.Status)
	return AppendString(b, m.Data)
}

// Encode writes the tree body: "NT1", the ten header strings, the root message.
func Encode(t *Tree) []byte {
	b := []byte("NT1")
	for _, s := range []string{t.Domain, t.Hostname, t.IP, t.ThreadGroupName, t.ThreadID, t.ThreadName,
		t.MessageID, t.ParentMessageID, t.RootMessageID, t.SessionToken} {
		b = AppendString(b, s)
	}
	if t.Root != nil {
		b = t.Root.encode(b)
	}
	return b
}

// Frame prefixes a body with its 4-byte big-endian length, as it travels over TCP.
func Frame(body []byte) []byte {
	out := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(out, uint32(len(body)))
	return append(out, body...)
}

// StatusXML is a heartbeat body like the one CAT's Java client reports every minute.
const StatusXML = `<?xml version="1.0" encoding="utf-8"?>
<status timestamp="2023-11-14 22:13:20.000">
   <runtime start-time="1699999000000" up-time="1000000" java-version="17.0.8" user-name="app"/>
   <os name="Linux" arch="amd64" version="6.1" available-processors="8" system-load-average="0.75" process-time="9330000000" total-physical-memory="16000000000" free-physical-memory="8000000000" committed-virtual-memory="4000000000" total-swap-space="0" free-swap-space="0"/>
   <disk><disk-volume id="/" total="100000000000" free="40000000000" usable="38000000000"/></disk>
   <memory max="4000000000" total="2000000000" free="1000000000" heap-usage="900000000" non-heap-usage="100000000">
      <gc name="G1 Young Generation" count="12" time="340"/>
   </memory>
   <thread count="42" daemon-count="30" peek-count="50" total-started-count="60" cat-thread-count="4" pigeon-thread-count="0" http-thread-count="10"/>
</status>`

// SampleTrees are the trees the tests send: a URL transaction with nested transactions
// (one failed) and events, a remote call's child tree, and a heartbeat tree.
func SampleTrees(now time.Time) []*Tree {
	start := now.Truncate(time.Millisecond)
	return []*Tree{
		{
			Domain: "shop", Hostname: "web-1", IP: "10.0.0.5", ThreadGroupName: "http", ThreadID: "31", ThreadName: "http-nio-8080-exec-1",
			MessageID: "shop-0a000005-470000-1",
			Root: &Transaction{Start: start, Type: "URL", Name: "/checkout", Status: "0", Duration: 120 * time.Millisecond, Children: []Node{
				&Message{Tag: 'E', Time: start, Type: "URL.Server", Name: "10.0.0.1", Status: "0", Data: "Method=GET"},
				&Transaction{Start: start.Add(2 * time.Millisecond), Type: "SQL", Name: "cart.select", Status: "0", Data: "SELECT * FROM cart", Duration: 30 * time.Millisecond},
				&Transaction{Start: start.Add(40 * time.Millisecond), Type: "Service", Name: "payment.charge", Status: "java.lang.IllegalStateException", Duration: 50 * time.Millisecond, Children: []Node{
					&Message{Tag: 'E', Time: start.Add(41 * time.Millisecond), Type: "RemoteCall", Name: "payments", Status: "0", Data: "shop-0a000005-470000-2"},
					&Message{Tag: 'E', Time: start.Add(89 * time.Millisecond), Type: "Error", Name: "java.lang.IllegalStateException", Status: "ERROR", Data: "card declined"},
				}},
				&Message{Tag: 'M', Time: start.Add(100 * time.Millisecond), Type: "", Name: "order.count", Status: "C", Data: "1"},
			}},
		},
		{
			Domain: "payments", Hostname: "pay-1", IP: "10.0.0.6", ThreadGroupName: "rpc", ThreadID: "7", ThreadName: "rpc-1",
			MessageID: "payments-0a000006-470000-1", ParentMessageID: "shop-0a000005-470000-1", RootMessageID: "shop-0a000005-470000-1",
			Root: &Transaction{Start: start.Add(42 * time.Millisecond), Type: "Service", Name: "charge", Status: "ERROR", Duration: 45 * time.Millisecond, Children: []Node{
				&Message{Tag: 'L', Time: start.Add(43 * time.Millisecond), Type: "Trace", Name: "issuer", Status: "0", Data: "declined"},
			}},
		},
		{
			Domain: "shop", Hostname: "web-1", IP: "10.0.0.5", ThreadGroupName: "cat", ThreadID: "2", ThreadName: "cat-StatusUpdateTask",
			MessageID: "shop-0a000005-470000-3",
			Root: &Transaction{Start: start, Type: "System", Name: "Status", Status: "0", Duration: time.Millisecond, Children: []Node{
				&Message{Tag: 'H', Time: start, Type: "Heartbeat", Name: "10.0.0.5", Status: "0", Data: StatusXML},
			}},
		},
	}
}
