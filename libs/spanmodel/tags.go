package spanmodel

import (
	"fmt"
	"regexp"
	"strings"
)

// TagKey rewrites a span tag key as DataKit's point builder does ("dot in key not allowed":
// every "." becomes "_"), so filters see the keys Dataway will store.
func TagKey(k string) string {
	if strings.IndexByte(k, '.') < 0 {
		return k
	}
	return strings.ReplaceAll(k, ".", "_")
}

// TagMatcher is a compiled ignore_tags list: span tags whose original key matches any of
// the regexes are dropped (Jaeger, SkyWalking, Zipkin).
type TagMatcher []*regexp.Regexp

// CompileTagMatcher compiles ignore_tags; the error names the failing entry.
func CompileTagMatcher(patterns []string) (TagMatcher, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	m := make(TagMatcher, 0, len(patterns))
	for i, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("ignore_tags[%d]: %w", i, err)
		}
		m = append(m, re)
	}
	return m, nil
}

// Match reports whether key is ignored.
func (m TagMatcher) Match(key string) bool {
	for _, re := range m {
		if re.MatchString(key) {
			return true
		}
	}
	return false
}

// KeyMatcher is a compiled customer_tags list: plain keys, and "reg:<regexp>" entries that
// match keys (DDTrace and OpenTelemetry promote the matching keys out of the message).
type KeyMatcher struct {
	keys     map[string]struct{}
	ordered  []string
	patterns []*regexp.Regexp
}

// CompileKeyMatcher compiles customer_tags; the error names the failing entry.
func CompileKeyMatcher(entries []string) (KeyMatcher, error) {
	var m KeyMatcher
	for i, e := range entries {
		if re, ok := strings.CutPrefix(e, "reg:"); ok {
			r, err := regexp.Compile(re)
			if err != nil {
				return KeyMatcher{}, fmt.Errorf("customer_tags[%d]: %w", i, err)
			}
			m.patterns = append(m.patterns, r)
			continue
		}
		if m.keys == nil {
			m.keys = make(map[string]struct{}, len(entries))
		}
		if _, dup := m.keys[e]; !dup {
			m.keys[e] = struct{}{}
			m.ordered = append(m.ordered, e)
		}
	}
	return m, nil
}

// Keys are the plain entries in list order, for a translator that merges them into its own
// key table (where a listed key takes precedence over a built-in mapping).
func (m KeyMatcher) Keys() []string { return m.ordered }

// Match reports whether key is listed or matches a reg: entry.
func (m KeyMatcher) Match(key string) bool {
	if _, ok := m.keys[key]; ok {
		return true
	}
	for _, re := range m.patterns {
		if re.MatchString(key) {
			return true
		}
	}
	return false
}

// NewTags starts a span's tag map from the input's [inputs.X.tags], leaving room for n span
// tags, which then override them (DataKit merges span tags over input tags).
func NewTags(input map[string]string, n int) map[string]string {
	tags := make(map[string]string, len(input)+n)
	for k, v := range input {
		tags[k] = v
	}
	return tags
}

// PutTag stores a span tag under its point key unless ignore matches its original key.
func PutTag(tags map[string]string, ignore TagMatcher, key, value string) {
	if len(ignore) > 0 && ignore.Match(key) {
		return
	}
	tags[TagKey(key)] = value
}
