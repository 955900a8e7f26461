package translator

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/pinpoint-apm/pinpoint-go-agent/protobuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/spanmodel/spanmodeltest"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/protoadapt"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testCase is one testdata/<case>.json: the agent, the metadata it sent, and one message.
type testCase struct {
	Agent    Agent             `json:"agent"`
	Options  Options           `json:"options"`
	API      map[string]string `json:"api"`
	SQL      map[string]string `json:"sql"`
	SQLUID   map[string]string `json:"sql_uid"` // hex uid -> statement
	Strings  map[string]string `json:"string"`
	Message  json.RawMessage   `json:"message"`
	Expected map[string]int    `json:"unresolved"`
}

type mapResolver map[Ref]string

func (m mapResolver) Lookup(r Ref) (string, bool) { v, ok := m[r]; return v, ok }

func (tc *testCase) resolver(t testing.TB) mapResolver {
	r := mapResolver{}
	for kind, table := range map[Kind]map[string]string{KindAPI: tc.API, KindSQL: tc.SQL, KindString: tc.Strings} {
		for id, v := range table {
			n, err := strconv.Atoi(id)
			require.NoError(t, err)
			r[Ref{Kind: kind, ID: int32(n)}] = v
		}
	}
	for uid, v := range tc.SQLUID {
		var b []byte
		for i := 0; i+1 < len(uid); i += 2 {
			n, err := strconv.ParseUint(uid[i:i+2], 16, 8)
			require.NoError(t, err)
			b = append(b, byte(n))
		}
		r[Ref{Kind: KindSQLUID, UID: string(b)}] = v
	}
	return r
}

func loadCase(t testing.TB, path string) (*testCase, *v1.PSpanMessage) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var tc testCase
	require.NoError(t, json.Unmarshal(raw, &tc))
	msg := &v1.PSpanMessage{}
	require.NoError(t, protojson.Unmarshal(tc.Message, protoadapt.MessageV2Of(msg)), path)
	return &tc, msg
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	var n int
	for _, in := range files {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		n++
		t.Run(strings.TrimSuffix(filepath.Base(in), ".json"), func(t *testing.T) {
			tc, msg := loadCase(t, in)
			res, err := Convert(msg, tc.Agent, tc.resolver(t), tc.Options)
			require.NoError(t, err)
			got := &spanv1.DatakitTrace{Spans: res.Spans}
			spanmodeltest.CompareGolden(t, strings.TrimSuffix(in, ".json")+".golden.json", got, *update)
			unresolved := map[string]int{}
			for k, v := range res.Unresolved {
				unresolved[k.String()] = v
			}
			if tc.Expected == nil {
				tc.Expected = map[string]int{}
			}
			assert.Equal(t, tc.Expected, unresolved, "unresolved metadata")
		})
	}
	require.Positive(t, n)
}

func TestDeterministicIDs(t *testing.T) {
	tc, msg := loadCase(t, "testdata/span_events.json")
	a, err := Convert(msg, tc.Agent, tc.resolver(t), tc.Options)
	require.NoError(t, err)
	tc, msg = loadCase(t, "testdata/span_events.json")
	b, err := Convert(msg, tc.Agent, tc.resolver(t), tc.Options)
	require.NoError(t, err)
	require.Equal(t, len(a.Spans), len(b.Spans))
	seen := map[string]bool{}
	for i := range a.Spans {
		assert.Equal(t, a.Spans[i].SpanId, b.Spans[i].SpanId, "a resent span gives the same ids")
		assert.False(t, seen[a.Spans[i].SpanId], "span ids are unique within a span")
		seen[a.Spans[i].SpanId] = true
	}
	assert.NotEqual(t, EventID(1, 0, 0, 1), EventID(1, 1, 1, 1), "async events do not collide with sync ones")
	assert.NotEqual(t, EventID(1, 0, 0, 1), EventID(2, 0, 0, 1))
	assert.Positive(t, LinkID(-5, -7))
}

