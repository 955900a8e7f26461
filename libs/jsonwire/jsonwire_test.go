package jsonwire

import (
	"encoding/json"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// readStrings reads a JSON array of strings.
func readStrings(data []byte, syntax Syntax) ([]string, error) {
	r := NewReader(data, syntax)
	defer r.Release()
	if err := r.Open('['); err != nil {
		return nil, err
	}
	var out []string
	for r.More() {
		v, err := r.Value()
		if err != nil {
			return nil, err
		}
		if v.Kind() != '"' {
			return nil, jsontext.ErrDuplicateName // any error
		}
		out = append(out, r.String(v))
	}
	if err := r.Close(); err != nil {
		return nil, err
	}
	return out, r.End()
}

func TestStringsMatchEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`["plain","caf\u00e9","café","a\"b\\c\/d\n","\ud83d\ude00",""]`,
		"[\"bad \xff utf8\", \"\\ud800 lone\", \"\\ud800\\u0041\", \"\\udc00\"]",
		` [ "x" ] `,
	} {
		var want []string
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := readStrings([]byte(in), Lenient)
		require.Equal(t, wantErr == nil, err == nil, "%s: %v / %v", in, wantErr, err)
		require.Equal(t, want, got, in)
	}
}

func TestStrictRejectsInvalidUTF8(t *testing.T) {
	for _, in := range []string{"[\"\xff\"]", `["\ud800"]`, `["\ud800\u0041"]`, `["\udc00\ud800"]`} {
		_, err := readStrings([]byte(in), Strict)
		require.Error(t, err, in)
		_, err = readStrings([]byte(in), Lenient)
		require.NoError(t, err, in)
	}
	got, err := readStrings([]byte(`["\ud83d\ude00"]`), Strict)
	require.NoError(t, err)
	require.Equal(t, []string{"😀"}, got)
}

func TestSyntaxErrors(t *testing.T) {
	for _, in := range []string{``, ` `, `[`, `["a"`, `["a",]`, `["a"] ["b"]`, `["a"]x`, `[1e]`, "\v[]", `{}`} {
		_, err := readStrings([]byte(in), Lenient)
		require.Error(t, err, in)
	}
}

func TestStringsAreSlicesOfOneCopy(t *testing.T) {
	data := []byte(`["abc","d\u0065f"]`)
	got, err := readStrings(data, Strict)
	require.NoError(t, err)
	require.Equal(t, []string{"abc", "def"}, got)
	data[2] = 'X' // the payload may be reused once read
	require.Equal(t, "abc", got[0])
}

func TestFieldsMatchEncodingJSON(t *testing.T) {
	type target struct {
		TimeStamp uint64 `json:"timestamp"`
		Other     uint64 `json:"Timestamp"`
		Kelvin    uint64 `json:"kind"`
		Service   uint64 `json:"ServiceName"`
	}
	f := NewFields("timestamp", "Timestamp", "kind", "ServiceName").WithSpellings("serviceName", "TIMESTAMP", "nothing")
	for _, name := range []string{"timestamp", "Timestamp", "TIMESTAMP", "timeStamp", "kind", "\u212aind", "KIND", "serviceName", "ſerviceName", "service_name", "", "x"} {
		var v target
		require.NoError(t, json.Unmarshal([]byte(`{"`+name+`":1}`), &v))
		want := -1
		for i, n := range []uint64{v.TimeStamp, v.Other, v.Kelvin, v.Service} {
			if n == 1 {
				want = i
			}
		}
		require.Equal(t, want, f.Lookup([]byte(name)), name)
	}
}

func TestBytesAreStableCopies(t *testing.T) {
	data := []byte(`[{"a": 1}, "x"]`)
	r := NewReader(data, Lenient)
	require.NoError(t, r.Open('['))
	v, err := r.Value()
	require.NoError(t, err)
	first := r.Bytes(v)
	v, err = r.Value()
	require.NoError(t, err)
	second := r.Bytes(v)
	require.NoError(t, r.Close())
	require.NoError(t, r.End())
	r.Release()
	data[2] = 'X'
	require.Equal(t, `{"a": 1}`, string(first))
	require.Equal(t, `"x"`, string(second))
	first = append(first, '!') // capped: must not write over the next value
	require.Equal(t, `"x"`, string(second))
}

func TestPlain(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{`""`, true}, {`"abcdefghijklmnopqrstuvwxyz"`, true}, {`"abcdefgh\\ijk"`, false}, {`"abcdefghijklmno\\"`, false},
		{`"\\"`, false}, {`"café au lait, s'il vous plaît"`, true}, {"\"abcdefgh\xffijk\"", false}, {"\"\xff\"", false},
		{`"0123456789abcdef\\n"`, false}, {`"]]]]]]]]]]]]]]]]"`, true}, {`"\\u00e9tait là"`, false},
	} {
		require.Equal(t, c.want, plain(jsontext.Value(c.s)), c.s)
	}
}

// Strict readers take a string without escapes as its bytes (the tokenizer checked the
// UTF-8): the result must still be encoding/json's.
func TestStrictStringsMatchEncodingJSON(t *testing.T) {
	in := `["plain","caf\u00e9","café, s'il vous plaît","a\"b\\c\/d\n","\ud83d\ude00","😀 ","","abcdefghijklmnopq\\"]`
	var want []string
	require.NoError(t, json.Unmarshal([]byte(in), &want))
	got, err := readStrings([]byte(in), Strict)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestSliceIsOfThePayloadCopy(t *testing.T) {
	data := []byte(`[{"key":"abc"}]`)
	r := NewReader(data, Strict)
	defer r.Release()
	require.NoError(t, r.Open('['))
	v, err := r.Value()
	require.NoError(t, err)
	got := r.Slice(v, 8, 11)
	data[10] = 'X' // the payload may be reused once read
	require.Equal(t, "abc", got)
	require.NoError(t, r.Close())
	require.NoError(t, r.End())
}

func TestSubReadsAValueOnItsOwn(t *testing.T) {
	for _, syntax := range []Syntax{Strict, Lenient} {
		data := []byte(`[1,["abc","d\u0065f"]]`)
		r := NewReader(data, syntax)
		require.NoError(t, r.Open('['))
		_, err := r.Value()
		require.NoError(t, err)
		v, err := r.Value()
		require.NoError(t, err)
		sub := r.Sub(v)
		require.NoError(t, sub.Open('['))
		var got []string
		for sub.More() {
			s, err := sub.Value()
			require.NoError(t, err)
			got = append(got, sub.String(s))
		}
		require.NoError(t, sub.Close())
		require.NoError(t, sub.End())
		sub.Release()
		require.NoError(t, r.Close())
		require.NoError(t, r.End())
		r.Release()
		data[4] = 'X'
		require.Equal(t, []string{"abc", "def"}, got)
	}
}
