package translator

import (
	"strings"

	"github.com/tinylib/msgp/msgp"
	"github.com/tracekit/tracekit/services/receiver-ddtrace/ddtracereceiver/internal/ddwire"
)

// The msgpack fixtures in testdata are written by these builders with `go test -update`;
// the builders, not the binary files, are the source of truth.

const t0 = int64(1_700_000_000_000_000_000)

func f(v float64) ddwire.Float64 { return ddwire.Float64(v) }

// webSQL: a web root with 128-bit trace id, a SQL child (multi-line resource), and a
// client span calling another service whose server span is in the same payload.
func webSQL() ddwire.Traces {
	return ddwire.Traces{{
		{
			Service: "shop", Name: "http.request", Resource: "GET /cart", Type: "web",
			TraceID: 6917529027641081856, SpanID: 100, ParentID: 0, Start: ddwire.Int64(t0), Duration: 5_000_000,
			Meta: ddwire.MetaOf(map[string]ddwire.Str{
				"_dd.p.tid": "6650a41a00000000", "_dd.p.dm": "-0", "runtime-id": "3f1b-rt", "env": "prod",
				"version": "1.2.3", "language": "go", "http.url": "http://shop/cart?x=1", "http.method": "GET",
				"http.status_code": "200", "span.kind": "server", "http.route": "/cart", "component": "net/http",
			}),
			Metrics: ddwire.MetricsOf(map[string]ddwire.Float64{"_sampling_priority_v1": f(1), "_dd.top_level": f(1), "process_id": f(4242), "_dd.agent_psr": f(1)}),
		},
		{
			Service: "shop-mysql", Name: "mysql.query", Resource: "SELECT *\nFROM carts\nWHERE id = ?", Type: "sql",
			TraceID: 6917529027641081856, SpanID: 101, ParentID: 100, Start: ddwire.Int64(t0 + 1_000_000), Duration: 2_000_000,
			Meta: ddwire.MetaOf(map[string]ddwire.Str{
				"db.type": "mysql", "peer.hostname": "db.local", "db.instance": "shop", "out.host": "db.local",
				"db.operation": "SELECT", "span.kind": "client", "component": "database/sql", "env": "prod",
			}),
			Metrics: ddwire.MetricsOf(map[string]ddwire.Float64{"_dd.measured": f(1), "db.row_count": f(3)}),
		},
		{
			Service: "shop", Name: "grpc.client", Resource: "/inventory.Stock/Get", Type: "rpc",
			TraceID: 6917529027641081856, SpanID: 102, ParentID: 100, Start: ddwire.Int64(t0 + 3_000_000), Duration: 1_000_000,
			Meta: ddwire.MetaOf(map[string]ddwire.Str{"span.kind": "client", "rpc.service": "inventory.Stock"}),
		},
		{
			Service: "inventory", Name: "grpc.server", Resource: "/inventory.Stock/Get", Type: "rpc",
			TraceID: 6917529027641081856, SpanID: 103, ParentID: 102, Start: ddwire.Int64(t0 + 3_100_000), Duration: 800_000,
			Meta: ddwire.MetaOf(map[string]ddwire.Str{"span.kind": "server", "host": "inv-1", "project": "retail"}),
		},
	}}
}

// errors404: an error span with a long stack (promoted as a field), and a 404 trace
// without error.
func errors404() ddwire.Traces {
	return ddwire.Traces{
		{{
			Service: "shop", Name: "checkout", Resource: "Checkout", Type: "custom",
			TraceID: 42, SpanID: 1, Start: ddwire.Int64(t0), Duration: 1_000, Error: 1,
			Meta: ddwire.MetaOf(map[string]ddwire.Str{
				"error.message": "card declined", "error.type": "*errors.errorString",
				"error.stack": ddwire.Str("goroutine 1 [running]:\n" + strings.Repeat("main.checkout()\n\t/src/main.go:42 +0x1d\n", 40)),
			}),
			Metrics: ddwire.MetricsOf(map[string]ddwire.Float64{"_sampling_priority_v1": f(1)}),
		}},
		{{
			Service: "shop", Name: "http.request", Resource: "GET /missing", Type: "web",
			TraceID: 43, SpanID: 2, Start: ddwire.Int64(t0), Duration: 2_000,
			Meta:    ddwire.MetaOf(map[string]ddwire.Str{"http.status_code": "404", "http.method": "GET", "http.url": "/missing"}),
			Metrics: ddwire.MetricsOf(map[string]ddwire.Float64{"_sampling_priority_v1": f(1)}),
		}},
	}
}

