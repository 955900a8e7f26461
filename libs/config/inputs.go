package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Sources, in the order the all-in-one starts their receivers. They are the NATS subject
// suffixes and the measurement names DataKit uses.
const (
	SourceDDTrace       = "ddtrace"
	SourceJaeger        = "jaeger"
	SourceOpenTelemetry = "opentelemetry"
	SourceSkyWalking    = "skywalking"
	SourceZipkin        = "zipkin"
	SourceCAT           = "cat"
	SourcePinpoint      = "pinpoint"
)

// Inputs holds every [[inputs.<source>]] section. A source with no section is disabled.
type Inputs struct {
	DDTrace       []DDTrace       `toml:"ddtrace"`
	Jaeger        []Jaeger        `toml:"jaeger"`
	OpenTelemetry []OpenTelemetry `toml:"opentelemetry"`
	SkyWalking    []SkyWalking    `toml:"skywalking"`
	Zipkin        []Zipkin        `toml:"zipkin"`
	CAT           []CAT           `toml:"cat"`
	Pinpoint      []Pinpoint      `toml:"pinpoint"`
}

// Sampler is [inputs.X.sampler].
type Sampler struct {
	SamplingRate float64 `toml:"sampling_rate"`
}

// Threads is [inputs.X.threads]: the worker pool that bounds in-flight requests.
type Threads struct {
	Buffer  int `toml:"buffer"`
	Threads int `toml:"threads"`
}

// Tracing holds the keys every tracing input shares (datakit-spec §1.0).
type Tracing struct {
	CustomerTags     []string `toml:"customer_tags"`
	KeepRareResource bool     `toml:"keep_rare_resource"`
	// RareResourceMaxKeys bounds the keep-rare seen-set (an LRU); DataKit's is unbounded.
	RareResourceMaxKeys int `toml:"rare_resource_max_keys"`
	// RareResourceShared keeps the seen-set in a NATS KV bucket (JetStream mode only) so
	// that scaled-out filter instances agree on what is rare; false keeps it in memory.
	RareResourceShared bool                `toml:"rare_resource_shared"`
	OmitErrStatus      []string            `toml:"omit_err_status"`
	CloseResource      map[string][]string `toml:"close_resource"`
	Sampler            *Sampler            `toml:"sampler"`
	Tags               map[string]string   `toml:"tags"`
	Threads            *Threads            `toml:"threads"`
	DelMessage         bool                `toml:"del_message"`
	IgnoreTags         []string            `toml:"ignore_tags"`
	// TraceMaxSpans caps the spans kept per trace (0: no cap). DataKit parses it but never
	// applies it; we do.
	TraceMaxSpans int `toml:"trace_max_spans"`
}

func (t *Tracing) applyDefaults() {
	if t.Threads == nil {
		t.Threads = &Threads{}
	}
	if t.Threads.Buffer <= 0 {
		t.Threads.Buffer = 100
	}
	if t.Threads.Threads <= 0 {
		t.Threads.Threads = 8
	}
	if t.RareResourceMaxKeys == 0 {
		t.RareResourceMaxKeys = 100_000
	}
}

