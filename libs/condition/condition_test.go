package condition

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// span is a DataKit tracing point as the aggregator sees it: string tags, string id fields,
// int64 µs durations.
var span = MapSource{
	"service":          "checkout",
	"status":           "error",
	"http_status_code": "503",
	"resource":         "GET /tmall/item",
	"parent_id":        "0",
	"duration":         int64(1500),
	"ratio":            0.25,
	"sampled":          true,
	"big":              uint64(7),
	"raw":              []byte("bytes"),
	"k.with.dots":      "dotted",
	"a-b":              "dash",
}

func TestEvalVectors(t *testing.T) {
	tests := []struct {
		cond string
		want int // index of the first matching group, -1 for none
	}{
		{`{ 1 = 1 }`, 0},
		{`{ service = "checkout" }`, 0},
		{`{ service = 'checkout' }`, 0},
		{`{ service != "checkout" }`, -1},
		{`{ SERVICE = "checkout" }`, -1}, // keys are case-sensitive, keywords are not
		{`{ service = "checkout", status = "error" }`, 0},
		{`{ service = "checkout", status = "ok" }`, -1},
		{`{ status = "ok" } ; { status = "error" }`, 1},
		{`{ status = "ok" } ; { service = "x" }`, -1},
		{`{ status = "ok" }; { status = "error" };`, 1},
		{`{ service = "checkout" and status = "error" }`, 0},
		{`{ service = "x" or status = "error" }`, 0},
		{`{ service = "x" || (status = "error" && parent_id = "0") }`, 0},
		// typed comparisons: int64 field vs int literal only
		{`{ duration > 1000 }`, 0},
		{`{ duration >= 1500, duration <= 1500 }`, 0},
		{`{ duration > 1000.0 }`, -1},
		{`{ duration = "1500" }`, -1},
		{`{ ratio < 0.5 }`, 0},
		{`{ ratio < 1 }`, -1},
		{`{ big = 7 }`, -1}, // uint64 never compares true
		{`{ sampled = true }`, 0},
		{`{ sampled > false }`, -1},
		{`{ resource > "GET /a" }`, 0}, // strings compare lexicographically
		{`{ raw = "bytes" }`, -1},      // []byte values are not strings (cliutils compares Go types)
		{`{ raw MATCH ["bytes"] }`, -1},
		{`{ ratio = 0.2500000000001 }`, 0},  // float "=" is within 1e-9, as in cliutils
		{`{ ratio != 0.2500000000001 }`, 0}, // ... while "!=" is exact
		{`{ ratio IN [0.2500000000001] }`, 0},
		{`{ "checkout" = service }`, -1}, // only literals evaluate on the right
		{`{ service = service }`, -1},
		{`{ nil = nil }`, 0},
		{`{ nil != "x" }`, -1},
		{`{ nope != nil }`, -1},
		{`{ nope != re("x") }`, 0},
		{`{ nope = re(".*") }`, -1},
		{`{ resource != re("^GET") }`, 0}, // cliutils' "!=" against a regex is plain inequality
		{`{ duration = 0x5dc }`, 0},       // Go integer syntax: hex ...
		{`{ duration = 02734 }`, 0},       // ... and octal
		{`{ resource = "GET \x2ftmall\u002fitem" }`, 0},
		{`{ sampled IN [true] }`, -1},     // booleans in lists are skipped
		{`{ nope IN [true, nil] }`, 0},    // ... so nil is the first element
		{`{ service IN [checkout] }`, -1}, // keys in lists are skipped too
		{`{ ratio < inf }`, 0},
		// missing keys compare against nil
		{`{ nope = nil }`, 0},
		{`{ nope = null }`, 0},
		{`{ nope != "x" }`, 0},
		{`{ nope = "x" }`, -1},
		{`{ nope > 1 }`, -1},
		{`{ service != nil }`, 0},
		// regex literals
		{`{ resource = re('^GET /tmall/.*') }`, 0},
		{`{ resource = re("^POST") }`, -1},
		{`{ resource != re("^POST") }`, 0},
		{`{ duration = re("1") }`, -1},
		{`{ resource = "GET /tmall/**" }`, -1}, // = on strings is exact, not a wildcard
		// lists
		{`{ http_status_code IN ["500", "503"] }`, 0},
		{`{ http_status_code in ['404'] }`, -1},
		{`{ http_status_code NOT_IN ["500", "503"] }`, -1},
		{`{ http_status_code NOTIN ["404"] }`, 0},
		{`{ duration IN [1, 1500] }`, 0},
		{`{ duration IN [-1, 2] }`, -1},
		{`{ nope IN [nil, "x"] }`, 0},
		{`{ nope IN ["x", nil] }`, -1},
		{`{ nope NOT_IN ["x"] }`, 0},
		{`{ nope NOT_IN ["x", nil] }`, -1},
		{`{ resource MATCH ["^GET", "^POST"] }`, 0},
		{`{ resource MATCH ["^POST"] }`, -1},
		{`{ resource NOTMATCH ["^GET"] }`, -1},
		{`{ resource NOTMATCH ["^GET", "^POST"] }`, 0},
		{`{ nope MATCH [".*"] }`, -1},
		// quoted keys
		{"{ `k.with.dots` = \"dotted\" }", 0},
		{`{ identifier('a-b') = "dash" }`, 0},
		{`{ k.with.dots = "dotted" }`, -1}, // dotted names parse but do not evaluate
		// arithmetic parses but is never true; a bare parenthesis at group level is not evaluated
		{`{ duration + 1 > 0 }`, -1},
		{`{ (service = "checkout") }`, -1},
		{`{ (service = "checkout") and status = "error" }`, 0},
		// comments and an empty group
		{"{ service = \"checkout\" # trailing comment\n }", 0},
		{`{ }`, 0},
		{`{ "a" = "a", 2 != 3 }`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			e, err := Compile(tt.cond)
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.Eval(span))
			assert.Equal(t, tt.want >= 0, e.Matches(span))
		})
	}
}

