package condition

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

type node interface{ isNode() }

type binary struct {
	op   string
	l, r node
}
type paren struct{ x node }
type ident struct {
	name   string
	dotted bool // a.b: parses, but DataKit cannot evaluate it; back-quote the key instead
}
type lit struct{ v any } // string, int64, float64, bool or nil
type regex struct {
	src string
	re  *regexp.Regexp
}
type star struct{}
type listOp struct {
	op    string // IN, NOT_IN, MATCH, NOTMATCH
	key   ident
	elems []any // string, int64, float64, bool, nil
	res   []*regexp.Regexp
}

func (binary) isNode() {}
func (paren) isNode()  {}
func (ident) isNode()  {}
func (lit) isNode()    {}
func (regex) isNode()  {}
func (star) isNode()   {}
func (listOp) isNode() {}

// Expr is a compiled condition.
type Expr struct {
	src    string
	groups [][]node
}

// String returns the source text.
func (e *Expr) String() string { return e.src }

// Empty reports whether the condition was empty ("no condition").
func (e *Expr) Empty() bool { return len(e.groups) == 0 }

// Compile parses a condition; errors name the offending token and its offset.
func Compile(src string) (*Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", src, err)
	}
	p := &parser{toks: toks}
	groups, err := p.program()
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", src, err)
	}
	return &Expr{src: src, groups: groups}, nil
}

// MustCompile is Compile for constants in tests and tables; it panics on error.
func MustCompile(src string) *Expr {
	e, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return e
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) expect(k tokKind, what string) (token, error) {
	t := p.advance()
	if t.kind != k {
		return t, fmt.Errorf("expected %s, got %s", what, t)
	}
	return t, nil
}

func (p *parser) program() ([][]node, error) {
	var groups [][]node
	if p.peek().kind == tEOF {
		return nil, nil
	}
	for {
		g, err := p.group()
		if err != nil {
			return nil, err
		}
		groups = append(groups, g)
		t := p.advance()
		switch t.kind {
		case tEOF:
			return groups, nil
		case tSemi:
			if p.peek().kind == tEOF {
				return groups, nil
			}
		default:
			return nil, fmt.Errorf("expected ; between groups, got %s", t)
		}
	}
}

func (p *parser) group() ([]node, error) {
	if _, err := p.expect(tLBrace, "{"); err != nil {
		return nil, err
	}
	var conds []node
	if p.peek().kind == tRBrace {
		p.advance()
		return conds, nil
	}
	for {
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
		t := p.advance()
		switch t.kind {
		case tComma:
		case tRBrace:
			return conds, nil
		default:
			return nil, fmt.Errorf("expected , or }, got %s", t)
		}
	}
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		p.advance()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = binary{op: "OR", l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.cmp()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		p.advance()
		r, err := p.cmp()
		if err != nil {
			return nil, err
		}
		l = binary{op: "AND", l: l, r: r}
	}
	return l, nil
}

func isCmp(op string) bool {
	switch op {
	case "=", "!=", ">", ">=", "<", "<=":
		return true
	}
	return false
}

func (p *parser) cmp() (node, error) {
	l, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tOp && isCmp(t.text):
		p.advance()
		r, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		return binary{op: t.text, l: l, r: r}, nil
	case t.kind == tListOp:
		p.advance()
		id, ok := l.(ident)
		if !ok {
			return nil, fmt.Errorf("%s needs a key on its left, at offset %d", t.text, t.pos)
		}
		return p.list(t.text, id)
	}
	return l, nil
}

// Arithmetic precedence levels, low to high.
var arithLevels = [][]string{{"+", "-"}, {"*", "/", "%"}, {"^"}}

