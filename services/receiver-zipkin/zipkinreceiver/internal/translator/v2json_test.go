package translator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/tracekit/tracekit/libs/jsonwire"
)

// encodingJSONV2 is the decoder DecodeV2JSON replaced: encoding/json through zipkin-go's
// UnmarshalJSON methods. A panic (zipkin-go dereferences a null annotation) counts as an
// error.
func encodingJSONV2(data []byte) (spans []*model.SpanModel, err error) {
	defer func() {
		if p := recover(); p != nil {
			spans, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	if err := json.Unmarshal(data, &spans); err != nil {
		return nil, err
	}
	for i, s := range spans {
		if s == nil {
			return nil, fmt.Errorf("span[%d] is null", i)
		}
		if s.TraceID.Empty() {
			return nil, fmt.Errorf("span[%d]: %w", i, model.ErrValidTraceIDRequired)
		}
	}
	return spans, nil
}

// checkV2JSON fails unless DecodeV2JSON and encoding/json agree on data.
func checkV2JSON(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := encodingJSONV2(data)
	got, err := DecodeV2JSON(data)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json's %v", data, err, wantErr)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("%q: differs from encoding/json (-want +got):\n%s", data, diff)
	}
	// The streaming conversion is the conversion of the decoded spans.
	for _, opts := range []Options{{}, withOptions()} {
		traces, err := V2JSONToTraces(data, opts)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: V2JSONToTraces error %v, encoding/json's %v", data, err, wantErr)
		}
		if err == nil {
			if diff := cmp.Diff(V2ToTraces(got, opts), traces, protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%q: V2JSONToTraces differs from V2ToTraces(DecodeV2JSON) (-want +got):\n%s", data, diff)
			}
		}
	}
	for _, s := range got {
		msg, ok := appendV2Message(nil, s)
		if want := jsonV2Message(s); (ok && string(msg) != want) || (!ok && want != "") {
			t.Fatalf("%q: message %q (%v), encoding/json %q", data, msg, ok, want)
		}
	}
}