// Validate checks the shared tracing keys.
func (t *Tracing) Validate() error {
	var errs []error
	for i, ct := range t.CustomerTags {
		if re, ok := strings.CutPrefix(ct, "reg:"); ok {
			if _, err := regexp.Compile(re); err != nil {
				errs = append(errs, fmt.Errorf("customer_tags[%d]: %w", i, err))
			}
		}
	}
	for svc, res := range t.CloseResource {
		for i, r := range res {
			if _, err := regexp.Compile(r); err != nil {
				errs = append(errs, fmt.Errorf("close_resource.%s[%d]: %w", svc, i, err))
			}
		}
	}
	for i, r := range t.IgnoreTags {
		if _, err := regexp.Compile(r); err != nil {
			errs = append(errs, fmt.Errorf("ignore_tags[%d]: %w", i, err))
		}
	}
	for i, s := range t.OmitErrStatus {
		if n, err := strconv.Atoi(s); err != nil || n < 100 || n > 599 {
			errs = append(errs, fmt.Errorf("omit_err_status[%d]: %q is not an HTTP status code", i, s))
		}
	}
	// Written as a negation so that nan (valid TOML) is refused too.
	if t.Sampler != nil && !(t.Sampler.SamplingRate >= 0 && t.Sampler.SamplingRate <= 1) {
		errs = append(errs, fmt.Errorf("sampler.sampling_rate: must be within [0, 1], got %v", t.Sampler.SamplingRate))
	}
	if t.Threads != nil {
		if t.Threads.Buffer < 1 {
			errs = append(errs, fmt.Errorf("threads.buffer: must be >= 1, got %d", t.Threads.Buffer))
		}
		if t.Threads.Threads < 1 {
			errs = append(errs, fmt.Errorf("threads.threads: must be >= 1, got %d", t.Threads.Threads))
		}
	}
	if t.RareResourceMaxKeys < 1 {
		errs = append(errs, fmt.Errorf("rare_resource_max_keys: must be >= 1, got %d", t.RareResourceMaxKeys))
	}
	if t.TraceMaxSpans < 0 {
		errs = append(errs, errors.New("trace_max_spans: must not be negative"))
	}
	return errors.Join(errs...)
}

// DDTrace is [[inputs.ddtrace]].
type DDTrace struct {
	Tracing
	Endpoints       []string `toml:"endpoints"`
	CompatibleOTEL  bool     `toml:"compatible_otel"`
	TraceID64BitHex bool     `toml:"trace_id_64_bit_hex"`
	MaxTraceBodyMB  int      `toml:"max_trace_body_mb"`
	// Trace128BitID joins _dd.p.tid and the low 64 bits into a 32-hex trace id; default true.
	Trace128BitID *bool `toml:"trace_128_bit_id"`
	// APMTelemetryRouteEnable serves /telemetry/proxy/api/v2/apmtelemetry; default true.
	APMTelemetryRouteEnable *bool `toml:"apmtelemetry_route_enable"`
}

// Use128BitTraceID reports trace_128_bit_id (default true).
func (d *DDTrace) Use128BitTraceID() bool { return d.Trace128BitID == nil || *d.Trace128BitID }

// APMTelemetryRoute reports apmtelemetry_route_enable (default true).
func (d *DDTrace) APMTelemetryRoute() bool {
	return d.APMTelemetryRouteEnable == nil || *d.APMTelemetryRouteEnable
}

// Jaeger is [[inputs.jaeger]].
type Jaeger struct {
	Tracing
	Endpoint      string `toml:"endpoint"`
	Address       string `toml:"address"`
	BinaryAddress string `toml:"binary_address"`
	// UDPBuffer is the largest agent datagram read, in bytes (DataKit's fixed 65000);
	// bigger datagrams are dropped and counted.
	UDPBuffer int `toml:"udp_buffer"`
}

// OpenTelemetry is [[inputs.opentelemetry]]; gRPC and HTTP are each on only when their
// subsection exists, as in DataKit.
type OpenTelemetry struct {
	Tracing
	CustomerTagsAll     bool `toml:"customer_tags_all"`
	CompatibleDDTrace   bool `toml:"compatible_ddtrace"`
	CompatibleZhaoShang bool `toml:"compatible_zhaoshang"`
	// SplitServiceName defaults to true; DataKit's struct reads the misspelled
	// spilt_service_name, its sample writes split_service_name: both are accepted.
	SplitServiceName *bool             `toml:"split_service_name"`
	SpiltServiceName *bool             `toml:"spilt_service_name"`
	CleanMessage     *bool             `toml:"clean_message"`
	ExpectedHeaders  map[string]string `toml:"expected_headers"`
	GRPC             *OTelGRPC         `toml:"grpc"`
	HTTP             *OTelHTTP         `toml:"http"`
}

// OTelGRPC is [inputs.opentelemetry.grpc].
type OTelGRPC struct {
	Addr       string `toml:"addr"`
	MaxPayload int    `toml:"max_payload"`
}