func (p *parser) arith(level int) (node, error) {
	if level == len(arithLevels) {
		return p.unary()
	}
	l, err := p.arith(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp || !contains(arithLevels[level], t.text) {
			return l, nil
		}
		p.advance()
		r, err := p.arith(level + 1)
		if err != nil {
			return nil, err
		}
		l = binary{op: t.text, l: l, r: r}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) unary() (node, error) {
	t := p.peek()
	if t.kind == tOp && (t.text == "-" || t.text == "+") {
		p.advance()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if l, ok := x.(lit); ok {
			if t.text == "+" {
				return l, nil
			}
			switch v := l.v.(type) {
			case int64:
				return lit{v: -v}, nil
			case float64:
				return lit{v: -v}, nil
			}
		}
		return nil, fmt.Errorf("unary %s needs a number, at offset %d", t.text, t.pos)
	}
	return p.primary()
}

func (p *parser) primary() (node, error) {
	t := p.advance()
	switch t.kind {
	case tLParen:
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return paren{x: x}, nil
	case tString:
		return lit{v: t.text}, nil
	case tNumber:
		v, err := parseNumber(t.text)
		if err != nil {
			return nil, fmt.Errorf("bad number %s: %w", t, err)
		}
		return lit{v: v}, nil
	case tTrue:
		return lit{v: true}, nil
	case tFalse:
		return lit{v: false}, nil
	case tNil:
		return lit{v: nil}, nil
	case tRe:
		re, err := regexp.Compile(t.text)
		if err != nil {
			return nil, fmt.Errorf("bad regex in re() at offset %d: %w", t.pos, err)
		}
		return regex{src: t.text, re: re}, nil
	case tQuote:
		return ident{name: t.text}, nil
	case tIdent:
		return ident{name: t.text, dotted: strings.Contains(t.text, ".")}, nil
	case tOp:
		if t.text == "*" {
			return star{}, nil
		}
	}
	return nil, fmt.Errorf("unexpected %s", t)
}

func (p *parser) list(op string, key ident) (node, error) {
	if _, err := p.expect(tLBrack, "["); err != nil {
		return nil, err
	}
	lo := listOp{op: op, key: key}
	for p.peek().kind != tRBrack {
		t := p.advance()
		var v any
		skip := false
		switch t.kind {
		case tString:
			v = t.text
		case tIdent, tQuote:
			// cliutils parses a key in a list but never compares it: drop it.
			skip = true
		case tNumber:
			n, err := parseNumber(t.text)
			if err != nil {
				return nil, fmt.Errorf("bad number %s: %w", t, err)
			}
			v = n
		case tOp:
			if t.text != "-" && t.text != "+" {
				return nil, fmt.Errorf("unexpected %s in list", t)
			}
			nt, err := p.expect(tNumber, "a number")
			if err != nil {
				return nil, err
			}
			n, err := parseNumber(nt.text)
			if err != nil {
				return nil, fmt.Errorf("bad number %s: %w", nt, err)
			}
			if t.text == "-" {
				switch x := n.(type) {
				case int64:
					n = -x
				case float64:
					n = -x
				}
			}
			v = n
		case tTrue, tFalse:
			// Booleans in lists are skipped by cliutils' evaluator.
			skip = true
		case tNil:
			v = nil
		default:
			return nil, fmt.Errorf("unexpected %s in list", t)
		}
		if !skip {
			lo.elems = append(lo.elems, v)
		}
		if p.peek().kind == tComma {
			p.advance()
			continue
		}
		if p.peek().kind != tRBrack {
			return nil, fmt.Errorf("expected , or ] in list, got %s", p.peek())
		}
	}
	p.advance()
	if op == "MATCH" || op == "NOTMATCH" {
		for _, e := range lo.elems {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s list entries must be strings (regexes), got %v", op, e)
			}
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, fmt.Errorf("bad regex %q in %s list: %w", s, op, err)
			}
			lo.res = append(lo.res, re)
		}
	}
	return lo, nil
}

// parseNumber reads numbers as cliutils does: an integer in Go syntax (0x1f, 010 octal)
// if it parses as one, otherwise a float.
func parseNumber(s string) (any, error) {
	if v, err := strconv.ParseInt(s, 0, 64); err == nil {
		return v, nil
	}
	return strconv.ParseFloat(s, 64)
}