// TestCrossProcessLink checks that a caller's exit event and the callee's PSpan agree on the
// link id without any shared state.
func TestCrossProcessLink(t *testing.T) {
	caller := &v1.PSpanMessage{Field: &v1.PSpanMessage_Span{Span: &v1.PSpan{
		TransactionId: &v1.PTransactionId{AgentId: "a", AgentStartTime: 1, Sequence: 2},
		SpanId:        100, ParentSpanId: -1, StartTime: 1000, Elapsed: 10,
		SpanEvent: []*v1.PSpanEvent{{Sequence: 0, Depth: 1, EndElapsed: 5, ServiceType: 9401,
			NextEvent: &v1.PNextEvent{Field: &v1.PNextEvent_MessageEvent{MessageEvent: &v1.PMessageEvent{NextSpanId: 200, DestinationId: "b:80"}}}}},
	}}}
	callee := &v1.PSpanMessage{Field: &v1.PSpanMessage_Span{Span: &v1.PSpan{
		TransactionId: &v1.PTransactionId{AgentId: "a", AgentStartTime: 1, Sequence: 2},
		SpanId:        200, ParentSpanId: 100, StartTime: 1001, Elapsed: 3,
	}}}
	r1, err := Convert(caller, Agent{ApplicationName: "front"}, nil, Options{})
	require.NoError(t, err)
	r2, err := Convert(callee, Agent{ApplicationName: "back"}, nil, Options{})
	require.NoError(t, err)
	require.Len(t, r1.Spans, 2)
	require.Len(t, r2.Spans, 1)
	assert.Equal(t, "exit", r1.Spans[1].SpanType)
	assert.Equal(t, r1.Spans[1].SpanId, r2.Spans[0].ParentId)
	assert.Equal(t, r1.Spans[0].TraceId, r2.Spans[0].TraceId)
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		msg  *v1.PSpanMessage
		want string
	}{
		{"empty", &v1.PSpanMessage{}, "neither span nor spanChunk"},
		{"zero span id", &v1.PSpanMessage{Field: &v1.PSpanMessage_Span{Span: &v1.PSpan{}}}, "spanId is 0"},
		{"negative elapsed", &v1.PSpanMessage{Field: &v1.PSpanMessage_Span{Span: &v1.PSpan{SpanId: 1, Elapsed: -1}}}, "negative elapsed"},
		{"negative depth", &v1.PSpanMessage{Field: &v1.PSpanMessage_Span{Span: &v1.PSpan{SpanId: 1,
			SpanEvent: []*v1.PSpanEvent{{Depth: -3}}}}}, "negative depth"},
		{"nil event", &v1.PSpanMessage{Field: &v1.PSpanMessage_SpanChunk{SpanChunk: &v1.PSpanChunk{SpanId: 1,
			SpanEvent: []*v1.PSpanEvent{nil}}}}, "is empty"},
		{"chunk zero span id", &v1.PSpanMessage{Field: &v1.PSpanMessage_SpanChunk{SpanChunk: &v1.PSpanChunk{}}}, "spanId is 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Convert(tt.msg, Agent{}, nil, Options{})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRefs(t *testing.T) {
	_, msg := loadCase(t, "testdata/span_events.json")
	refs := Refs(msg)
	kinds := map[Kind]int{}
	for _, r := range refs {
		kinds[r.Kind]++
	}
	assert.Positive(t, kinds[KindAPI])
	assert.Equal(t, 1, kinds[KindSQL])
	assert.Equal(t, 1, kinds[KindString])
	assert.Empty(t, Refs(&v1.PSpanMessage{}))
}

func TestAgentInfoTags(t *testing.T) {
	assert.Nil(t, AgentInfoTags(nil))
	assert.Equal(t, map[string]string{"hostname": "h", "ip": "10.0.0.1", "pid": "42", "ports": "8080", "container": "true", "agentVersion": "1.4.7"},
		AgentInfoTags(&v1.PAgentInfo{Hostname: "h", Ip: "10.0.0.1", Pid: 42, Ports: "8080", Container: true, AgentVersion: "1.4.7"}))
}

func TestSourceTypeOf(t *testing.T) {
	for code, want := range map[int32]string{1800: "web", 1801: "framework", 1000: "custom", 2101: "db", 8200: "cache", 8660: "message_queue", 9401: "web", 5000: "framework", 100: "custom", -1: "custom"} {
		assert.Equal(t, want, sourceTypeOf(code), code)
	}
	assert.Equal(t, "Unknown", serviceTypeName(123456))
	assert.Equal(t, "annotation_777", annotationName(777))
}
