package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterKeys(t *testing.T) {
	l, err := Parse([]byte(`
[[inputs.jaeger]]
  keep_rare_resource = true
  rare_resource_shared = true
  rare_resource_max_keys = 500
  omit_err_status = ["404"]
  trace_max_spans = 1000
  [inputs.jaeger.close_resource]
    "*" = ["^GET /healthz$"]
  [inputs.jaeger.sampler]
    sampling_rate = 0.25
`), nil)
	require.NoError(t, err)
	assert.Empty(t, l.Warnings, "every filter key is known")
	j := l.Inputs.Jaeger[0].Tracing
	assert.True(t, j.KeepRareResource)
	assert.True(t, j.RareResourceShared)
	assert.Equal(t, 500, j.RareResourceMaxKeys)
	assert.Equal(t, 1000, j.TraceMaxSpans)
	assert.InDelta(t, 0.25, j.Sampler.SamplingRate, 0)
}

func TestFilterKeysValidation(t *testing.T) {
	for name, tc := range map[string]struct{ toml, key string }{
		"nan rate":     {"[[inputs.zipkin]]\n[inputs.zipkin.sampler]\nsampling_rate = nan\n", "inputs: zipkin[0].sampler.sampling_rate"},
		"bad regex":    {"[[inputs.zipkin]]\n[inputs.zipkin.close_resource]\nsvc = [\"(\"]\n", "inputs: zipkin[0].close_resource.svc[0]"},
		"bad status":   {"[[inputs.zipkin]]\nomit_err_status = [\"abc\"]\n", "inputs: zipkin[0].omit_err_status[0]"},
		"max keys":     {"[[inputs.zipkin]]\nrare_resource_max_keys = -1\n", "inputs: zipkin[0].rare_resource_max_keys"},
		"negative cap": {"[[inputs.zipkin]]\ntrace_max_spans = -1\n", "inputs: zipkin[0].trace_max_spans"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.key)
		})
	}
}
