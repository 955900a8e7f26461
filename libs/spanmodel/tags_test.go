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
