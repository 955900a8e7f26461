package condition

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

// notEvaluable marks an operand DataKit cannot evaluate (dotted names, arithmetic).
type notEvaluable struct{}

func operand(n node, src Source) any {
	switch x := n.(type) {
	case ident:
		if x.dotted {
			return notEvaluable{}
		}
		v, ok := src.Get(x.name)
		if !ok {
			return nil
		}
		if b, isBytes := v.([]byte); isBytes {
			return string(b)
		}
		return v
	case lit:
		return x.v
	case regex:
		return x
	case star:
		return "*"
	case paren:
		return operand(x.x, src)
	}
	return notEvaluable{}
}

func compare(op string, ln, rn node, src Source) bool {
	l, r := operand(ln, src), operand(rn, src)
	if _, bad := l.(notEvaluable); bad {
		return false
	}
	if _, bad := r.(notEvaluable); bad {
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
			return !re.re.MatchString(s)
		}
		return false
	}
	if l == nil || r == nil {
		both := l == nil && r == nil
		switch op {
		case "=":
			return both
		case "!=":
			return !both
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
		return ok && ordered(op, a, b)
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
	}
	// uint64 and anything else never compare true, as in DataKit.
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
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}

func evalList(x listOp, src Source) bool {
	if x.key.dotted {
		return false
	}
	v, ok := src.Get(x.key.name)
	if b, isBytes := v.([]byte); isBytes {
		v = string(b)
	}
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
