package ddwire

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file refwire_test.go -o refwire_gen_test.go -io=false -tests=false -unexported

// The limits of wire.go.
//msgp:limit arrays:500000 maps:100000

// refSpan is Span as it was before Meta and Metrics became sorted slices: Go maps, decoded
// by the generated map code. It is the reference of the differential tests and fuzz targets.
type refSpan struct {
	Service  Str                `msg:"service" json:"service"`
	Name     Str                `msg:"name" json:"name"`
	Resource Str                `msg:"resource" json:"resource"`
	TraceID  Uint64             `msg:"trace_id" json:"trace_id"`
	SpanID   Uint64             `msg:"span_id" json:"span_id"`
	ParentID Uint64             `msg:"parent_id" json:"parent_id"`
	Start    Int64              `msg:"start" json:"start"`
	Duration Int64              `msg:"duration" json:"duration"`
	Error    Int32              `msg:"error" json:"error"`
	Meta     map[string]Str     `msg:"meta,allownil" json:"meta"`
	Metrics  map[string]Float64 `msg:"metrics,allownil" json:"metrics"`
	Type     Str                `msg:"type" json:"type"`
}

type refTrace []*refSpan

type refTraces []refTrace

type refSpans []*refSpan

// refTracerPayload is TracerPayload over refSpan.
type refTracerPayload struct {
	ContainerID     Str              `msg:"container_id"`
	LanguageName    Str              `msg:"language_name"`
	LanguageVersion Str              `msg:"language_version"`
	TracerVersion   Str              `msg:"tracer_version"`
	RuntimeID       Str              `msg:"runtime_id"`
	Chunks          []*refTraceChunk `msg:"chunks,allownil"`
	Tags            map[string]Str   `msg:"tags,allownil"`
	Env             Str              `msg:"env"`
	Hostname        Str              `msg:"hostname"`
	AppVersion      Str              `msg:"app_version"`
}

// refTraceChunk is TraceChunk over refSpan.
type refTraceChunk struct {
	Priority     *Int32         `msg:"priority"`
	Origin       Str            `msg:"origin"`
	Spans        []*refSpan     `msg:"spans,allownil"`
	Tags         map[string]Str `msg:"tags,allownil"`
	DroppedTrace Bool           `msg:"dropped_trace"`
}
