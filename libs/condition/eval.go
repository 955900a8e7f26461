package condition

import "math"

// Source gives the values of a point's tags and fields by key. Values are string, int64,
// uint64, float64, bool or []byte; ok is false when the key is absent.
type Source interface {
	Get(key string) (v any, ok bool)
}

// MapSource is a Source over a map, for tests and simple callers.
type MapSource map[string]any

// Get implements Source.
func (m MapSource) Get(k string) (any, bool) { v, ok := m[k]; return v, ok }

// Eval returns the index of the first group whose conditions all hold, or -1 when none does
// (also for an empty condition: use Matches for "empty means everything").
func (e *Expr) Eval(src Source) int {
	for i, g := range e.groups {
		if evalGroup(g, src) {
			return i
		}
	}
	return -1
}

// Matches reports whether an empty condition, or any group, holds.
func (e *Expr) Matches(src Source) bool { return e.Empty() || e.Eval(src) >= 0 }

func evalGroup(g []node, src Source) bool {
	for _, c := range g {
		// Only binary and list conditions are evaluable at the top of a group, as in DataKit.
		switch c.(type) {
		case binary, listOp:
		default:
			return false
		}
		if !evalBool(c, src) {
			return false
		}
	}
	return true
}

func evalBool(n node, src Source) bool {
	switch x := n.(type) {
	case paren:
		return evalBool(x.x, src)
	case listOp:
		return evalList(x, src)
	case binary:
		switch x.op {
		case "AND":
			return evalBool(x.l, src) && evalBool(x.r, src)
		case "OR":
			return evalBool(x.l, src) || evalBool(x.r, src)
		}
		if !isCmp(x.op) {
			return false // arithmetic parses but is never true
		}
		return compare(x.op, x.l, x.r, src)
	}
	return false
}

// notEvaluable marks an operand DataKit cannot evaluate (dotted names, arithmetic, a key
// on the right-hand side).
type notEvaluable struct{}

// missing is the value of an absent key: cliutils compares the literal against nil then.
type missing struct{}

// left is the value of a comparison's left side: a key's value (missing when absent) or a
// literal. Byte values stay []byte, so they never equal a string, as in cliutils.
func left(n node, src Source) any {
	switch x := n.(type) {
	case ident:
		if x.dotted {
			return notEvaluable{}
		}
		v, ok := src.Get(x.name)
		if !ok {
			return missing{}
		}
		return v
	case lit:
		return x.v
	}
	return notEvaluable{}
}

// right is the value of a comparison's right side: only literals and re() evaluate there.
func right(n node) any {
	switch x := n.(type) {
	case lit:
		return x.v
	case regex:
		return x
	}
	return notEvaluable{}
}

const floatEqualityThreshold = 1e-9

// compare follows cliutils' binEval: the types must be identical (nil on the right goes
// with anything); an absent key compares the literal with nil, so only "= nil" and "!= x"
// (x not nil) hold; "!=" is plain inequality, so "!= re(...)" holds for every string.
func compare(op string, ln, rn node, src Source) bool {
	l, r := left(ln, src), right(rn)
	if _, bad := l.(notEvaluable); bad {
		return false
	}
	if _, bad := r.(notEvaluable); bad {
		return false
	}
	if _, absent := l.(missing); absent {
		switch op {
		case "=":
			return r == nil
		case "!=":
			return r != nil
		}
		return false
	}
	if re, ok := r.(regex); ok {
		s, isStr := l.(string)
		if !isStr {
			return false
		}
		switch op {
		case "=":
			return re.re.MatchString(s)
		case "!=":
			return true
		}
		return false
	}
	if r == nil {
		switch op {
		case "=":
			return l == nil
		case "!=":
			return l != nil
		}
		return false
	}
	switch a := l.(type) {
	case string:
		b, ok := r.(string)
		return ok && ordered(op, a, b)
	case int64:
		b, ok := r.(int64)
		return ok && ordered(op, a, b)
	case float64:
		b, ok := r.(float64)
		if !ok {
			return false
		}
		if op == "=" {
			return math.Abs(a-b) <= floatEqualityThreshold
		}
		return ordered(op, a, b)
	case bool:
		b, ok := r.(bool)
		if !ok {
			return false
		}
		switch op {
		case "=":
			return a == b
		case "!=":
			return a != b
		}
	case nil: // a nil literal on the left
		return false
	}
	// uint64, []byte and anything else never compare true, as in DataKit.
	return false
}

func ordered[T string | int64 | float64](op string, a, b T) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "<":
		return a < b
	case "<=":
		return a <= b
	}
	return false
}

// equal is cliutils' "=" between a present value and a list element.
func equal(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && math.Abs(x-y) <= floatEqualityThreshold
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

func evalList(x listOp, src Source) bool {
	if x.key.dotted {
		return false
	}
	v, ok := src.Get(x.key.name)
	switch x.op {
	case "IN":
		if !ok {
			return len(x.elems) > 0 && x.elems[0] == nil
		}
		for _, e := range x.elems {
			if equal(v, e) {
				return true
			}
		}
		return false
	case "NOT_IN", "NOTIN":
		if !ok {
			for _, e := range x.elems {
				if e == nil {
					return false
				}
			}
			return true
		}
		for _, e := range x.elems {
			if equal(v, e) {
				return false
			}
		}
		return true
	case "MATCH", "NOTMATCH":
		s, isStr := v.(string)
		if !ok || !isStr {
			return false
		}
		for _, re := range x.res {
			if re.MatchString(s) == (x.op == "MATCH") {
				return true
			}
		}
		return false
	}
	return false
}