// OTelHTTP is [inputs.opentelemetry.http].
type OTelHTTP struct {
	HTTPStatusOK int    `toml:"http_status_ok"`
	TraceAPI     string `toml:"trace_api"`
	MetricAPI    string `toml:"metric_api"`
	LogsAPI      string `toml:"logs_api"`
}

// SplitService reports whether db/rpc/messaging spans get their system as service name.
func (o *OpenTelemetry) SplitService() bool {
	switch {
	case o.SplitServiceName != nil:
		return *o.SplitServiceName
	case o.SpiltServiceName != nil:
		return *o.SpiltServiceName
	}
	return true
}

// CleanMsg reports whether consumed attributes are stripped from the message JSON.
func (o *OpenTelemetry) CleanMsg() bool { return o.CleanMessage == nil || *o.CleanMessage }

// SkyWalking is [[inputs.skywalking]].
type SkyWalking struct {
	Tracing
	// Address is the gRPC listener (DataKit's sample 127.0.0.1:11800).
	Address string `toml:"address"`
	// Endpoints are the HTTP routes: /v3/trace (protobuf SegmentObject), /v3/segment and
	// /v3/segments (OAP's JSON API). DataKit's metric, logging and profiling routes are
	// accepted in the list but not served (tracekit carries traces only).
	Endpoints []string `toml:"endpoints"`
	Plugins   []string `toml:"plugins"`
}

// SkyWalkingTraceEndpoints are the HTTP routes served when endpoints is not set.
var SkyWalkingTraceEndpoints = []string{"/v3/trace", "/v3/segment", "/v3/segments"}

// Zipkin is [[inputs.zipkin]].
type Zipkin struct {
	Tracing
	PathV1 string `toml:"pathV1"`
	PathV2 string `toml:"pathV2"`
}

// CAT is [[inputs.cat]].
type CAT struct {
	Tracing
	TCPPort string `toml:"tcp_port"`
	// TCPHost is the interface the TCP listener binds (tracekit's key); DataKit listens on
	// every interface (":" + tcp_port), tracekit on 127.0.0.1 unless told "0.0.0.0".
	TCPHost string `toml:"tcp_host"`
	// Decode must be "native" (NT1), the only codec DataKit supports.
	Decode string `toml:"decode"`
	// Client routing answered on GET /cat/s/router (DataKit's key names and defaults).
	StartTransactionTypes string `toml:"startTransactionTypes"`
	MatchTransactionTypes string `toml:"MatchTransactionTypes"`
	Block                 string `toml:"block"`
	Routers               string `toml:"routers"`
	Sample                string `toml:"sample"`
}

// Pinpoint is [[inputs.pinpoint]].
type Pinpoint struct {
	Tracing
	Address string `toml:"address"`
}