// v2JSONCases are the corners of encoding/json and zipkin-go's unmarshalers.
var v2JSONCases = []string{
	`null`, `[]`, ` [ ] `, `{}`, `"x"`, `1`, `[null]`, `[1]`, `[[]]`, `[{}]`, `[]x`, `[] []`, ``,
	`[{"traceId":"1","id":"2"}]`,
	`[{"traceId":"ABCDEF0123456789abcdef0123456789","id":"FFffFFffFFffFFff","parentId":"1"}]`,
	`[{"traceId":"1","id":"2","parentId":""}]`,
	`[{"traceId":"1","id":"2","parentId":null}]`,
	`[{"traceId":"1","id":"2","parentId":"3","parentId":""}]`,
	`[{"traceId":"1","id":"2","parentId":"3","parentId":null}]`,
	`[{"traceId":"1","id":"2","id":""}]`,
	`[{"traceId":"1","id":"2","id":12}]`,
	`[{"traceId":"1","id":"2","id":123}]`,
	`[{"traceId":1234,"id":"2"}]`,
	`[{"traceId":[1],"id":"2"}]`,
	`[{"traceId":{"a":1},"id":"2"}]`,
	`[{"traceId":null,"id":"2"}]`,
	`[{"traceId":"","id":"2"}]`,
	`[{"traceId":"0","id":"2"}]`,
	`[{"traceId":"\u0031","id":"2"}]`,
	`[{"traceId":"00000000000000000000000000000000001","id":"2"}]`,
	`[{"traceId":"10000000000000000000000000000000001","id":"2"}]`,
	`[{"traceId":"1","id":"10000000000000000"}]`,
	`[{"traceId":"1","id":"0"}]`,
	`[{"traceId":"1","id":"-1"}]`,
	`[{"traceId":"1","id":"2","timestamp":1700000000000000,"duration":1500}]`,
	`[{"traceId":"1","id":"2","timestamp":1.5}]`,
	`[{"traceId":"1","id":"2","timestamp":1e3}]`,
	`[{"traceId":"1","id":"2","timestamp":-1}]`,
	`[{"traceId":"1","id":"2","timestamp":"1"}]`,
	`[{"traceId":"1","id":"2","timestamp":null,"duration":null}]`,
	`[{"traceId":"1","id":"2","timestamp":5,"timestamp":null}]`,
	`[{"traceId":"1","id":"2","timestamp":18446744073709551615,"duration":18446744073709551615}]`,
	`[{"traceId":"1","id":"2","timestamp":18446744073709551616}]`,
	`[{"TRACEID":"1","Id":"2","TimeStamp":7,"DURATION":3,"Name":"N","KIND":"client","tAgS":{"a":"b"}}]`,
	`[{"traceId":"1","id":"2","ſhared":true,"\u212aind":"k"}]`,
	`[{"traceId":"1","id":"2","Timestamp":"x","Duration":"y"}]`,
	`[{"traceId":"1","id":"2","name":"GET /X","kind":"SERVER","debug":true,"shared":true}]`,
	`[{"traceId":"1","id":"2","name":"Ünïcode ÀB <&> \u2028"}]`,
	`[{"traceId":"1","id":"2","name":null,"kind":null,"debug":null,"shared":null}]`,
	`[{"traceId":"1","id":"2","name":1}]`,
	`[{"traceId":"1","id":"2","debug":"true"}]`,
	`[{"traceId":"1","id":"2","debug":1}]`,
	"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"bad \xff \\ud800 \\ud800\\u0041\"}]",
	"[{\"traceId\":\"1\",\"id\":\"2\",\"na\\u006de\":\"escaped name\",\"n\xffame\":\"x\"}]",
	`[{"traceId":"1","id":"2","unknown":{"a":[1,2,{"b":null}]},"sampled":true,"err":1,"baggage":{}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"Svc","ipv4":"10.0.0.1","ipv6":"::1","port":8080}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"SERVICENAME":"a","IPV4":"","Port":0}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":null,"remoteEndpoint":{"port":1}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a"},"localEndpoint":{"port":2}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a"},"localEndpoint":null}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"ipv4":"1.2.3.4","ipv4":null}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"ipv4":"x"}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"ipv4":1}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"ipv4":[]}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"port":65535}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"port":65536}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"port":-1}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":"x"}]`,
	`[{"traceId":"1","id":"2","localEndpoint":[]}]`,
	`[{"traceId":"1","id":"2","annotations":[]}]`,
	`[{"traceId":"1","id":"2","annotations":null}]`,
	`[{"traceId":"1","id":"2","annotations":[{"timestamp":1,"value":"sr"},{"TIMESTAMP":2,"VALUE":"ss"}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"timestamp":1,"value":"a"}],"annotations":[{"timestamp":2}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"timestamp":1,"value":"a"},{"timestamp":1}],"annotations":[{"timestamp":2}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"timestamp":1,"value":"a"}],"annotations":[]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"value":"a"}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"timestamp":0}]}]`,
	`[{"traceId":"1","id":"2","annotations":[null]}]`,
	`[{"traceId":"1","id":"2","annotations":[1]}]`,
	`[{"traceId":"1","id":"2","annotations":{}}]`,
	`[{"traceId":"1","id":"2","annotations":[{"Timestamp":"2020-01-01T00:00:00Z","timestamp":3}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"Timestamp":"bad","timestamp":3}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"Timestamp":null,"timestamp":3}]}]`,
	`[{"traceId":"1","id":"2","annotations":[{"Timestamp":1,"timestamp":3}]}]`,
	`[{"traceId":"1","id":"2","tags":{}}]`,
	`[{"traceId":"1","id":"2","tags":null}]`,
	`[{"traceId":"1","id":"2","tags":{"a":null,"b":"c","a\u0062":"d"}}]`,
	`[{"traceId":"1","id":"2","tags":{"a":"1"},"tags":{"b":"2"}}]`,
	`[{"traceId":"1","id":"2","tags":{"a":"1"},"tags":null}]`,
	`[{"traceId":"1","id":"2","tags":{"a":"1","a":"2"}}]`,
	`[{"traceId":"1","id":"2","tags":{"a":1}}]`,
	`[{"traceId":"1","id":"2","tags":{"a":{}}}]`,
	`[{"traceId":"1","id":"2","tags":[]}]`,
	`[{"traceId":"1","id":"2"},{"traceId":"1","id":"3","tags":{"x":"y"}},{"traceId":"1","id":"4","tags":{}}]`,
	`[{"traceId":"1","id":"2"},null]`,
	`[{"traceId":"1","id":"2",}]`,
	`[{"traceId":"1","id":"2"}`,
	// The whole-span walk of V2JSONToTraces and where it hands over to the token reader.
	" [ {\n\t\"traceId\" : \"1\" ,\r\"id\":\"2\", \"timestamp\" : 10 , \"duration\":null, \"debug\":true,\"shared\":false ,\"name\":null,\"kind\":\"CLIENT\", \"localEndpoint\" : { \"serviceName\" : \"a\" , \"port\" : 80 } , \"tags\" : { \"k\" : \"v\" , \"n\" : null } } ] ",
	`[{"traceId":"1","id":"2","timestamp":1e3}]`,
	`[{"traceId":"1","id":"2","timestamp":1.5}]`,
	`[{"traceId":"1","id":"2","timestamp":-1}]`,
	`[{"traceId":"1","id":"2","timestamp":"1"}]`,
	`[{"traceId":"1","id":"2","timestamp":18446744073709551616}]`,
	`[{"traceId":"1","id":"2","timestamp":1844674407370955161}]`,
	`[{"traceId":"1","id":"2","duration":99999999999999999999}]`,
	`[{"trace\u0049d":"1","id":"2"}]`,
	`[{"TRACEID":"1","ID":"2","Tags":{"a":"b"}}]`,
	`[{"traceId":"1","id":"2","unknown":[1,{"a":"}"}],"tags":{"x":"y"}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a","port":65536}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a","port":"80"}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a","ipv4":"1.2.3.4","port":1}}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"ServiceName":"a"},"remoteEndpoint":{"serviceName":"b"},"localEndpoint":null}]`,
	`[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a"},"localEndpoint":{"port":7}}]`,
	`[{"traceId":"1","id":"2","remoteEndpoint":{"serviceName":"b"},"annotations":[{"timestamp":1,"value":"x"}]}]`,
	`[{"traceId":"1","id":"2","parentId":null,"parentId":"3","parentId":""}]`,
	`[{"traceId":"1","id":"2","parentId":"3","parentId":null}]`,
	`[{"traceId":"1","id":"2","id":null}]`,
	`[{"traceId":"1\u0030","id":"2"}]`,
	`[{"traceId":"1","id":"2","debug":null,"shared":1}]`,
	`[{"traceId":"1","id":"2","name":"\u00e9\"<x>","kind":null,"tags":{"\u00e9":"\ud800","k":"a&b","z":"é"}}]`,
	`[{"traceId":"1","id":"2","tags":{"b":"1","a":"2","b":"3","a":"4"}}]`,
	`[{"traceId":"1","id":"2","tags":{"a":"1"},"tags":{"b":"2"}}]`,
	`[{"traceId":"1","id":"2","tags":{"a":true}}]`,
	"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"a\xffb\",\"tags\":{\"k\xff\":\"\xfe\"}}]",
	`[{"traceId":"1","id":"2"},{"traceId":"1","id":"3","timestamp":1e3},{"traceId":"1","id":"4","tags":{"x":"y"}}]`,
	`[{}]`,
	`[{"traceId":"1","id":"2","tags":{}}]`,
}

