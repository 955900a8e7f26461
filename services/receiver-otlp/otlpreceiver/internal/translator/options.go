package translator

import "github.com/tracekit/tracekit/libs/spanmodel"

// Source is the measurement name and subject suffix of OTLP spans (config.SourceOpenTelemetry).
const Source = "opentelemetry"

// Options are the per-input settings the conversion depends on.
type Options struct {
	// CompatibleDDTrace prints ids as the decimal of their last 8 bytes.
	CompatibleDDTrace bool
	// CompatibleZhaoShang takes ids longer than 8 bytes as raw strings.
	CompatibleZhaoShang bool
	// SplitServiceName makes db/rpc/messaging spans use their system as service.
	SplitServiceName bool
	// CleanMessage strips what was consumed from the message JSON.
	CleanMessage bool
	// DelMessage drops the message.
	DelMessage bool
	// CustomerTags are attribute keys to promote; "reg:<regexp>" entries match keys.
	CustomerTags []string
	// CustomerTagsAll promotes every attribute.
	CustomerTagsAll bool
	// Tags are the input's tags, set on every span over anything the span carries.
	Tags map[string]string
}

// Meta holds the facts of one request the transport knows.
type Meta struct {
	// RemoteIP is the client's address (the peer of the connection), tag remote_ip.
	RemoteIP string
}

// builtinPromoted is DataKit's otelPubAttrs (datakit-spec §1.3): attribute key → point key.
var builtinPromoted = map[string]string{
	"db.system":                  "db_system",
	"db.operation":               "db_operation",
	"db.name":                    "db_name",
	"db.statement":               "db_statement",
	"server.address":             "server_address",
	"net.host.name":              "net_host_name",
	"server.port":                "server_port",
	"net.host.port":              "net_host_port",
	"network.peer.address":       "network_peer_address",
	"network.peer.port":          "network_peer_port",
	"network.transport":          "network_transport",
	"http.request.method":        "http_method",
	"http.method":                "http_method",
	"error.type":                 "error_type",
	"http.response.status_code":  "http_status_code",
	"http.status_code":           "http_status_code",
	"http.route":                 "http_route",
	"http.target":                "http_target",
	"http.scheme":                "http_scheme",
	"http.url":                   "http_url",
	"url.full":                   "url_full",
	"url.scheme":                 "url_scheme",
	"url.path":                   "url_path",
	"url.query":                  "url_query",
	"client.address":             "client_address",
	"client.port":                "client_port",
	"messaging.system":           "messaging_system",
	"messaging.operation":        "messaging_operation",
	"messaging.message.id":       "messaging_message.id",
	"messaging.destination.name": "messaging_destination.name",
	"rpc.service":                "rpc_service",
	"rpc.system":                 "rpc_system",
	"exception":                  "exception",
	"exception.type":             "exception_type",
	"exception.message":          "exception_message",
	"exception.stacktrace":       "exception_stacktrace",
	"container.name":             "container_name",
	"process.pid":                "process_pid",
	"project":                    "project",
	"version":                    "version",
	"env":                        "env",
	"host":                       "host",
	"pod_name":                   "pod_name",
	"pod_namespace":              "pod_namespace",
}

// Translator converts pdata traces with one input's Options. It is safe for concurrent use.
type Translator struct {
	opts    Options
	promote map[string]promoteTarget
	// customer is the compiled customer_tags; its plain keys are also merged into promote.
	customer spanmodel.KeyMatcher
	// traceIDKey is where the appended trace_id attribute is promoted to, "" when it is not.
	traceIDKey string
	// Tags split once: dedicated sets span fields, plainTags are tags, fieldDeletes the
	// dedicated keys (set non-empty) whose promoted field is dropped.
	dedicated, plainTags []tagKV
	fieldDeletes         []string
	// laterKeys are the keys written after the span's own attributes (receiver and input
	// tags, fieldDeletes): a span's maps cloned from its neighbour's cannot simply take a
	// different value of such a key.
	laterKeys []string
}

type tagKV struct{ key, val string }

// New compiles the options; the error names a bad customer_tags regexp.
func New(o Options) (*Translator, error) {
	t := &Translator{opts: o, promote: make(map[string]promoteTarget, len(builtinPromoted)+len(o.CustomerTags))}
	for k, v := range builtinPromoted {
		// Point keys never hold a dot (DataKit's point builder rewrites them; so do we, here).
		t.promote[k] = newTarget(v)
	}
	var err error
	if t.customer, err = spanmodel.CompileKeyMatcher(o.CustomerTags); err != nil {
		return nil, err
	}
	// A listed key overrides a built-in mapping of the same key (a reg: entry does not).
	for _, k := range t.customer.Keys() {
		t.promote[k] = newTarget(k)
	}
	tid, _ := t.target(attrTraceID)
	t.traceIDKey = tid.key
	t.laterKeys = []string{tagRemoteIP, tagBaseService, tagSpanKind, tagDBHost}
	for k, v := range o.Tags {
		if !isDedicated(k) {
			t.plainTags = append(t.plainTags, tagKV{k, v})
			t.laterKeys = append(t.laterKeys, k)
			continue
		}
		t.dedicated = append(t.dedicated, tagKV{k, v})
		switch k {
		case "env", "project", "version", "operation":
			if v != "" {
				t.fieldDeletes = append(t.fieldDeletes, k)
				t.laterKeys = append(t.laterKeys, k)
			}
		}
	}
	return t, nil
}

// promoteTarget is where an attribute is promoted to, resolved once per key so the span
// loop does no second lookup.
type promoteTarget struct {
	key string // the point key, valid UTF-8
	// reserved: the sender writes this key from a dedicated span field, so a promoted
	// field of that name is dropped.
	reserved bool
}

func newTarget(k string) promoteTarget {
	key := spanmodel.ValidString(spanmodel.TagKey(k))
	_, reserved := reservedFields[key]
	return promoteTarget{key: key, reserved: reserved}
}

// target is the point key attribute key is promoted to, if it is promoted.
func (t *Translator) target(key string) (promoteTarget, bool) {
	if v, ok := t.promote[key]; ok {
		return v, true
	}
	if t.opts.CustomerTagsAll || t.customer.Match(key) {
		return newTarget(key), true
	}
	return promoteTarget{}, false
}