func (in *Inputs) applyDefaults() {
	for i := range in.DDTrace {
		d := &in.DDTrace[i]
		d.applyDefaults()
		if len(d.Endpoints) == 0 {
			d.Endpoints = []string{"/v0.3/traces", "/v0.4/traces", "/v0.5/traces"}
		}
		if d.MaxTraceBodyMB == 0 {
			d.MaxTraceBodyMB = 10
		}
	}
	for i := range in.Jaeger {
		j := &in.Jaeger[i]
		j.applyDefaults()
		if j.Endpoint == "" {
			j.Endpoint = "/apis/traces"
		}
		if j.UDPBuffer == 0 {
			j.UDPBuffer = 65000
		}
	}
	for i := range in.OpenTelemetry {
		o := &in.OpenTelemetry[i]
		o.applyDefaults()
		if o.GRPC != nil {
			if o.GRPC.Addr == "" {
				o.GRPC.Addr = "127.0.0.1:4317"
			}
			if o.GRPC.MaxPayload == 0 {
				o.GRPC.MaxPayload = 16 << 20
			}
		}
		if o.HTTP != nil {
			if o.HTTP.TraceAPI == "" {
				o.HTTP.TraceAPI = "/otel/v1/traces"
			}
			if o.HTTP.MetricAPI == "" {
				o.HTTP.MetricAPI = "/otel/v1/metrics"
			}
			if o.HTTP.LogsAPI == "" {
				o.HTTP.LogsAPI = "/otel/v1/logs"
			}
		}
	}
	for i := range in.SkyWalking {
		s := &in.SkyWalking[i]
		s.applyDefaults()
		if s.Address == "" {
			s.Address = "127.0.0.1:11800"
		}
		if len(s.Endpoints) == 0 {
			s.Endpoints = append([]string(nil), SkyWalkingTraceEndpoints...)
		}
	}
	for i := range in.Zipkin {
		z := &in.Zipkin[i]
		z.applyDefaults()
		if z.PathV1 == "" {
			z.PathV1 = "/api/v1/spans"
		}
		if z.PathV2 == "" {
			z.PathV2 = "/api/v2/spans"
		}
	}
	for i := range in.CAT {
		c := &in.CAT[i]
		c.applyDefaults()
		if c.TCPPort == "" {
			c.TCPPort = "2280"
		}
		if c.TCPHost == "" {
			c.TCPHost = "127.0.0.1"
		}
		if c.Decode == "" {
			c.Decode = "native"
		}
		if c.StartTransactionTypes == "" {
			c.StartTransactionTypes = "Cache.;Squirrel."
		}
		if c.MatchTransactionTypes == "" {
			c.MatchTransactionTypes = "SQL"
		}
		if c.Block == "" {
			c.Block = "false"
		}
		if c.Routers == "" {
			c.Routers = "127.0.0.1:" + c.TCPPort + ";"
		}
		if c.Sample == "" {
			c.Sample = "1.0"
		}
	}
	for i := range in.Pinpoint {
		p := &in.Pinpoint[i]
		p.applyDefaults()
		if p.Address == "" {
			p.Address = "127.0.0.1:9991"
		}
	}
}

