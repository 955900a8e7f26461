package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/e2e/harness"
	aggregatev1 "github.com/tracekit/tracekit/proto/gen/go/aggregate/v1"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	"google.golang.org/protobuf/proto"
)

// chromiumPath is Debian's chromium package, which CI installs: the test fails rather than
// skips without it, so a CI image that lost the browser cannot pass unnoticed.
const chromiumPath = "/usr/bin/chromium"

const viewerInputs = `
[[inputs.opentelemetry]]
  [inputs.opentelemetry.http]
    trace_api = "/otel/v1/traces"
`

// otlpTraceJSON is one trace in OTLP/JSON: a checkout server span, its failing client call,
// and the inventory service's server span under that call.
func otlpTraceJSON(traceID string, start time.Time) string {
	ns := func(d time.Duration) string { return fmt.Sprint(start.Add(d).UnixNano()) }
	return `{"resourceSpans": [
  {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
   "scopeSpans": [{"scope": {"name": "viewer-e2e"}, "spans": [
     {"traceId": "` + traceID + `", "spanId": "1000000000000001", "name": "GET /cart", "kind": 2,
      "startTimeUnixNano": "` + ns(0) + `", "endTimeUnixNano": "` + ns(250*time.Millisecond) + `",
      "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}]},
     {"traceId": "` + traceID + `", "spanId": "1000000000000002", "parentSpanId": "1000000000000001", "name": "reserve stock", "kind": 3,
      "startTimeUnixNano": "` + ns(20*time.Millisecond) + `", "endTimeUnixNano": "` + ns(180*time.Millisecond) + `",
      "status": {"code": 2, "message": "out of stock"}}]}]},
  {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "inventory"}}]},
   "scopeSpans": [{"scope": {"name": "viewer-e2e"}, "spans": [
     {"traceId": "` + traceID + `", "spanId": "2000000000000003", "parentSpanId": "1000000000000002", "name": "POST /reserve", "kind": 2,
      "startTimeUnixNano": "` + ns(30*time.Millisecond) + `", "endTimeUnixNano": "` + ns(170*time.Millisecond) + `"}]}]}
]}`
}

