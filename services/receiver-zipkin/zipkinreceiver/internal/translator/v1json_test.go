package translator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/tracekit/tracekit/libs/spanmodel"
)

// encodingJSONV1 is the decoder DecodeV1JSON replaced: encoding/json into []V1Span, then
// the id checks.
func encodingJSONV1(data []byte) ([]V1Span, error) {
	var spans []V1Span
	if err := json.Unmarshal(data, &spans); err != nil {
		return nil, err
	}
	for i := range spans {
		if _, err := checkV1IDs(&spans[i]); err != nil {
			return nil, err
		}
	}
	return spans, nil
}

// checkV1JSON fails unless DecodeV1JSON agrees with encoding/json on data, and the
// message and tag values of what it decoded are encoding/json's.
func checkV1JSON(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := encodingJSONV1(data)
	got, err := DecodeV1JSON(data)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json's %v", data, err, wantErr)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(V1BinaryAnnotation{})); diff != "" {
		t.Fatalf("%q: differs from encoding/json (-want +got):\n%s", data, diff)
	}
	// The one-call conversion is the conversion of the decoded spans.
	for _, opts := range []Options{{}, withOptions(), {DelMessage: true}} {
		traces, err := ParseV1JSON(data, opts)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: ParseV1JSON error %v, encoding/json's %v", data, err, wantErr)
		}
		if _, derr := DecodeV1JSON(data); err != nil && err.Error() != derr.Error() {
			t.Fatalf("%q: ParseV1JSON error %q, DecodeV1JSON's %q", data, err, derr)
		}
		if err == nil {
			if diff := cmp.Diff(V1JSONToTraces(got, opts), traces, protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%q: ParseV1JSON differs from V1JSONToTraces(DecodeV1JSON) (-want +got):\n%s", data, diff)
			}
		}
	}
	for i := range got {
		s := &got[i]
		wantMsg, merr := json.Marshal(s)
		msg, ok := appendV1Message(nil, s, false)
		if ok != (merr == nil) || (ok && string(msg) != string(wantMsg)) {
			t.Fatalf("%q: message %q (%v), json.Marshal %q (%v)", data, msg, ok, wantMsg, merr)
		}
		for _, a := range s.BinaryAnnotations {
			want := string(a.Value)
			var str string
			if len(a.Value) > 0 && a.Value[0] == '"' && json.Unmarshal(a.Value, &str) == nil {
				want = str
			}
			if got := string(appendJSONScalar(nil, a.Value)); got != want {
				t.Fatalf("%q: value %q reads %q, encoding/json %q", data, a.Value, got, want)
			}
		}
	}
}

