package condition

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tLBrace
	tRBrace
	tLBrack
	tRBrack
	tLParen
	tRParen
	tComma
	tSemi
	tOp     // = != > >= < <= + - * / % ^
	tAnd    // AND &&
	tOr     // OR ||
	tListOp // IN NOT_IN NOTIN MATCH NOTMATCH
	tIdent
	tString
	tNumber
	tTrue
	tFalse
	tNil
	tRe    // re('...'): text holds the pattern
	tQuote // `key` or identifier('key'): text holds the key
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) String() string {
	if t.kind == tEOF {
		return "end of input"
	}
	return fmt.Sprintf("%q at offset %d", t.text, t.pos)
}

type lexer struct {
	src  string
	pos  int
	toks []token
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, t)
		if t.kind == tEOF {
			return l.toks, nil
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) next() (token, error) {
	// Skip blanks and # comments.
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			l.pos++
			continue
		}
		if c == '#' {
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
			continue
		}
		break
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	two := ""
	if l.pos+1 < len(l.src) {
		two = l.src[l.pos : l.pos+2]
	}
	single := map[byte]tokKind{'{': tLBrace, '}': tRBrace, '[': tLBrack, ']': tRBrack, '(': tLParen, ')': tRParen, ',': tComma, ';': tSemi}
	switch {
	case two == "!=" || two == ">=" || two == "<=":
		l.pos += 2
		return token{kind: tOp, text: two, pos: start}, nil
	case two == "&&":
		l.pos += 2
		return token{kind: tAnd, text: two, pos: start}, nil
	case two == "||":
		l.pos += 2
		return token{kind: tOr, text: two, pos: start}, nil
	case two == "==" || two == "<>":
		return token{}, fmt.Errorf("operator %q at offset %d is not supported (use = or !=)", two, start)
	}
	if k, ok := single[c]; ok {
		l.pos++
		return token{kind: k, text: string(c), pos: start}, nil
	}
	switch c {
	case '=', '>', '<', '+', '-', '*', '/', '%', '^':
		l.pos++
		return token{kind: tOp, text: string(c), pos: start}, nil
	case '"', '\'':
		s, err := l.quoted(c)
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, text: s, pos: start}, nil
	case '`':
		end := strings.IndexByte(l.src[l.pos+1:], '`')
		if end < 0 {
			return token{}, fmt.Errorf("unterminated back-quoted key at offset %d", start)
		}
		key := l.src[l.pos+1 : l.pos+1+end]
		l.pos += end + 2
		return token{kind: tQuote, text: key, pos: start}, nil
	}
	if isDigit(c) || (c == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1])) {
		return l.number(), nil
	}
	if isIdentStart(c) {
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		// a.b.c is an attribute expression: one dotted identifier token.
		for l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isIdentStart(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
				l.pos++
			}
		}
		word := l.src[start:l.pos]
		switch strings.ToUpper(word) {
		case "AND":
			return token{kind: tAnd, text: word, pos: start}, nil
		case "OR":
			return token{kind: tOr, text: word, pos: start}, nil
		case "IN", "NOT_IN", "NOTIN", "MATCH", "NOTMATCH":
			return token{kind: tListOp, text: strings.ToUpper(word), pos: start}, nil
		case "TRUE":
			return token{kind: tTrue, text: word, pos: start}, nil
		case "FALSE":
			return token{kind: tFalse, text: word, pos: start}, nil
		case "NIL", "NULL":
			return token{kind: tNil, text: word, pos: start}, nil
		case "INF", "NAN":
			// cliutils lexes these words as numbers.
			return token{kind: tNumber, text: word, pos: start}, nil
		case "NOT", "NOT_MATCH":
			return token{}, fmt.Errorf("%q at offset %d is not an operator (use NOT_IN, NOTIN or NOTMATCH)", word, start)
		case "RE", "IDENTIFIER":
			if arg, ok, err := l.call(); err != nil {
				return token{}, err
			} else if ok {
				if strings.EqualFold(word, "re") {
					return token{kind: tRe, text: arg, pos: start}, nil
				}
				return token{kind: tQuote, text: arg, pos: start}, nil
			}
		}
		return token{kind: tIdent, text: word, pos: start}, nil
	}
	return token{}, fmt.Errorf("unexpected character %q at offset %d", c, start)
}

// call reads "('arg')" after re / identifier; ok is false when no parenthesis follows.
func (l *lexer) call() (string, bool, error) {
	p := l.pos
	for p < len(l.src) && (l.src[p] == ' ' || l.src[p] == '\t') {
		p++
	}
	if p >= len(l.src) || l.src[p] != '(' {
		return "", false, nil
	}
	l.pos = p + 1
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t') {
		l.pos++
	}
	if l.pos >= len(l.src) || (l.src[l.pos] != '\'' && l.src[l.pos] != '"') {
		return "", false, fmt.Errorf("expected a quoted string after %q at offset %d", "(", p)
	}
	s, err := l.quoted(l.src[l.pos])
	if err != nil {
		return "", false, err
	}
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t') {
		l.pos++
	}
	if l.pos >= len(l.src) || l.src[l.pos] != ')' {
		return "", false, fmt.Errorf("missing ) at offset %d", l.pos)
	}
	l.pos++
	return s, true, nil
}

// quoted reads a Go-style quoted string with either quote character, as cliutils' lexer
// and strutil.Unquote do: \n, \x41, \u00e9, octal escapes are decoded, an unknown escape
// (\d) or a raw newline is an error.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	var b strings.Builder
	l.pos++
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == q:
			l.pos++
			return b.String(), nil
		case c == '\n':
			return "", fmt.Errorf("unterminated string starting at offset %d (newline in string)", start)
		case c == '\\':
			r, multibyte, tail, err := strconv.UnquoteChar(l.src[l.pos:], q)
			if err != nil {
				return "", fmt.Errorf("bad escape in string at offset %d: %w", l.pos, err)
			}
			if multibyte || r >= utf8.RuneSelf {
				b.WriteRune(r)
			} else {
				b.WriteByte(byte(r))
			}
			l.pos = len(l.src) - len(tail)
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return "", fmt.Errorf("unterminated string starting at offset %d", start)
}

func (l *lexer) number() token {
	start := l.pos
	digit := isDigit
	if l.pos+1 < len(l.src) && l.src[l.pos] == '0' && (l.src[l.pos+1] == 'x' || l.src[l.pos+1] == 'X') {
		l.pos += 2
		digit = isHexDigit
	}
	for l.pos < len(l.src) && (digit(l.src[l.pos]) || l.src[l.pos] == '.' || l.src[l.pos] == 'e' || l.src[l.pos] == 'E' ||
		((l.src[l.pos] == '+' || l.src[l.pos] == '-') && l.pos > start && (l.src[l.pos-1] == 'e' || l.src[l.pos-1] == 'E'))) {
		l.pos++
	}
	return token{kind: tNumber, text: l.src[start:l.pos], pos: start}
}

func isHexDigit(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
