package spanmodel

import "strings"

// TagKeys memoizes TagKey over one payload, whose spans repeat the same few keys: the
// rewrite allocates for every key holding a dot, once per span without the memo. The zero
// value is ready to use; it is not safe for concurrent use and lives as long as one
// conversion (its size is bounded by the payload's distinct keys).
type TagKeys map[string]string

// Key is TagKey(k).
func (c *TagKeys) Key(k string) string {
	if strings.IndexByte(k, '.') < 0 {
		return k
	}
	if v, ok := (*c)[k]; ok {
		return v
	}
	if *c == nil {
		*c = make(map[string]string, 16)
	}
	v := strings.ReplaceAll(k, ".", "_")
	(*c)[k] = v
	return v
}

// Put is PutTag with the key memoized.
func (c *TagKeys) Put(tags map[string]string, ignore TagMatcher, key, value string) {
	if len(ignore) > 0 && ignore.Match(key) {
		return
	}
	tags[c.Key(key)] = value
}