// priorities: user keep, user reject, auto reject, rule keep; all are carried, none dropped.
func priorities() ddwire.Traces {
	var ts ddwire.Traces
	for i, p := range []float64{2, -1, 0, 3, -3} {
		ts = append(ts, ddwire.Trace{{
			Service: "svc", Name: "op", Resource: "res", TraceID: ddwire.Uint64(1000 + i), SpanID: ddwire.Uint64(2000 + i),
			Start: ddwire.Int64(t0), Duration: 10, Metrics: ddwire.MetricsOf(map[string]ddwire.Float64{"_sampling_priority_v1": f(p)}),
		}, {
			Service: "svc", Name: "child", Resource: "res", TraceID: ddwire.Uint64(1000 + i), SpanID: ddwire.Uint64(3000 + i),
			ParentID: ddwire.Uint64(2000 + i), Start: ddwire.Int64(t0 + 1), Duration: 5,
		}})
	}
	return ts
}

// customerTags: options case (customer_tags, input tags, compatible_otel).
func customerTags() ddwire.Traces {
	return ddwire.Traces{{{
		Service: "api", Name: "web.request", Resource: "POST /order", Type: "http",
		TraceID: 77, SpanID: 0xabc, ParentID: 0x12, Start: ddwire.Int64(t0), Duration: 3_000,
		Meta: ddwire.MetaOf(map[string]ddwire.Str{
			"order.id": "o-1", "user.name": "ann", "user.tier": "gold", "other": "stays in message",
			"big.blob": ddwire.Str(strings.Repeat("x", 1025)), "host": "api-1",
		}),
	}}}
}

// chunksV07 is a /v0.7 payload: the second chunk's priority reaches its spans.
func chunksV07() ddwire.TracerPayload {
	keep, reject := ddwire.Int32(2), ddwire.Int32(-1)
	return ddwire.TracerPayload{
		LanguageName: "go", TracerVersion: "v2.12.0", Env: "staging", Hostname: "h1",
		Chunks: []*ddwire.TraceChunk{
			{Priority: &keep, Spans: []*ddwire.Span{{Service: "a", Name: "root", Resource: "r", TraceID: 9, SpanID: 1, Start: ddwire.Int64(t0), Duration: 7, Type: "web"}}},
			{Priority: &reject, Spans: []*ddwire.Span{{Service: "a", Name: "root", Resource: "r", TraceID: 10, SpanID: 2, Start: ddwire.Int64(t0), Duration: 7, Meta: ddwire.MetaOf(map[string]ddwire.Str{"env": "prod"})}}},
			{Spans: []*ddwire.Span{{Service: "a", Name: "nopriority", Resource: "r", TraceID: 11, SpanID: 3, Start: ddwire.Int64(t0), Duration: 7}}},
		},
	}
}