var v1JSONCases = []string{
	`null`, `[]`, `{}`, `1`, `[null]`, `[1]`, `[{}]`, `[]x`, "[]\x00", "[] \x00 ", ``,
	`[{"traceId":"1","id":"2"}]`,
	`[{"traceId":"1","id":"2"},null]`,
	`[{"traceId":"1","id":"2","parentId":0}]`, `[{"traceId":"1","id":"2","parentId":255}]`,
	`[{"traceId":"1","id":"2","parentId":"ff"}]`, `[{"traceId":"1","id":"2","parentId":null}]`, `[{"traceId":"1","id":"2","parentId":"a","parentId":null}]`,
	`[{"traceId":"1","id":"2","parentId":-1}]`, `[{"traceId":"1","id":"2","parentId":1.5}]`, `[{"traceId":"1","id":"2","parentId":true}]`, `[{"traceId":"1","id":"2","parentId":{}}]`,
	`[{"traceId":"1","id":"2","parentId":"zz"}]`, `[{"traceId":"1","id":"2","parentId":""}]`,
	`[{"traceId":"1","id":"0"}]`, `[{"traceId":"0","id":"1"}]`, `[{"traceId":"","id":"1"}]`, `[{"traceId":1,"id":"1"}]`,
	`[{"TRACEID":"1","ID":"2","Name":"N","TimeStamp":-5,"DURATION":7,"Debug":true}]`,
	`[{"traceId":"1","id":"2","timestamp":1.0}]`, `[{"traceId":"1","id":"2","timestamp":"1"}]`, `[{"traceId":"1","id":"2","timestamp":9223372036854775808}]`,
	`[{"traceId":"1","id":"2","timestamp":null,"duration":null,"debug":null,"name":null}]`,
	`[{"traceId":"1","id":"2","annotations":[{"timestamp":1,"value":"sr","endpoint":{"serviceName":"a","ipv4":"1.2.3.4","port":80}}]}]`,
	`[{"traceId":"1","id":"2","annotations":[null,{}]}]`, `[{"traceId":"1","id":"2","annotations":[]}]`, `[{"traceId":"1","id":"2","annotations":null}]`,
	`[{"traceId":"1","id":"2","annotations":[{"value":"a"},{"value":"b"}],"annotations":[{"timestamp":3}]}]`,
	`[{"traceId":"1","id":"2","annotations":[1]}]`, `[{"traceId":"1","id":"2","annotations":{}}]`,
	`[{"traceId":"1","id":"2","annotations":[{"endpoint":{}}]}]`, `[{"traceId":"1","id":"2","annotations":[{"endpoint":null}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"endpoint":{"port":-1,"ipv6":"::1"}}]}]`, `[{"traceId":"1","id":"2","annotations":[{"endpoint":{"port":"1"}}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"endpoint":{"serviceName":"a"},"endpoint":{"port":1}}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"endpoint":1}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":"x"},{"key":"b","value":1.5e3},{"key":"c","value":true},{"key":"d","value":null},{"key":"e"}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"o","value":{ "x" : [1, 2] , "<&>":"\u2028"}}]}]`,
	"[{\"traceId\":\"1\",\"id\":\"2\",\"binaryAnnotations\":[{\"key\":\"s\",\"value\":\"<b>&\u2028\u2029 \\u003c \\ud800 \xff\"}]}]",
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"k","value":"v","type":"STRING","endpoint":{"serviceName":"svc"}}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"k","value":"v"}],"binaryAnnotations":[{"key":"k2"}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"KEY":"k","VALUE":"v","Type":"t"}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[null]}]`, `[{"traceId":"1","id":"2","binaryAnnotations":[{"key":1}]}]`,
	`[{"traceId":"1","id":"2","unknown":[1,{"a":null}]}]`,
	"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"bad \xff \\ud800\"}]",
	`[{"traceId":"1","id":"2",}]`,
	// The forms v1Scan reads itself, and what is just outside them.
	" \t\r\n[ { \"traceId\" : \"1\" , \"id\" : \"2\" , \"annotations\" : [ { \"timestamp\" : 1 , \"endpoint\" : { \"port\" : 80 } } ] , " +
		"\"binaryAnnotations\" : [ { \"key\" : \"k\" , \"value\" : -1.5e+3 } , { } ] } ] \n",
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":0},{"key":"b","value":-0},{"key":"c","value":1E-2},{"key":"d","value":10.25e2}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":01}]}]`, `[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":1.}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":.5}]}]`, `[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":1e}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":-}]}]`, `[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":tru}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":false},{"key":"b","value":nul}]}]`,
	`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":[1]}]}]`, `[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"a","value":"x","value":"y"}]}]`,
	`[{"traceId":"1","id":"2","timestamp":0,"duration":-12}]`, `[{"traceId":"1","id":"2","timestamp":012}]`, `[{"traceId":"1","id":"2","timestamp":1e3}]`,
	`[{"traceId":"1","id":"2","timestamp":123456789012345678}]`, `[{"traceId":"1","id":"2","timestamp":1234567890123456789}]`, `[{"traceId":"1","id":"2","timestamp":-}]`,
	`[{"traceId":"1","id":"2","debug":false}]`, `[{"traceId":"1","id":"2","debug":nul}]`, `[{"traceId":"1","id":"2","debug":1}]`,
	`[{"traceId":"1","id":"2","name":"<a&b>","binaryAnnotations":[{"key":"k&","value":"<v>","type":"&"}]}]`,
	"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"del\x7f\"}]", "[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"ctl\x01\"}]",
	`[{"traceId":"1","id":"2"},]`, `[{"traceId":"1" "id":"2"}]`, `[{"traceId":"1","id":"2"}{"traceId":"1","id":"3"}]`, `[{"traceId":"1","id":"2"}] x`,
	`[{"traceId":"1","id":"2"}`, `[{"traceId":"1","id":"2"`, `[{"traceId":"1","id":`, `[{"traceId":"1","id"}]`, `[{"traceId":"1",,"id":"2"}]`,
	`  [  ]  `, `[{}]`, `[{"traceId":"1","id":"2","annotations":[],"binaryAnnotations":[]}]`, `[{"traceId":"1","id":"2","annotations":[{}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"endpoint":{"serviceName":"a","ipv4":"1.2.3.4","ipv6":"::1","port":-7}},{"endpoint":{"serviceName":"a","ipv4":"1.2.3.4","ipv6":"::1","port":-7}},{"endpoint":{"serviceName":"b"}},{"endpoint":{}},{"endpoint":null}],` +
		`"binaryAnnotations":[{"key":"k","value":"v","endpoint":{"serviceName":"b"}},{"key":"k","endpoint":{"serviceName":"a","ipv4":"1.2.3.4","ipv6":"::1","port":-7}}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"endpoint":{"serviceName":"a","serviceName":"b"}}]}]`, `[{"traceId":"1","id":"2","annotations":[{"endpoint":{"port":1.5}}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"timestamp":1,"timestamp":2}]}]`, `[{"traceId":"1","id":"2","annotations":null,"annotations":[{"value":"x"}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"Value":"x"}]}]`, `[{"traceId":"1","id":"2","binaryAnnotations":[{"Key":"x"}]}]`, `[{"traceId":"1","id":"2","Name":"x"}]`,
	`[{"traceId":"1","id":"2","annotations":[null]}]`, `[{"traceId":"1","id":"2","annotations":[{"value":1}]}]`, `[{"traceId":"1","id":"2","binaryAnnotations":[{"key":1}]}]`,
	`[{"traceId":"1","id":"2","name":"abcdefghijklmnopqrstuvwxyz0123456789<ABCDEFGH&IJKL>"}]`, `[{"traceId":"1","id":"2","name":"abcdefgh\"ijklmnop"}]`,
	`[{"traceId":"1","id":"2","name":"abcdefghijklmnopqrstuvw\u0078yz"}]`, `[{"traceId":"1","id":"2","name":"abcdefghijklmnop café"}]`, `[{"traceId":"1","id":"2","name":"abcdefghijkl`,
	`[{"traceId":"1","id":"2","parentId":"3","parentId":"4"}]`, `[{"traceId":"1","id":"2","parentId":null}]`, `[{"traceId":"1","id":"2","parentId":7}]`,
	`[{"traceId":"1","id":"2","parentId":18446744073709551615}]`, `[{"traceId":"1","id":"2","parentId":18446744073709551616}]`, `[{"traceId":"1","id":"2","parentId":99999999999999999999}]`,
	`[{"traceId":"1","id":"2","parentId":00}]`, `[{"traceId":"1","id":"2","parentId":1e2}]`,
	`[{"traceId":"0","id":"1"},{"traceId":"1" "id":"2"}]`, `[{"traceId":"0","id":"1"},{"traceId":"1","id":"0"}]`, `[{"traceId":"1","id":"1"},{"traceId":"1","id":"0"}]`,
	`[{"traceId":"1","id":"2","unknown":1}]`, `[{"tr\u0061ceId":"1","id":"2"}]`, `[{"traceId":"1","id":"2"},null]`, `[null,{"traceId":"1","id":"2"}]`,
}

