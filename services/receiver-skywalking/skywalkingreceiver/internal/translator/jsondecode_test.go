package translator

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	agentv3 "skywalking.apache.org/repo/goapi/collect/language/agent/v3"

	"github.com/tracekit/tracekit/libs/jsonwire"
)

// protojsonSegments is the decoder DecodeJSONSegments replaced: encoding/json splits the
// array, protojson reads each element.
func protojsonSegments(b []byte) ([]*agentv3.SegmentObject, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, ErrDecode
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(trimmed, &raws); err != nil {
		return nil, err
	}
	segs := make([]*agentv3.SegmentObject, 0, len(raws))
	for _, raw := range raws {
		seg := &agentv3.SegmentObject{}
		if err := jsonOpts.Unmarshal(raw, seg); err != nil {
			return nil, err
		}
		segs = append(segs, seg)
	}
	return segs, nil
}

// readerSegment is DecodeJSONSegment without its protojson fallback.
func readerSegment(b []byte) (*agentv3.SegmentObject, error) {
	d := jsonDecoder{r: jsonwire.NewReader(b, jsonwire.Strict)}
	defer d.r.Release()
	seg := &agentv3.SegmentObject{}
	if err := d.readSegment(seg); err != nil {
		return nil, err
	}
	return seg, d.r.End()
}

func equalSegments(a, b []*agentv3.SegmentObject) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// checkJSON fails unless the readers agree with protojson on data, as one segment and
// as an array of them.
func checkJSON(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := protojsonSegments(data)
	got, err := DecodeJSONSegments(data)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("segments %q: error %v, protojson's %v", data, err, wantErr)
	}
	if !equalSegments(want, got) {
		t.Fatalf("segments %q: got %v, protojson gives %v", data, got, want)
	}

	one := &agentv3.SegmentObject{}
	oneErr := jsonOpts.Unmarshal(data, one)
	seg, err := readerSegment(data)
	switch {
	case err == nil && oneErr != nil:
		t.Fatalf("segment %q: accepted, protojson says %v", data, oneErr)
	case err != nil && oneErr == nil && json.Valid(data):
		// Only protojson's exponent without digits (not JSON) may take the fallback.
		t.Fatalf("segment %q: %v, protojson accepts it", data, err)
	case err == nil && !proto.Equal(one, seg):
		t.Fatalf("segment %q: got %v, protojson gives %v", data, seg, one)
	}
	seg, err = DecodeJSONSegment(data)
	if (err == nil) != (oneErr == nil) || (err == nil && !proto.Equal(one, seg)) {
		t.Fatalf("DecodeJSONSegment %q: %v %v, protojson %v %v", data, seg, err, one, oneErr)
	}
}

