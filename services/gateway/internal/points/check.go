package points

import (
	"fmt"
	"math"
	"strings"

	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
)

// Warning types appended to PBPoint.warns (visible with echo=pbjson; strict refuses them).
const (
	WarnEmptyMeasurement = "empty_measurement"
	WarnLongMeasurement  = "too_long_measurement"
	WarnMaxTags          = "exceed_max_tags"
	WarnMaxFields        = "exceed_max_fields"
	WarnLongKey          = "too_long_key"
	WarnLongTagValue     = "too_long_tag_value"
	WarnLongFieldValue   = "too_long_field_value"
	WarnInvalidKey       = "invalid_key"
	WarnDotInKey         = "dot_in_key"
	WarnSameKey          = "same_key"
	WarnDisabledKey      = "disabled_key"
	WarnStringField      = "string_field_disabled"
	WarnInfField         = "inf_field"
	WarnNaNField         = "nan_field"
	WarnNilField         = "nil_field"
	WarnRequiredKey      = "required_key"
	WarnInvalidTagValue  = "invalid_tag_value"
)

// Limits are cliutils' defaults (point/option.go, datakit-spec §3.4).
type Limits struct {
	MaxTags, MaxFields               int
	MaxKeyLen, MaxTagValueLen        int
	MaxFieldValueLen, MaxMeasurement int
}

// DefaultLimits are DataKit's.
var DefaultLimits = Limits{
	MaxTags: 256, MaxFields: 1024, MaxKeyLen: 256, MaxTagValueLen: 1024,
	MaxFieldValueLen: 32 << 20, MaxMeasurement: 1024,
}

// Rules are the per-category build options of DataKit's write API.
type Rules struct {
	Limits
	// DotInKey allows '.' in keys; otherwise it becomes '_'.
	DotInKey bool
	// StringFields allows string field values (metrics drop them).
	StringFields bool
	// Disabled keys are dropped.
	Disabled []string
	// Required keys are added with their default when missing (as tag or field).
	Required []Required
}

// Required is a key a category needs.
type Required struct {
	Key, Default string
	Tag          bool
}

// Categories accepted by /v1/write (datakit-spec §5).
var Categories = []string{"metric", "logging", "object", "custom_object", "network", "tracing", "keyevent", "security", "rum"}

// RulesFor returns the build options of a category and whether the category is accepted.
func RulesFor(category string) (Rules, bool) {
	r := Rules{Limits: DefaultLimits, DotInKey: true, StringFields: true}
	switch category {
	case "metric":
		r.StringFields = false
	case "logging":
		r.DotInKey = false
		r.Disabled = []string{"source", "date"}
		r.Required = []Required{{Key: "status", Default: "info"}}
	case "object":
		r.DotInKey = false
		r.Disabled = []string{"class", "date"}
		r.Required = []Required{{Key: "name", Default: "default", Tag: true}}
	case "tracing":
		r.DotInKey = false
	case "custom_object", "network", "keyevent", "security", "rum":
	default:
		return Rules{}, false
	}
	return r, true
}