// Validate checks every input section; keys are named like inputs.ddtrace[0].sampler.
func (in *Inputs) Validate() error {
	var errs []error
	check := func(src string, i int, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d].%w", src, i, err))
		}
	}
	for i := range in.DDTrace {
		d := &in.DDTrace[i]
		check(SourceDDTrace, i, d.Tracing.Validate())
		for j, ep := range d.Endpoints {
			if !strings.HasPrefix(ep, "/") {
				check(SourceDDTrace, i, fmt.Errorf("endpoints[%d]: %q must start with /", j, ep))
			}
		}
		if d.MaxTraceBodyMB < 0 {
			check(SourceDDTrace, i, errors.New("max_trace_body_mb: must not be negative"))
		}
	}
	for i := range in.Jaeger {
		j := &in.Jaeger[i]
		check(SourceJaeger, i, j.Tracing.Validate())
		for key, addr := range map[string]string{"address": j.Address, "binary_address": j.BinaryAddress} {
			if addr != "" {
				if err := checkHostPort(addr); err != nil {
					check(SourceJaeger, i, fmt.Errorf("%s: %w", key, err))
				}
			}
		}
		if j.UDPBuffer < 1 || j.UDPBuffer > 65535 {
			check(SourceJaeger, i, fmt.Errorf("udp_buffer: must be within [1, 65535], got %d", j.UDPBuffer))
		}
		if !strings.HasPrefix(j.Endpoint, "/") {
			check(SourceJaeger, i, fmt.Errorf("endpoint: %q must start with /", j.Endpoint))
		}
	}
	for i := range in.OpenTelemetry {
		o := &in.OpenTelemetry[i]
		check(SourceOpenTelemetry, i, o.Tracing.Validate())
		if o.GRPC != nil {
			if err := checkHostPort(o.GRPC.Addr); err != nil {
				check(SourceOpenTelemetry, i, fmt.Errorf("grpc.addr: %w", err))
			}
			if o.GRPC.MaxPayload < 0 {
				check(SourceOpenTelemetry, i, errors.New("grpc.max_payload: must not be negative"))
			}
		}
		if o.HTTP != nil && !strings.HasPrefix(o.HTTP.TraceAPI, "/") {
			check(SourceOpenTelemetry, i, fmt.Errorf("http.trace_api: %q must start with /", o.HTTP.TraceAPI))
		}
	}
	for i := range in.SkyWalking {
		s := &in.SkyWalking[i]
		check(SourceSkyWalking, i, s.Tracing.Validate())
		if err := checkHostPort(s.Address); err != nil {
			check(SourceSkyWalking, i, fmt.Errorf("address: %w", err))
		}
		for j, ep := range s.Endpoints {
			if !strings.HasPrefix(ep, "/") {
				check(SourceSkyWalking, i, fmt.Errorf("endpoints[%d]: %q must start with /", j, ep))
			}
		}
	}
	for i := range in.Zipkin {
		z := &in.Zipkin[i]
		check(SourceZipkin, i, z.Tracing.Validate())
		for key, p := range map[string]string{"pathV1": z.PathV1, "pathV2": z.PathV2} {
			if !strings.HasPrefix(p, "/") {
				check(SourceZipkin, i, fmt.Errorf("%s: %q must start with /", key, p))
			}
		}
	}
	for i := range in.CAT {
		check(SourceCAT, i, in.CAT[i].Tracing.Validate())
		if n, err := strconv.Atoi(in.CAT[i].TCPPort); err != nil || n < 0 || n > 65535 {
			check(SourceCAT, i, fmt.Errorf("tcp_port: %q is not a port", in.CAT[i].TCPPort))
		}
		if d := in.CAT[i].Decode; d != "native" {
			check(SourceCAT, i, fmt.Errorf("decode: %q is not supported (only \"native\", the NT1 codec)", d))
		}
		if h := in.CAT[i].TCPHost; strings.ContainsAny(h, " /") || strings.Count(h, ":") == 1 {
			check(SourceCAT, i, fmt.Errorf("tcp_host: %q must be a host or IP without a port (the port is tcp_port)", h))
		}
	}
	for i := range in.Pinpoint {
		check(SourcePinpoint, i, in.Pinpoint[i].Tracing.Validate())
		if err := checkHostPort(in.Pinpoint[i].Address); err != nil {
			check(SourcePinpoint, i, fmt.Errorf("address: %w", err))
		}
	}
	return errors.Join(errs...)
}

// InputName is the name a batch from the i-th [[inputs.<source>]] section carries, so the
// filter can find that section's settings: the source itself for the first section,
// "<source>#<i>" for later ones.
func InputName(source string, i int) string {
	if i == 0 {
		return source
	}
	return source + "#" + strconv.Itoa(i)
}

// TracingFor returns the shared tracing settings of the named input (see InputName).
func (in *Inputs) TracingFor(input string) (*Tracing, bool) {
	source, idx := input, 0
	if s, n, ok := strings.Cut(input, "#"); ok {
		v, err := strconv.Atoi(n)
		if err != nil {
			return nil, false
		}
		source, idx = s, v
	}
	var list []*Tracing
	switch source {
	case SourceDDTrace:
		for i := range in.DDTrace {
			list = append(list, &in.DDTrace[i].Tracing)
		}
	case SourceJaeger:
		for i := range in.Jaeger {
			list = append(list, &in.Jaeger[i].Tracing)
		}
	case SourceOpenTelemetry:
		for i := range in.OpenTelemetry {
			list = append(list, &in.OpenTelemetry[i].Tracing)
		}
	case SourceSkyWalking:
		for i := range in.SkyWalking {
			list = append(list, &in.SkyWalking[i].Tracing)
		}
	case SourceZipkin:
		for i := range in.Zipkin {
			list = append(list, &in.Zipkin[i].Tracing)
		}
	case SourceCAT:
		for i := range in.CAT {
			list = append(list, &in.CAT[i].Tracing)
		}
	case SourcePinpoint:
		for i := range in.Pinpoint {
			list = append(list, &in.Pinpoint[i].Tracing)
		}
	}
	if idx < 0 || idx >= len(list) {
		return nil, false
	}
	return list[idx], true
}