// TestViewerShowsTrace sends an OTLP/JSON trace through the all-in-one and finds it with a
// real browser on dataway-sim's page: in the list, through a filter, and in the waterfall.
func TestViewerShowsTrace(t *testing.T) {
	requireChromium(t)
	sim := harness.StartSim(t)
	stack := harness.StartAllInOne(t, sim, viewerInputs)

	const traceID = "5b8efff798038103d269b633813fc60c"
	res, err := http.Post("http://"+stack.HTTPAddr+"/otel/v1/traces", "application/json",
		strings.NewReader(otlpTraceJSON(traceID, time.Now().Add(-time.Second))))
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	sim.WaitPoints(t, "tracing", 3, 30*time.Second)

	ctx, exceptions := newBrowser(t)
	page := "http://" + sim.Addr + "/"
	row := chromedp.CSS(`#trace-list tr[data-trace-id="` + traceID + `"]`)
	do(t, ctx, "trace list", chromedp.Navigate(page), chromedp.WaitVisible(row))
	rowText := get(t, ctx, "trace row", chromedp.Text(row))
	for _, want := range []string{traceID, "checkout", "GET /cart", "3", "250", "error", "opentelemetry"} {
		assert.Contains(t, rowText, want, "list row")
	}

	// The resource search narrows the live list, and brings the trace back.
	q := chromedp.ID("f-q")
	do(t, ctx, "resource filter",
		chromedp.SendKeys(q, "no such resource"),
		chromedp.WaitNotPresent(row),
		// SetValue replaces what was typed and fires the input event (Clear only resets
		// the value attribute).
		chromedp.SetValue(q, "cart"),
		chromedp.WaitVisible(row))

	errSpan := chromedp.CSS(`#waterfall .span-row[data-span-id="1000000000000002"]`)
	do(t, ctx, "waterfall",
		chromedp.Click(chromedp.CSS(string(row)+" a")),
		chromedp.WaitVisible(chromedp.CSS(`#waterfall .span-row[data-span-id="2000000000000003"]`)))
	spans := get(t, ctx, "waterfall rows", chromedp.Nodes(chromedp.CSSAll("#waterfall .span-row")))
	type bar struct{ id, depth, err string }
	var got []bar
	for _, n := range spans {
		got = append(got, bar{n.AttributeValue("data-span-id"), n.AttributeValue("data-depth"), n.AttributeValue("data-error")})
	}
	assert.Equal(t, []bar{{"1000000000000001", "0", "false"}, {"1000000000000002", "1", "true"}, {"2000000000000003", "2", "false"}}, got,
		"spans nested by parent, the failing call marked")
	// The bars are drawn to scale: 250, 160 and 140 ms, each starting after its parent.
	type box struct{ Left, Width, Indent float64 }
	boxes := get(t, ctx, "bar geometry", chromedp.Evaluate[[]box](`Array.from(document.querySelectorAll("#waterfall .span-row")).map(r => {
		const b = r.querySelector(".bar").getBoundingClientRect();
		return {Left: b.left, Width: b.width, Indent: parseFloat(getComputedStyle(r.querySelector(".label")).paddingLeft)};
	})`))
	require.Len(t, boxes, 3)
	assert.Greater(t, boxes[2].Width, 20.0, "the shortest bar is drawn to scale, not as a sliver")
	assert.InDelta(t, 160.0/250, boxes[1].Width/boxes[0].Width, 0.02)
	assert.InDelta(t, 140.0/250, boxes[2].Width/boxes[0].Width, 0.02)
	assert.Less(t, boxes[0].Left, boxes[1].Left)
	assert.Less(t, boxes[1].Left, boxes[2].Left)
	assert.Less(t, boxes[0].Indent, boxes[1].Indent, "children are indented under their parent")
	assert.Less(t, boxes[1].Indent, boxes[2].Indent)

	do(t, ctx, "span attributes", chromedp.Click(errSpan), chromedp.WaitVisible(chromedp.ID("span-tags")))
	attrs := get(t, ctx, "span attributes", chromedp.Text(chromedp.ID("span-attrs")))
	for _, want := range []string{"reserve stock", "status", "error", "parent_id", "1000000000000001", traceID} {
		assert.Contains(t, attrs, want, "attributes of the clicked span")
	}
	assert.Empty(t, exceptions(), "the page threw or logged errors")
}