func TestDecodeV1JSONMatchesEncodingJSON(t *testing.T) {
	for _, c := range v1JSONCases {
		checkV1JSON(t, []byte(c))
	}
	b, err := os.ReadFile(filepath.Join("testdata", "v1_multi_service.json"))
	require.NoError(t, err)
	checkV1JSON(t, b)
	b, err = json.Marshal(benchV1())
	require.NoError(t, err)
	checkV1JSON(t, b)
}

// FuzzV1JSONMatchesEncodingJSON: on any input DecodeV1JSON fails where encoding/json does
// and otherwise gives the same spans, messages and tag values.
func FuzzV1JSONMatchesEncodingJSON(f *testing.F) {
	for _, c := range v1JSONCases {
		f.Add([]byte(c))
	}
	b, err := os.ReadFile(filepath.Join("testdata", "v1_multi_service.json"))
	require.NoError(f, err)
	f.Add(b)
	f.Fuzz(checkV1JSON)
}

func TestParseHex64MatchesStrconv(t *testing.T) {
	for _, s := range []string{"", "0", "1", "ff", "FF", "0x1", "_1", "1_0", "g", "-1", "+1", " 1",
		"ffffffffffffffff", "10000000000000000", "0000000000000000001", "fffffffffffffffff", "7fffffffffffffff"} {
		want, err := strconv.ParseUint(s, 16, 64)
		got, ok := parseHex64([]byte(s))
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("%q: %d %v, strconv %d %v", s, got, ok, want, err)
		}
	}
}

// TestV1ScanTakesUsualPayloads: the payloads tracers send (and the benchmark's) are read by
// v1Scan, not handed to jsontext, with messages copied verbatim where nothing is escaped.
func TestV1ScanTakesUsualPayloads(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "v1_multi_service.json"))
	require.NoError(t, err)
	bench, err := json.Marshal(benchV1())
	require.NoError(t, err)
	for _, data := range [][]byte{golden, bench, []byte(`[]`), []byte(` [ {"traceId":"1","id":"2"} ] `)} {
		p := v1JSONParser{tb: spanmodel.GetTextBatch()}
		err, ok := p.plain(data)
		p.tb.Release()
		require.True(t, ok, "%s", data)
		require.NoError(t, err)
	}
	for _, data := range []string{`null`, `[{"TraceId":"1","id":"2"}]`, `[{"traceId":"1","id":"2","parentId":-1}]`} {
		p := v1JSONParser{tb: spanmodel.GetTextBatch()}
		_, ok := p.plain([]byte(data))
		p.tb.Release()
		require.False(t, ok, data)
	}
}