func TestEmptyCondition(t *testing.T) {
	for _, src := range []string{"", "   ", "# only a comment"} {
		e, err := Compile(src)
		require.NoError(t, err)
		assert.True(t, e.Empty())
		assert.Equal(t, -1, e.Eval(span))
		assert.True(t, e.Matches(span), "no condition matches everything")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ cond, want string }{
		{`service = "x"`, "expected {"},
		{`{ service = "x" `, "expected , or }"},
		{`{ a = 1 } { b = 2 }`, "expected ; between groups"},
		{`{ a == 1 }`, `operator "==" at offset 4 is not supported`},
		{`{ a <> 1 }`, `operator "<>"`},
		{`{ a NOT IN [1] }`, `"NOT" at offset 4 is not an operator`},
		{`{ a NOT_MATCH ["x"] }`, `"NOT_MATCH"`},
		{`{ a = "unterminated }`, "unterminated string"},
		{"{ `a = 1 }", "unterminated back-quoted key"},
		{`{ a = re('[') }`, "bad regex in re()"},
		{`{ a MATCH ["("] }`, `bad regex "("`},
		{`{ a MATCH [1] }`, "MATCH list entries must be strings"},
		{`{ "x" IN [1] }`, "IN needs a key on its left"},
		{`{ a IN [1 2] }`, "expected , or ] in list"},
		{`{ a = @ }`, "unexpected character '@'"},
		{`{ a = -"x" }`, "unary - needs a number"},
		{`{ a = re(x) }`, "expected a quoted string"},
		{`{ a = '\d' }`, "bad escape in string"},
		{"{ a = 'line\nbreak' }", "newline in string"},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			_, err := Compile(tt.cond)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "condition ", "the error quotes the condition")
		})
	}
}

func FuzzCompileEval(f *testing.F) {
	for _, s := range []string{
		`{ 1 = 1 }`, `{ service = "checkout", status = "error" } ; { duration > 10 }`,
		`{ resource = re('^GET') }`, `{ a IN [nil, 1, -2.5, "x", true] }`, "{ `k.x` NOTMATCH ['a', \"b\"] }",
		`{ (a = 1 or b = 2) and c != 3 }`, `{ a + 1 * 2 ^ 3 % 4 / 5 - 6 = 7 }`, `{ identifier('a-b') = null }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src)
		if err != nil {
			return
		}
		_ = e.Eval(span)
		_ = e.Matches(MapSource{})
	})
}