// jsonCases are the corners of protojson's rules.
var jsonCases = []string{
	``, `null`, `[]`, `[null]`, `[1]`, `["x"]`, `[[]]`, `[{}]`, `{}`, ` {} `, "\v[{}]\v", `[{}] x`, `[{},]`, `{} {}`,
	`{"traceId":"t","traceSegmentId":"s","service":"svc","serviceInstance":"i","isSizeLimited":true}`,
	`{"traceId":null,"traceSegmentId":null,"spans":null,"isSizeLimited":null}`,
	`{"traceId":"a","traceId":"b"}`,
	`{"traceId":null,"traceId":"b"}`,
	`{"trace\u0049d":"escaped name"}`,
	`{"TraceId":"case matters","trace_id":"no snake case"}`,
	`{"unknown":{"a":[1,{"b":null}],"c":"\ud83d\ude00"},"unknown":1}`,
	`{"[skywalking.v3.SegmentObject]":1}`, `{"[google.protobuf.Any]":1}`, `{"[no.such.ext]":1}`, `{"[]":1}`, `{"[":1}`,
	`{"traceId":1}`, `{"isSizeLimited":"true"}`, `{"isSizeLimited":1}`, `{"spans":{}}`, `{"spans":[null]}`, `{"spans":[1]}`,
	"{\"traceId\":\"\xff\"}", `{"traceId":"\ud800"}`, "{\"unknown\":\"\xff\"}", "{\"\xff\":1}",
	`{"spans":[{"spanId":1,"parentSpanId":-1,"startTime":"1700000000000","endTime":1.7e12,"componentId":"5004"}]}`,
	`{"spans":[{"spanId":1.0,"parentSpanId":"-1","startTime":"1e3","endTime":"1E+3"}]}`,
	`{"spans":[{"spanId":1.5}]}`, `{"spans":[{"spanId":"1.5"}]}`, `{"spans":[{"spanId":0.0}]}`, `{"spans":[{"spanId":-0}]}`,
	`{"spans":[{"spanId":2147483647,"parentSpanId":-2147483648}]}`, `{"spans":[{"spanId":2147483648}]}`,
	`{"spans":[{"spanId":999999999,"parentSpanId":-999999999,"startTime":"999999999999999999","endTime":-999999999999999999}]}`,
	`{"spans":[{"spanId":"-0","componentId":"0","startTime":-0}]}`, `{"spans":[{"startTime":1000000000000000000}]}`,
	`{"spans":[{"startTime":9223372036854775807,"endTime":-9223372036854775808}]}`, `{"spans":[{"startTime":9223372036854775808}]}`,
	`{"spans":[{"startTime":"9223372036854775807"}]}`, `{"spans":[{"startTime":1e18}]}`, `{"spans":[{"startTime":1e19}]}`,
	`{"spans":[{"startTime":100e-2}]}`, `{"spans":[{"startTime":100e-3}]}`, `{"spans":[{"startTime":10e-1}]}`, `{"spans":[{"startTime":0e99999999999}]}`,
	`{"spans":[{"startTime":12345678901234567890e-5}]}`, `{"spans":[{"startTime":1.25e2}]}`, `{"spans":[{"startTime":1.25e1}]}`,
	`{"spans":[{"startTime":" 1"}]}`, `{"spans":[{"startTime":"1 "}]}`, `{"spans":[{"startTime":""}]}`, `{"spans":[{"startTime":"01"}]}`,
	`{"spans":[{"startTime":"+1"}]}`, `{"spans":[{"startTime":"1e"}]}`, `{"spans":[{"startTime":"0x1"}]}`, `{"spans":[{"startTime":"-"}]}`,
	`{"spans":[{"startTime":true}]}`, `{"spans":[{"startTime":[]}]}`, `{"spans":[{"startTime":"\u0031"}]}`,
	`{"spans":[{"spanType":"Exit","spanLayer":"Database"}]}`, `{"spans":[{"spanType":2,"spanLayer":99}]}`,
	`{"spans":[{"spanType":"exit","spanLayer":"nope"}]}`, `{"spans":[{"spanType":"1"}]}`, `{"spans":[{"spanType":1.0}]}`,
	`{"spans":[{"spanType":2147483648}]}`, `{"spans":[{"spanType":true}]}`, `{"spans":[{"spanType":"Exit","spanType":"Local"}]}`,
	`{"spans":[{"refs":[{"refType":"CrossThread","traceId":"t","parentTraceSegmentId":"p","parentSpanId":"3","parentService":"a","parentServiceInstance":"b","parentEndpoint":"c","networkAddressUsedAtPeer":"d"}]}]}`,
	`{"spans":[{"refs":[{"refType":1},{}]}]}`, `{"spans":[{"refs":[null]}]}`, `{"spans":[{"refs":null}]}`,
	`{"spans":[{"tags":[{"key":"k","value":"v"},{"key":"k2"},{}],"logs":[{"time":5,"data":[{"key":"a","value":"b"}]},{}]}]}`,
	`{"spans":[{"tags":[{"key":"k","key":"v"}]}]}`, `{"spans":[{"tags":[null]}]}`, `{"spans":[{"tags":{}}]}`, `{"spans":[{"logs":[{"data":null}]}]}`,
	`{"spans":[{"isError":true,"skipAnalysis":false,"operationName":"op","peer":"p"}]}`,
	// The pairs taken apart in place (readKV), and those that are not.
	`{"spans":[{"tags":[{"value":"v","key":"k"},{ "key" : "k" , "value" : "v" },{"key":"","value":""},{"value":"v"}]}]}`,
	"{\"spans\":[{\"tags\":[{\t\"key\"\n:\r\"k\"}, {} ,{ }]}]}",
	`{"spans":[{"tags":[{"key":"a\"b","value":"c\\"},{"key":"\u00e9","value":"\/"},{"ke\u0079":"k"}]}]}`,
	`{"spans":[{"tags":[{"key":"k","value":null},{"key":null},{"key":1},{"value":true},{"key":"k","value":"v","value":"w"}]}]}`,
	`{"spans":[{"tags":[{"key":"k","x":1},{"x":"y","key":"k"},{"[no.such.ext]":"k"},{"[google.protobuf.Any]":"k"}]}]}`,
	`{"spans":[{"tags":[{"key":"k","value":"v"}},{"key":"k","value":"v"]}]}`, `{"spans":[{"tags":[{"key":"k",}]}]}`,
	"{\"spans\":[{\"tags\":[{\"key\":\"\xff\",\"value\":\"v\"}]}]}", "{\"spans\":[{\"tags\":[{\"key\":\"é😀\",\"value\":\"\u2028\"}]}]}",
	// The spans taken apart in place (plainSpan), and those that are not.
	`{"spans":[{"spanId":null,"parentSpanId":null,"startTime":null,"endTime":null,"operationName":null,"peer":null,"spanType":null,"spanLayer":null,"componentId":null,"isError":null,"tags":null,"skipAnalysis":null}]}`,
	"{\"spans\":[ { \"spanId\" : 1 ,\n\"operationName\"\t:\r\"op\" , \"tags\" : [ ] , \"isError\" : false , \"skipAnalysis\" : true } , { } ]}",
	`{"spans":[{"operationName":"o\"p","peer":"\u0070"},{"spanType":"E\u0078it"},{"startTime":"1\u0030"},{"operationName":""}]}`,
	`{"spans":[{"spanId":1,"refs":[{"parentSpanId":1}],"tags":[{"key":"k","value":"v"}]},{"tags":[{"key":"k"}],"logs":[{"time":1}]}]}`,
	`{"spans":[{"tags":[{"key":"k","value":"v"}],"x":1},{"spanId":"1","spanId":2},{"isError":true,"isError":true},{"peer":1},{"isError":"true"}]}`,
	`{"spans":[{"spanType":"Exit","spanLayer":3,"componentId":-1,"startTime":-1.0e3,"endTime":"-1e+3"},{"spanType":-1},{"spanLayer":1.5}]}`,
	`{"spans":[{"spanId":2147483648}]}`, `{"spans":[{"spanId":"2147483648"}]}`, `{"spans":[{"tags":[{"key":"k","value":"v"},null]}]}`,
	`{"spans":[{"tags":[{"key":"k","value":"v"},{"key":"k","value":1}]}]}`, `{"spans":[{"tags":[{"key":"k"}],"tags":[{"key":"k"}]}]}`,
	`{"spans":[{"operationName":"é😀","peer":"\u2028"}]}`, `{"spans":[null,{}]}`, `{"spans":[{"spanId":true}]}`, `{"spans":[{"spanType":{}}]}`,
	`{"spans":[{"tags":["k"]}]}`, `{"spans":[{"tags":[[]]}]}`, `{"spans":[{"tags":[{"key":"k","value":"v"}],"tags":[]}]}`,
	`{"spans":[{}],"spans":[{}]}`,
	`{"spans":[{"spanId":1e}]}`, `{"spans":[{"x":1e}]}`, `{"spans":[{"spanId":1e+}]}`, `{"spans":[{"spanId":1E-}]}`,
	`[{"traceId":"t"},{"traceId":"u","spans":[{"spanId":1}]}]`, `[{"traceId":"t"},{"traceId":1}]`, `[{"spanId":1e}]`,
}

func TestJSONMatchesProtojson(t *testing.T) {
	for _, c := range jsonCases {
		checkJSON(t, []byte(c))
		checkJSON(t, []byte("["+c+"]"))
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		checkJSON(t, b)
	}
	one, err := protojson.Marshal(benchSegment(benchSpans))
	if err != nil {
		t.Fatal(err)
	}
	checkJSON(t, one)
	checkJSON(t, append(append([]byte{'['}, one...), ']'))
}

// FuzzJSONMatchesProtojson: on any input the JSON readers fail where protojson does and
// otherwise give the same segments.
func FuzzJSONMatchesProtojson(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c))
	}
	addSeeds(f, "*.json")
	f.Fuzz(checkJSON)
}
