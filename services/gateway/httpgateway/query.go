package httpgateway

import (
	"net/url"
	"strconv"
)

// Query parameters of /v1/write (datakit-spec §5) and the WriteRequest field each sets.
var stringParams = map[string]string{
	"precision":     "precision",
	"input":         "input",
	"source":        "source",
	"version":       "version",
	"echo":          "echo",
	"storage_index": "storage_index",
	"encoding":      "encoding",
}

// Booleans are presence-only in DataKit (`?dry` means dry); an explicit false value is
// honoured too, since nobody writes ?dry=false meaning yes.
var boolParams = map[string]string{
	"dry":                     "dry",
	"strict":                  "strict",
	"ignore_global_host_tags": "ignore_global_host_tags",
	"ignore_global_tags":      "ignore_global_host_tags", // legacy name
	"global_election_tags":    "global_election_tags",
}

// legacy echo switches, in precedence order.
var echoParams = [][2]string{{"echo_line_proto", "lp"}, {"echo_json", "json"}}

// normalizeQuery rewrites DataKit's query into the WriteRequest fields grpc-gateway's
// query parser understands, and drops everything else (e.g. a token) so no parameter can
// fail the request or reach fields the path and body own. A Content-Encoding header is
// folded into `encoding` when the query has none, DataKit's precedence.
func normalizeQuery(q url.Values, contentEncoding string) url.Values {
	out := url.Values{}
	for k, field := range stringParams {
		if v := q.Get(k); v != "" {
			out.Set(field, v)
		}
	}
	for k, field := range boolParams {
		vs, ok := q[k]
		if !ok {
			continue
		}
		on := true
		if len(vs) > 0 && vs[0] != "" {
			if b, err := strconv.ParseBool(vs[0]); err == nil {
				on = b
			}
		}
		if on {
			out.Set(field, "true")
		}
	}
	if out.Get("echo") == "" {
		for _, e := range echoParams {
			if _, ok := q[e[0]]; ok {
				out.Set("echo", e[1])
				break
			}
		}
	}
	if out.Get("encoding") == "" && contentEncoding != "" {
		out.Set("encoding", contentEncoding)
	}
	return out
}
