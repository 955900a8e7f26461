package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultsAreValid(t *testing.T) {
	require.NoError(t, NewDefaultConfig().Validate())
	l, err := Parse(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:9529", l.HTTP.Listen)
	assert.Equal(t, BusModeJetStream, l.Bus.Mode)
	assert.Equal(t, 10*time.Second, l.IO.FlushInterval.D())
	assert.Equal(t, 1<<20, l.Dataway.MaxRawBodySize)
	assert.True(t, l.Dataway.V2())
	assert.Empty(t, l.Inputs.OpenTelemetry, "no input is enabled without its section")
}

func TestParseDataKitSample(t *testing.T) {
	l, err := Load("testdata/datakit.toml", nil)
	require.NoError(t, err)

	require.Len(t, l.Inputs.DDTrace, 1)
	dd := l.Inputs.DDTrace[0]
	assert.Equal(t, []string{"sink_project", "reg:^custom_.*"}, dd.CustomerTags)
	assert.Equal(t, []string{"404"}, dd.OmitErrStatus)
	assert.Equal(t, []string{"^GET /healthz$"}, dd.CloseResource["*"])
	assert.InDelta(t, 0.5, dd.Sampler.SamplingRate, 0)
	assert.Equal(t, "value1", dd.Tags["key1"])
	assert.True(t, dd.CompatibleOTEL)
	assert.Equal(t, 100_000, dd.RareResourceMaxKeys, "default applied inside an input section")

	require.Len(t, l.Inputs.OpenTelemetry, 2)
	otel := l.Inputs.OpenTelemetry[0]
	assert.False(t, otel.SplitService(), "DataKit's misspelled key is honoured")
	assert.True(t, otel.CleanMsg())
	assert.Equal(t, "/otel/v1/traces", otel.HTTP.TraceAPI)
	assert.Equal(t, 16<<20, otel.GRPC.MaxPayload)
	assert.Nil(t, l.Inputs.OpenTelemetry[1].HTTP, "http stays off without its section")

	assert.Equal(t, time.Second, l.IO.FlushInterval.D())
	assert.Equal(t, "web-1", l.GlobalTags["host"])

	// DataKit's storage section is not implemented (JetStream is our WAL): a warning, not a failure.
	joined := strings.Join(l.Warnings, "\n")
	assert.Contains(t, joined, "inputs.ddtrace.storage")

	tr, ok := l.Inputs.TracingFor("opentelemetry#1")
	require.True(t, ok)
	assert.Same(t, &l.Inputs.OpenTelemetry[1].Tracing, tr)
	_, ok = l.Inputs.TracingFor("opentelemetry#2")
	assert.False(t, ok)
	_, ok = l.Inputs.TracingFor("zipkin")
	assert.False(t, ok)
}

func TestEnvOverrides(t *testing.T) {
	env := []string{
		"TRACEKIT_DATAWAY_URLS=http://a:1?token=x, http://b:2?token=y",
		"TRACEKIT_BUS_URL=nats://127.0.0.1:4222",
		"TRACEKIT_BUS_MODE=core",
		"TRACEKIT_IO_FLUSH_INTERVAL=250ms",
		"TRACEKIT_IO_MAX_CACHE_COUNT=7",
		"TRACEKIT_DATAWAY_GZIP=false",
		"TRACEKIT_GLOBAL_TAGS=host=h1,zone=z",
		"TRACEKIT_HTTP_LISTEN=127.0.0.1:19529",
		"UNRELATED=1",
	}
	l, err := Parse(nil, env)
	require.NoError(t, err)
	assert.Equal(t, []string{"http://a:1?token=x", "http://b:2?token=y"}, l.Dataway.URLs)
	assert.Equal(t, []string{"nats://127.0.0.1:4222"}, l.Bus.URLs())
	assert.Equal(t, BusModeCore, l.Bus.Mode)
	assert.Equal(t, 250*time.Millisecond, l.IO.FlushInterval.D())
	assert.Equal(t, 7, l.IO.MaxCacheCount)
	assert.False(t, l.Dataway.GZip)
	assert.Equal(t, map[string]string{"host": "h1", "zone": "z"}, l.GlobalTags)
	assert.Equal(t, "127.0.0.1:19529", l.HTTP.Listen)
}

func TestInvalidConfigNamesTheKey(t *testing.T) {
	tests := []struct {
		name, file string
		env        []string
		wantKey    string
	}{
		{"bad mode", "[bus]\nmode = \"fast\"", nil, "bus: mode"},
		{"bad listen", "[http]\nlisten = \"9529\"", nil, "http: listen"},
		{"zero rate limit", "[http_api]\nrequest_rate_limit = 0.0", nil, "http_api: request_rate_limit"},
		{"tiny api body", "[http_api]\nmax_body_bytes = 1", nil, "http_api: max_body_bytes"},
		{"bad url scheme", "[dataway]\nurls = [\"ftp://x\"]", nil, "dataway: urls[0]"},
		{"no urls", "[dataway]\nurls = []", nil, "dataway: urls"},
		{"bad encoding", "[dataway]\ncontent_encoding = \"v3\"", nil, "dataway: content_encoding"},
		{"tiny body", "[dataway]\nmax_raw_body_size = 10", nil, "dataway: max_raw_body_size"},
		{"bad flush", "[io]\nflush_interval = \"soon\"", nil, "flush_interval"},
		{"zero flush", "[io]\nflush_interval = \"0s\"", nil, "io: flush_interval"},
		{"bad rate", "[[inputs.ddtrace]]\n[inputs.ddtrace.sampler]\nsampling_rate = 1.5", nil, "inputs: ddtrace[0].sampler.sampling_rate"},
		{"bad regex", "[[inputs.opentelemetry]]\n[inputs.opentelemetry.close_resource]\nsvc = [\"(\"]", nil, "inputs: opentelemetry[0].close_resource.svc[0]"},
		{"bad customer reg", "[[inputs.opentelemetry]]\ncustomer_tags = [\"reg:[\"]", nil, "opentelemetry[0].customer_tags[0]"},
		{"bad omit status", "[[inputs.ddtrace]]\nomit_err_status = [\"abc\"]", nil, "ddtrace[0].omit_err_status[0]"},
		{"bad grpc addr", "[[inputs.opentelemetry]]\n[inputs.opentelemetry.grpc]\naddr = \"nope\"", nil, "opentelemetry[0].grpc.addr"},
		{"bad env int", "", []string{"TRACEKIT_IO_MAX_CACHE_COUNT=many"}, "TRACEKIT_IO_MAX_CACHE_COUNT (io.max_cache_count)"},
		{"toml syntax", "[bus\nurl=1", nil, "line 2"},
		{"wrong type", "[io]\nmax_cache_count = \"x\"", nil, "max_cache_count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.file), tt.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantKey)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.toml", nil)
	require.ErrorContains(t, err, "read config")
}

func TestInputName(t *testing.T) {
	assert.Equal(t, "ddtrace", InputName("ddtrace", 0))
	assert.Equal(t, "ddtrace#2", InputName("ddtrace", 2))
}