// numericVariants is hand-built: every integer width, signed ids, integer and nil metrics,
// nil strings and meta values, bin strings, a nil meta map, and an unknown field.
func numericVariants() []byte {
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendArrayHeader(b, 2)
	// span 1: smallest encodings
	b = msgp.AppendMapHeader(b, 13)
	b = msgp.AppendString(b, "service")
	b = msgp.AppendBytes(b, []byte("bin-service"))
	b = msgp.AppendString(b, "name")
	b = msgp.AppendString(b, "op")
	b = msgp.AppendString(b, "resource")
	b = msgp.AppendNil(b)
	b = msgp.AppendString(b, "trace_id")
	b = append(b, 0xcc, 0xff) // uint8 255
	b = msgp.AppendString(b, "span_id")
	b = append(b, 0x07) // positive fixint
	b = msgp.AppendString(b, "parent_id")
	b = msgp.AppendNil(b)
	b = msgp.AppendString(b, "start")
	b = msgp.AppendUint64(b, uint64(t0))
	b = msgp.AppendString(b, "duration")
	b = append(b, 0xd1, 0x03, 0xe8) // int16 1000
	b = msgp.AppendString(b, "error")
	b = append(b, 0xcd, 0x00, 0x01) // uint16 1
	b = msgp.AppendString(b, "meta")
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "nil.value")
	b = msgp.AppendNil(b)
	b = msgp.AppendString(b, "http.status_code")
	b = msgp.AppendString(b, "503")
	b = msgp.AppendString(b, "metrics")
	b = msgp.AppendMapHeader(b, 5)
	b = msgp.AppendString(b, "_sampling_priority_v1")
	b = append(b, 0x02) // int priority
	b = msgp.AppendString(b, "int.metric")
	b = msgp.AppendInt64(b, -5)
	b = msgp.AppendString(b, "f32.metric")
	b = msgp.AppendFloat32(b, 1.5)
	b = msgp.AppendString(b, "nil.metric")
	b = msgp.AppendNil(b)
	b = msgp.AppendString(b, "u64.metric")
	b = msgp.AppendUint64(b, 1<<40)
	b = msgp.AppendString(b, "type")
	b = msgp.AppendNil(b)
	b = msgp.AppendString(b, "meta_struct") // unknown to us: skipped
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "k")
	b = msgp.AppendBytes(b, []byte{1, 2})
	// span 2: signed ids (a Java-style negative trace id keeps its bits), int32/uint32
	b = msgp.AppendMapHeader(b, 8)
	b = msgp.AppendString(b, "service")
	b = msgp.AppendString(b, "svc2")
	b = msgp.AppendString(b, "name")
	b = msgp.AppendString(b, "child")
	b = msgp.AppendString(b, "trace_id")
	b = msgp.AppendInt64(b, 255)
	b = msgp.AppendString(b, "span_id")
	b = append(b, 0xd2, 0x00, 0x01, 0x00, 0x00) // int32 65536
	b = msgp.AppendString(b, "parent_id")
	b = append(b, 0xce, 0x00, 0x00, 0x00, 0x07) // uint32 7
	b = msgp.AppendString(b, "start")
	b = msgp.AppendInt64(b, t0+5)
	b = msgp.AppendString(b, "duration")
	b = msgp.AppendFloat64(b, 250) // a float duration
	b = msgp.AppendString(b, "meta")
	b = msgp.AppendNil(b)
	// second trace: a negative signed trace id
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendMapHeader(b, 4)
	b = msgp.AppendString(b, "service")
	b = msgp.AppendString(b, "svc3")
	b = msgp.AppendString(b, "trace_id")
	b = msgp.AppendInt64(b, -2)
	b = msgp.AppendString(b, "span_id")
	b = msgp.AppendUint8(b, 9)
	b = msgp.AppendString(b, "metrics")
	b = msgp.AppendNil(b)
	return b
}

// v05Dict is a hand-built /v0.5 payload: [dictionary, traces of 12-element spans].
func v05Dict() []byte {
	dict := []string{"", "shop", "http.request", "GET /", "web", "env", "prod", "http.status_code", "500",
		"_sampling_priority_v1", "shop-redis", "redis.command", "GET k", "redis", "_dd.p.tid", "0000000000000abc"}
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendArrayHeader(b, uint32(len(dict)))
	for _, s := range dict {
		b = msgp.AppendString(b, s)
	}
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendArrayHeader(b, 2)
	span := func(b []byte, svc, name, res uint32, tid, sid, pid uint64, start, dur int64, errv int32, meta [][2]uint32, metrics map[uint32]float64, typ uint32) []byte {
		b = msgp.AppendArrayHeader(b, 12)
		b = msgp.AppendUint32(b, svc)
		b = msgp.AppendUint32(b, name)
		b = msgp.AppendUint32(b, res)
		b = msgp.AppendUint64(b, tid)
		b = msgp.AppendUint64(b, sid)
		b = msgp.AppendUint64(b, pid)
		b = msgp.AppendInt64(b, start)
		b = msgp.AppendInt64(b, dur)
		b = msgp.AppendInt32(b, errv)
		b = msgp.AppendMapHeader(b, uint32(len(meta)))
		for _, kv := range meta {
			b = msgp.AppendUint32(b, kv[0])
			b = msgp.AppendUint32(b, kv[1])
		}
		b = msgp.AppendMapHeader(b, uint32(len(metrics)))
		for k, v := range metrics {
			b = msgp.AppendUint32(b, k)
			b = msgp.AppendFloat64(b, v)
		}
		return msgp.AppendUint32(b, typ)
	}
	b = span(b, 1, 2, 3, 5555, 1, 0, t0, 9_000, 1, [][2]uint32{{5, 6}, {7, 8}, {14, 15}}, map[uint32]float64{9: 2}, 4)
	b = span(b, 10, 11, 12, 5555, 2, 1, t0+100, 1_000, 0, nil, nil, 13)
	return b
}