func TestDecodeV2JSONMatchesEncodingJSON(t *testing.T) {
	for _, c := range v2JSONCases {
		checkV2JSON(t, []byte(c))
	}
	for _, name := range []string{"v2_multi_service.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		checkV2JSON(t, b)
	}
	b, err := json.Marshal(benchV2())
	require.NoError(t, err)
	checkV2JSON(t, b)
}

// FuzzV2JSONMatchesEncodingJSON: on any input DecodeV2JSON fails where encoding/json does
// and otherwise gives the same spans.
func FuzzV2JSONMatchesEncodingJSON(f *testing.F) {
	for _, c := range v2JSONCases {
		f.Add([]byte(c))
	}
	b, err := os.ReadFile(filepath.Join("testdata", "v2_multi_service.json"))
	require.NoError(f, err)
	f.Add(b)
	f.Fuzz(checkV2JSON)
}

// FuzzParseHex64: the table-driven parse is strconv's.
func FuzzParseHex64(f *testing.F) {
	for _, s := range []string{"", "0", "ff", "FF", "0x1", "g", "-1", "ffffffffffffffff", "10000000000000000",
		"0000000000000000001", "00000000000000000000ffffffffffffffff", "0000000000000000g", "fffffffffffffffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseUint(s, 16, 64)
		got, ok := parseHex64([]byte(s))
		if ok != (err == nil) || (ok && got != want) {
			t.Fatalf("%q: %d %v, strconv %d %v", s, got, ok, want, err)
		}
	})
}

// TestWalkV2SpanTakesCommonSpans: the walk, not the token reader it hands over to, reads
// the spans Zipkin reporters send (else the shortcut silently costs a second read).
func TestWalkV2SpanTakesCommonSpans(t *testing.T) {
	bench, err := json.Marshal(benchV2())
	require.NoError(t, err)
	fixture, err := os.ReadFile(filepath.Join("testdata", "v2_multi_service.json"))
	require.NoError(t, err)
	var spaced []byte
	for _, c := range v2JSONCases {
		if strings.HasPrefix(c, " [ {\n") {
			spaced = []byte(c)
		}
	}
	require.NotNil(t, spaced)
	for _, data := range [][]byte{bench, fixture, spaced} {
		r := jsonwire.NewReader(data, jsonwire.Lenient)
		require.NoError(t, r.Open('['))
		walked := 0
		for r.More() {
			v, err := r.Value()
			require.NoError(t, err)
			var s model.SpanModel
			var ts, dur uint64
			st := v2Storage{reuse: true}
			if walkV2Span(r, v, r.Slice(v, 0, len(v)), &s, &st, &ts, &dur) {
				walked++
			}
		}
		r.Release()
		if bytes.Contains(data, []byte(`"annotations"`)) {
			require.Positive(t, walked, "%s", data)
			continue
		}
		require.Equal(t, bytes.Count(data, []byte(`"traceId"`)), walked, "%s", data)
	}
}
