package spanmodel

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTagKeysMatchesTagKey(t *testing.T) {
	var c TagKeys
	for _, k := range []string{"", "plain", "http.method", "a.b.c", "http.method", ".", "x..y"} {
		assert.Equal(t, TagKey(k), c.Key(k), k)
	}
	assert.Len(t, c, 4, "only keys with a dot are memoized")
}

func TestTagKeysPut(t *testing.T) {
	var c TagKeys
	ignore := TagMatcher{regexp.MustCompile(`^secret\.`)}
	got, want := map[string]string{}, map[string]string{}
	for _, kv := range [][2]string{{"http.url", "/x"}, {"secret.token", "t"}, {"plain", "p"}, {"http.url", "/y"}} {
		c.Put(got, ignore, kv[0], kv[1])
		PutTag(want, ignore, kv[0], kv[1])
	}
	assert.Equal(t, want, got)
}

func TestTagKeysKeyDoesNotAllocateOnceSeen(t *testing.T) {
	var c TagKeys
	c.Key("http.status_code")
	allocs := testing.AllocsPerRun(100, func() { _ = c.Key("http.status_code") })
	assert.Zero(t, allocs)
}
