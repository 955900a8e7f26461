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
