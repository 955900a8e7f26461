package nt1

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver/cattest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestEncoderByteLayout checks the test client against the layout of datakit-spec §1.6,
// written out byte by byte, so the decoder is not only tested against itself.
func TestEncoderByteLayout(t *testing.T) {
	ts := time.UnixMilli(300) // varint 300 = 0xac 0x02
	tree := &cattest.Tree{Domain: "d", Hostname: "h", IP: "i", ThreadID: "1", MessageID: "m",
		Root: &cattest.Transaction{Start: ts, Type: "URL", Name: "/", Status: "0", Duration: 200 * time.Microsecond, Children: []cattest.Node{
			&cattest.Message{Tag: 'E', Time: ts, Type: "E1", Name: "n", Status: "0", Data: ""},
		}}}
	want := []byte{
		'N', 'T', '1',
		1, 'd', 1, 'h', 1, 'i', // domain, hostname, ip address
		0, 1, '1', 0, // thread group name, thread id, thread name
		1, 'm', 0, 0, 0, // message id, parent, root, session token
		't', 0xac, 0x02, 3, 'U', 'R', 'L', 1, '/', // transaction start: timestamp, type, name
		'E', 0xac, 0x02, 2, 'E', '1', 1, 'n', 1, '0', 0, // event: timestamp, type, name, status, data
		'T', 1, '0', 0, 0xc8, 0x01, // transaction end: status, data, duration 200 µs
	}
	body := cattest.Encode(tree)
	require.Equal(t, want, body)
	framed := cattest.Frame(body)
	assert.Equal(t, []byte{0, 0, 0, byte(len(want))}, framed[:4], "4-byte big-endian length")

	got, err := Decode(body)
	require.NoError(t, err)
	assert.Equal(t, "NT1", got.Version)
	assert.Equal(t, "m", got.MessageID)
	require.NotNil(t, got.Root)
	assert.Equal(t, int64(300), got.Root.TimestampMs)
	assert.Equal(t, int64(200), got.Root.DurationMicros)
	require.Len(t, got.Root.Messages, 1)
	assert.Equal(t, Message{Tag: 'E', TimestampMs: 300, Type: "E1", Name: "n", Status: "0"}, got.Root.Messages[0])
}

func TestDecodeSampleTrees(t *testing.T) {
	now := time.UnixMilli(1700000000123)
	trees := cattest.SampleTrees(now)
	got, err := Decode(cattest.Encode(trees[0]))
	require.NoError(t, err)
	assert.Equal(t, "shop", got.Domain)
	assert.Equal(t, "http-nio-8080-exec-1", got.ThreadName)
	root := got.Root
	require.NotNil(t, root)
	assert.Equal(t, "/checkout", root.Name)
	assert.Equal(t, int64(120_000), root.DurationMicros)
	require.Len(t, root.Children, 2)
	assert.Equal(t, "cart.select", root.Children[0].Name, "atomic 'A' transaction")
	assert.Equal(t, "SELECT * FROM cart", root.Children[0].Data)
	failed := root.Children[1]
	assert.Equal(t, "java.lang.IllegalStateException", failed.Status)
	assert.Len(t, failed.Messages, 2)
	assert.Len(t, root.Messages, 2, "the event and the metric")

	hb, err := Decode(cattest.Encode(trees[2]))
	require.NoError(t, err)
	require.Len(t, hb.Heartbeats, 1)
	assert.Contains(t, hb.Heartbeats[0].Data, "<status")
}

func TestDecodeErrors(t *testing.T) {
	header := append([]byte("NT1"), make([]byte, 10)...) // ten empty strings
	with := func(b ...byte) []byte { return append(append([]byte{}, header...), b...) }
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "want version NT1"},
		{"wrong version", []byte("XYZ"), "want version NT1"},
		{"truncated header", []byte("NT1\x05ab"), "domain length 5 passes the end"},
		{"truncated varint", with('t', 0x80), "truncated varint"},
		{"end without start", with('T', 0, 0, 0), "without a start"},
		{"unknown tag", with('Z'), "unknown message tag 0x5a"},
		{"unended", with('t', 1, 1, 'U', 1, 'n'), "not ended"},
		{"string past end", with('E', 1, 9, 'x'), "E type length 9 passes the end"},
		{"two roots", with('A', 1, 0, 0, 0, 0, 0, 'A', 1, 0, 0, 0, 0, 0), "second root"},
		{"varint overflow", with('E', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "longer than 64 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.body)
			require.ErrorContains(t, err, tt.want)
		})
	}
	deep := append([]byte{}, header...)
	for i := 0; i <= maxDepth; i++ {
		deep = append(deep, 't', 1, 0, 0)
	}
	_, err := Decode(deep)
	require.ErrorContains(t, err, "nested deeper")
}

func FuzzDecode(f *testing.F) {
	for _, tr := range cattest.SampleTrees(time.UnixMilli(1700000000000)) {
		f.Add(cattest.Encode(tr))
	}
	f.Add([]byte("NT1"))
	f.Fuzz(func(t *testing.T, body []byte) {
		tree, err := Decode(body)
		if err == nil && tree == nil {
			t.Fatal("nil tree without error")
		}
	})
}
