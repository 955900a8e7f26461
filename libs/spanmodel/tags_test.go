package spanmodel

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTagKey(t *testing.T) {
	assert.Equal(t, "http_status_code", TagKey("http.status_code"))
	assert.Equal(t, "plain", TagKey("plain"))
	assert.Equal(t, "_a__b_", TagKey(".a..b."))
}

func TestTagMatcherAndPutTag(t *testing.T) {
	m, err := CompileTagMatcher([]string{"^secret", `\.internal$`})
	require.NoError(t, err)
	tags := NewTags(map[string]string{"env": "prod", "keep": "input"}, 3)
	PutTag(tags, m, "secret.token", "x")
	PutTag(tags, m, "db.internal", "x")
	PutTag(tags, m, "http.url", "/a")
	PutTag(tags, m, "keep", "span")
	assert.Equal(t, map[string]string{"env": "prod", "keep": "span", "http_url": "/a"}, tags)

	none, err := CompileTagMatcher(nil)
	require.NoError(t, err)
	assert.False(t, none.Match("anything"))

	_, err = CompileTagMatcher([]string{"ok", "("})
	assert.ErrorContains(t, err, "ignore_tags[1]")
}

func TestCompileKeyMatcher(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		keys    []string
		match   []string
		noMatch []string
		wantErr string
	}{
		{name: "empty", entries: nil, noMatch: []string{"", "user.id"}},
		{name: "plain keys are exact", entries: []string{"user.id", "order.id", "user.id"}, keys: []string{"user.id", "order.id"},
			match: []string{"user.id", "order.id"}, noMatch: []string{"user", "user.id.x", "user_id", "reg:user.id"}},
		{name: "reg entries match keys", entries: []string{`reg:^user\.`, "http.route"}, keys: []string{"http.route"},
			match: []string{"user.id", "user.name", "http.route"}, noMatch: []string{"xuser.id", "http.routes"}},
		{name: "unanchored regexp matches anywhere", entries: []string{"reg:sdk"}, match: []string{"telemetry.sdk.name"}, noMatch: []string{"telemetry"}},
		{name: "bad regexp names the entry", entries: []string{"ok", "reg:^user\\.", "reg:("}, wantErr: "customer_tags[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := CompileKeyMatcher(tt.entries)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.keys, m.Keys())
			for _, k := range tt.match {
				assert.True(t, m.Match(k), k)
			}
			for _, k := range tt.noMatch {
				assert.False(t, m.Match(k), k)
			}
		})
	}
	var zero KeyMatcher
	assert.False(t, zero.Match("x"), "the zero matcher matches nothing")
}