// TestViewerTabs fills dataway-sim's other Dataway APIs directly (the aggregator may not
// send on its own in a short run) and finds each on its tab: tail-sampling packets grouped
// with their predicates, aggregate batches, writes per category, and the counters.
func TestViewerTabs(t *testing.T) {
	requireChromium(t)
	sim := harness.StartSim(t)
	base := "http://" + sim.Addr
	point := func(name string, fields ...*pointpb.Field) *pointpb.PBPoint {
		return &pointpb.PBPoint{Name: name, Time: time.Now().UnixNano(), Fields: fields}
	}
	tag := func(k, v string) *pointpb.Field {
		return &pointpb.Field{Key: k, IsTag: true, Val: &pointpb.Field_S{S: v}}
	}
	str := func(k, v string) *pointpb.Field { return &pointpb.Field{Key: k, Val: &pointpb.Field_S{S: v}} }
	num := func(k string, v int64) *pointpb.Field { return &pointpb.Field{Key: k, Val: &pointpb.Field_I{I: v}} }
	postProto := func(path string, m proto.Message) {
		t.Helper()
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		res, err := http.Post(base+path+"?token="+harness.SimToken, "application/x-protobuf", bytes.NewReader(b))
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	}
	spans, err := proto.Marshal(&pointpb.PBPoints{Arr: []*pointpb.PBPoint{
		point("ddtrace", tag("service", "tail-web"), tag("status", "error"), str("trace_id", "tailtrace1"), str("span_id", "1"),
			str("parent_id", "0"), str("resource", "GET /tail"), num("start", time.Now().UnixMicro()), num("duration", 900)),
	}})
	require.NoError(t, err)
	for range 2 {
		postProto("/v1/tail_sampling", &aggregatev1.DataPacket{GroupIdHash: 42, RawGroupId: "tailtrace1", Source: "ddtrace", DataType: "tracing",
			PointCount: 1, PointsPayload: spans, HasError: true, PredError: true, MaxSpanDurationUs: 900, RootDurationUs: 900, ConfigVersion: 7})
	}
	postProto("/v1/aggregate", &aggregatev1.Batchs{PickKey: 9, Batchs: []*aggregatev1.AggregationBatch{{RoutingKey: 5,
		AggregationOpts: map[string]*aggregatev1.AggregationAlgo{"req_total": {Method: "count", SourceField: "duration", Window: int64(10 * time.Second)}},
		Points:          &pointpb.PBPoints{Arr: []*pointpb.PBPoint{point("ddtrace", tag("service", "tail-web"), &pointpb.Field{Key: "duration", Val: &pointpb.Field_F{F: 900}})}}}}})
	res, err := http.Post(base+"/v1/write/metric?token="+harness.SimToken, "text/plain", strings.NewReader("cpu,host=laptop usage=12.5\n"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	ctx, exceptions := newBrowser(t)
	do(t, ctx, "tail sampling tab",
		chromedp.Navigate(base+"/#/tail_sampling"),
		chromedp.WaitVisible(chromedp.CSS(`#ts-groups tr[data-group="tailtrace1"]`)))
	group := get(t, ctx, "tail sampling group", chromedp.Text(chromedp.CSS(`#ts-groups tr[data-group="tailtrace1"]`)))
	for _, want := range []string{"tracing", "ddtrace", "2", "pred_error ✓", "pred_http_error ✗", "900 µs", "7"} {
		assert.Contains(t, group, want, "tail-sampling group")
	}
	do(t, ctx, "trace from a tail-sampling packet",
		chromedp.Click(chromedp.CSS(`#ts-groups tr[data-group="tailtrace1"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`#waterfall .span-row.error[data-span-id="1"]`)))

	do(t, ctx, "aggregate tab", chromedp.Navigate(base+"/#/aggregate"), chromedp.WaitVisible(chromedp.CSS("#aggr-list .aggr")))
	aggr := get(t, ctx, "aggregate batch", chromedp.Text(chromedp.CSS("#aggr-list .aggr")))
	for _, want := range []string{"1 batches", "1 points", "req_total = count(duration) window 10.00 s", "routing_key 5", "tail-web"} {
		assert.Contains(t, aggr, want, "aggregate batch")
	}

	do(t, ctx, "writes tab", chromedp.Navigate(base+"/#/writes"), chromedp.WaitVisible(chromedp.CSS(`#write-cats button[data-category="metric"].active`)))
	writes := get(t, ctx, "writes", chromedp.Text(chromedp.ID("write-points")))
	assert.Contains(t, writes, "usage=12.5")

	do(t, ctx, "counters tab", chromedp.Navigate(base+"/#/stats"), chromedp.WaitVisible(chromedp.CSS(`#endpoint-stats tr[data-endpoint="/v1/tail_sampling"]`)))
	counters := get(t, ctx, "counters", chromedp.Text(chromedp.CSS(`#endpoint-stats tr[data-endpoint="/v1/tail_sampling"]`)))
	assert.Contains(t, counters, "200 × 2")
	assert.Empty(t, exceptions(), "the page threw or logged errors")
}

func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the trace viewer tests drive Chromium at %s (Debian package chromium: apt-get install -y chromium): %v", chromiumPath, err)
	}
}

// newBrowser starts headless Chromium on a fresh profile; exceptions returns what the
// page's JavaScript threw.
func newBrowser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var logs bytes.Buffer
	var mu sync.Mutex
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(f string, a ...any) {
		mu.Lock()
		fmt.Fprintf(&logs, f+"\n", a...)
		mu.Unlock()
	}))
	// Cleanups run last-in first-out: the browser exits before its profile directory goes.
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() && logs.Len() > 0 {
			t.Logf("chromedp: %s", logs.String())
		}
	})
	// No deadline on the first Do: its context would bound the browser's whole life.
	require.NoError(t, chromedp.Do(ctx), "start %s", chromiumPath)
	var thrown []string
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			// A CSP refusal or a failed request is a console error, not an exception.
			if m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleError {
				mu.Lock()
				thrown = append(thrown, m.Text)
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), thrown...)
	}
}

// do runs browser actions with a deadline; on failure it shows what the page displayed.
func do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	get(t, ctx, step, chromedp.Steps(actions...))
}

func get[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		defer dcancel()
		text, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v\npage text:\n%s", step, err, text)
	}
	return v
}