// Check applies the rules to p in place, in cliutils' order, and records each correction as
// a Warn on the point. extraTags (global host tags) are added where the point lacks them.
func Check(p *pointpb.PBPoint, r Rules, extraTags [][2]string) {
	warn := func(typ, format string, args ...any) {
		p.Warns = append(p.Warns, &pointpb.Warn{Type: typ, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case p.Name == "":
		p.Name = "__default"
		warn(WarnEmptyMeasurement, "empty measurement, set to __default")
	case len(p.Name) > r.MaxMeasurement:
		p.Name = p.Name[:r.MaxMeasurement]
		warn(WarnLongMeasurement, "measurement longer than %d bytes: truncated", r.MaxMeasurement)
	}

	seen := make(map[string]bool, len(p.Fields)+len(extraTags))
	kept := p.Fields[:0]
	tags, fields := 0, 0
	for _, f := range p.Fields {
		if f == nil {
			continue
		}
		key, ok := checkKey(f.Key, r, warn)
		if !ok {
			continue
		}
		f.Key = key
		if seen[key] {
			warn(WarnSameKey, "duplicate key %q: dropped", key)
			continue
		}
		if isDisabled(key, r.Disabled) {
			warn(WarnDisabledKey, "key %q is reserved in this category: dropped", key)
			continue
		}
		if f.IsTag {
			s, isStr := f.Val.(*pointpb.Field_S)
			if !isStr {
				warn(WarnInvalidTagValue, "tag %q has a non-string value: dropped", key)
				continue
			}
			if tags >= r.MaxTags {
				warn(WarnMaxTags, "more than %d tags: %q dropped", r.MaxTags, key)
				continue
			}
			if len(s.S) > r.MaxTagValueLen {
				f.Val = &pointpb.Field_S{S: s.S[:r.MaxTagValueLen]}
				warn(WarnLongTagValue, "tag %q value longer than %d bytes: truncated", key, r.MaxTagValueLen)
			}
			tags++
		} else {
			if !checkValue(f, r, warn) {
				continue
			}
			if fields >= r.MaxFields {
				warn(WarnMaxFields, "more than %d fields: %q dropped", r.MaxFields, key)
				continue
			}
			fields++
		}
		seen[key] = true
		kept = append(kept, f)
	}
	clear(p.Fields[len(kept):])
	p.Fields = kept

	for _, t := range extraTags {
		if seen[t[0]] || tags >= r.MaxTags {
			continue
		}
		seen[t[0]] = true
		tags++
		p.Fields = append(p.Fields, &pointpb.Field{Key: t[0], IsTag: true, Val: &pointpb.Field_S{S: t[1]}})
	}
	for _, req := range r.Required {
		if seen[req.Key] {
			continue
		}
		seen[req.Key] = true
		p.Fields = append(p.Fields, &pointpb.Field{Key: req.Key, IsTag: req.Tag, Val: &pointpb.Field_S{S: req.Default}})
		warn(WarnRequiredKey, "missing %q: set to %q", req.Key, req.Default)
	}
}

// checkKey normalises a key: trailing backslashes removed, newlines to spaces, dots to
// underscores where disallowed, truncated to the length cap; empty keys are dropped.
func checkKey(key string, r Rules, warn func(string, string, ...any)) (string, bool) {
	orig := key
	if strings.HasSuffix(key, `\`) || strings.Contains(key, "\n") {
		key = strings.ReplaceAll(strings.TrimRight(key, `\`), "\n", " ")
		warn(WarnInvalidKey, "key %q: trailing backslash or newline removed", orig)
	}
	if !r.DotInKey && strings.Contains(key, ".") {
		key = strings.ReplaceAll(key, ".", "_")
		warn(WarnDotInKey, "key %q: dots replaced by underscores", orig)
	}
	if len(key) > r.MaxKeyLen {
		key = key[:r.MaxKeyLen]
		warn(WarnLongKey, "key %q longer than %d bytes: truncated", orig, r.MaxKeyLen)
	}
	if key == "" {
		warn(WarnInvalidKey, "empty key: dropped")
		return "", false
	}
	return key, true
}

// checkValue applies the value rules to a field; false drops it.
func checkValue(f *pointpb.Field, r Rules, warn func(string, string, ...any)) bool {
	switch v := f.Val.(type) {
	case nil:
		warn(WarnNilField, "field %q has no value: dropped", f.Key)
		return false
	case *pointpb.Field_F:
		switch {
		case math.IsNaN(v.F):
			warn(WarnNaNField, "field %q is NaN: dropped", f.Key)
			return false
		case math.IsInf(v.F, 1):
			f.Val = &pointpb.Field_U{U: math.MaxUint64}
			warn(WarnInfField, "field %q is +Inf: set to max uint64", f.Key)
		case math.IsInf(v.F, -1):
			f.Val = &pointpb.Field_I{I: math.MinInt64}
			warn(WarnInfField, "field %q is -Inf: set to min int64", f.Key)
		}
	case *pointpb.Field_S:
		if !r.StringFields {
			warn(WarnStringField, "string field %q is not allowed in this category: dropped", f.Key)
			return false
		}
		if len(v.S) > r.MaxFieldValueLen {
			f.Val = &pointpb.Field_S{S: v.S[:r.MaxFieldValueLen]}
			warn(WarnLongFieldValue, "field %q longer than %d bytes: truncated", f.Key, r.MaxFieldValueLen)
		}
	case *pointpb.Field_D:
		if len(v.D) > r.MaxFieldValueLen {
			f.Val = &pointpb.Field_D{D: v.D[:r.MaxFieldValueLen]}
			warn(WarnLongFieldValue, "field %q longer than %d bytes: truncated", f.Key, r.MaxFieldValueLen)
		}
	}
	return true
}

func isDisabled(key string, disabled []string) bool {
	for _, d := range disabled {
		if key == d {
			return true
		}
	}
	return false
}

// Warnings counts the warnings of pts.
func Warnings(pts []*pointpb.PBPoint) int {
	n := 0
	for _, p := range pts {
		n += len(p.GetWarns())
	}
	return n
}
