package translator

import (
	"encoding/json"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/stretchr/testify/assert"
)

// jsonV2Message is what the message was before appendV2Message: encoding/json through
// model's MarshalJSON, retried without timestamp and duration when model refuses them.
func jsonV2Message(s *model.SpanModel) string {
	b, err := json.Marshal(s)
	if err != nil && (errors.Is(err, model.ErrValidTimestampRequired) || errors.Is(err, model.ErrValidDurationRequired)) {
		c := *s
		c.Timestamp, c.Duration = time.Time{}, 0
		b, err = json.Marshal(&c)
	}
	if err != nil {
		return ""
	}
	return string(b)
}

func TestAppendV2MessageMatchesEncodingJSON(t *testing.T) {
	parent := model.ID(0xabc)
	yes := true
	full := &model.SpanModel{
		SpanContext: model.SpanContext{TraceID: model.TraceID{High: 1, Low: math.MaxUint64}, ID: 7, ParentID: &parent, Debug: true, Sampled: &yes},
		Name:        "GET /Cart<&>",
		Kind:        model.Server,
		Timestamp:   time.Unix(1700000000, 123456789),
		Duration:    1234567 * time.Nanosecond,
		Shared:      true,
		LocalEndpoint: &model.Endpoint{ServiceName: "Shop\u2028Front", IPv4: net.ParseIP("10.0.0.1").To4(),
			IPv6: net.ParseIP("2001:db8::1"), Port: 8080},
		RemoteEndpoint: &model.Endpoint{IPv4: net.ParseIP("10.0.0.2")},
		Annotations:    []model.Annotation{{Timestamp: time.Unix(1700000000, 999), Value: "ws\n\"x\""}, {Value: "zero"}},
		Tags:           map[string]string{"b": "2", "a": "\x01\xff", "http.url": "/x?a=1&b=<2>", "": "empty"},
	}
	cases := map[string]*model.SpanModel{
		"full":              full,
		"minimal":           {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}},
		"sub-microsecond":   {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}, Duration: 10},
		"negative duration": {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}, Duration: -5, Timestamp: time.Unix(1700000000, 0)},
		"before epoch":      {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}, Duration: 5 * time.Second, Timestamp: time.Unix(0, 5)},
		"rounding":          {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}, Duration: 1499, Timestamp: time.Unix(1, 500)},
		"empty endpoints":   {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}, LocalEndpoint: &model.Endpoint{}, RemoteEndpoint: &model.Endpoint{Port: 1}},
		"empty collections": {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}, Annotations: []model.Annotation{}, Tags: map[string]string{}},
		"bad ip":            {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}, LocalEndpoint: &model.Endpoint{IPv4: net.IP{1, 2, 3}}},
		"upper invalid utf8": {SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 1}, ID: 1}, Name: "ÄB\xffC",
			LocalEndpoint: &model.Endpoint{ServiceName: "S\xfe"}},
	}
	for _, s := range benchV2() {
		cases["bench "+s.ID.String()] = s
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			got := ""
			if b, ok := appendV2Message(nil, s); ok {
				got = string(b)
			}
			assert.Equal(t, jsonV2Message(s), got)
		})
	}
}

// FuzzAppendJSONString: the plain-ASCII shortcut writes what encoding/json writes.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "tag.key0", "value-1-2", "GET /api/items", "a<b", "x\"y", "tab\there", "é", "\xff", "\u2028", "0123456789abcdef0123456789abcdef!", "&&&&&&&&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("%q: %s, encoding/json %s", s, got[1:], want)
		}
		if got := appendLowerJSONString(nil, s); string(got) != string(appendJSONString(nil, strings.ToLower(s))) {
			t.Fatalf("%q: lower-cased %s", s, got)
		}
	})
}
