package traceql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	pmodel "github.com/prometheus/common/model"
)

// tokKind classifies tokens.
type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // keyword or identifier: name, count, span, ok, ...
	tString           // "..." or `...`
	tInt              // 123
	tFloat            // 1.5
	tDuration         // 10ms, 1h30m
	tAttr             // .a, span.a, resource."a b", parent.span.a, ...
	tColon            // scope of a scoped intrinsic: span:, trace:, event:, link:, instrumentation:
	tOp               // punctuation and operators
)

// token is one lexeme. pos is the byte offset of its first character.
type token struct {
	kind tokKind
	pos  int
	text string // identifier, operator, attribute name, scope name, or raw number text
	str  string // decoded string literal
	i    int64
	f    float64
	d    time.Duration
	// attributes
	scope  Scope
	parent bool
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "string " + strconv.Quote(t.str)
	case tAttr:
		return "attribute " + t.text
	case tColon:
		return "'" + t.text + ":'"
	}
	return "'" + t.text + "'"
}

// Error is a syntax or validation error with its position in the query.
type Error struct {
	Offset      int // byte offset in the query
	Line, Col   int // 1-based; Col counts characters
	Msg         string
	Unsupported bool // the query is valid TraceQL but uses a feature Ariadne does not support
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d col %d: %s", e.Line, e.Col, e.Msg)
}

func newError(src string, off int, unsupported bool, format string, args ...any) *Error {
	off = min(max(off, 0), len(src))
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &Error{Offset: off, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Unsupported: unsupported}
}

// multi-character operators, longest first within each prefix.
var operators = []string{
	"!>>", "!<<", "&>>", "&<<",
	"!=", "=~", "!~", ">=", "<=", ">>", "<<", "&&", "||", "!>", "!<", "&~", "&>", "&<",
	",", "{", "}", "(", ")", "=", ">", "<", "+", "-", "/", "%", "*", "^", "!", "|", "~",
}

var attrScopes = map[string]Scope{
	"span": ScopeSpan, "resource": ScopeResource, "event": ScopeEvent, "link": ScopeLink,
	"instrumentation": ScopeInstrumentation,
}

var colonScopes = map[string]bool{"trace": true, "span": true, "event": true, "link": true, "instrumentation": true}

// lex splits src into tokens. The last token is tEOF.
func lex(src string) ([]token, error) {
	var toks []token
	var err error
	i := 0
	for {
		// skip white space and comments
		for i < len(src) {
			r, n := utf8.DecodeRuneInString(src[i:])
			if unicode.IsSpace(r) {
				i += n
				continue
			}
			if strings.HasPrefix(src[i:], "//") {
				for i < len(src) && src[i] != '\n' {
					i++
				}
				continue
			}
			if strings.HasPrefix(src[i:], "/*") {
				end := strings.Index(src[i+2:], "*/")
				if end < 0 {
					return nil, newError(src, i, false, "comment not terminated: expected */")
				}
				i += end + 4
				continue
			}
			break
		}
		if i >= len(src) {
			return append(toks, token{kind: tEOF, pos: len(src)}), nil
		}
		start := i
		c := src[i]
		switch {
		case c == '"' || c == '`':
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, newError(src, i, false, "%v", err)
			}
			toks = append(toks, token{kind: tString, pos: start, text: src[i : i+n], str: s})
			i += n
		case isDigit(c) || c == '.' && i+1 < len(src) && isDigit(src[i+1]):
			t, n, err := lexNumber(src[i:])
			if err != nil {
				return nil, newError(src, i, false, "%v", err)
			}
			t.pos = start
			toks = append(toks, t)
			i += n
		case c == '.':
			if i, err = appendAttr(&toks, src, start, i+1, ScopeNone, false); err != nil {
				return nil, err
			}
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			word := src[i:j]
			if j < len(src) && src[j] == '.' {
				if word == "parent" {
					// parent.span.x, parent.resource.x or parent.x
					k, scope := j+1, ScopeNone
					for name, sc := range map[string]Scope{"span.": ScopeSpan, "resource.": ScopeResource} {
						if strings.HasPrefix(src[k:], name) {
							k, scope = k+len(name), sc
							break
						}
					}
					if i, err = appendAttr(&toks, src, start, k, scope, true); err != nil {
						return nil, err
					}
					continue
				}
				if sc, ok := attrScopes[word]; ok {
					if i, err = appendAttr(&toks, src, start, j+1, sc, false); err != nil {
						return nil, err
					}
					continue
				}
			}
			if j < len(src) && src[j] == ':' && colonScopes[word] {
				toks = append(toks, token{kind: tColon, pos: start, text: word})
				i = j + 1
				continue
			}
			toks = append(toks, token{kind: tIdent, pos: start, text: word})
			i = j
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, newError(src, i, false, "unexpected character %q", r)
			}
			toks = append(toks, token{kind: tOp, pos: start, text: op})
			i += len(op)
		}
	}
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// isAttrRune reports whether r may appear unquoted in an attribute name.
func isAttrRune(r rune) bool {
	if unicode.IsSpace(r) {
		return false
	}
	switch r {
	case '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',':
		return false
	}
	return true
}

// appendAttr lexes an attribute name at src[i] and appends its token
// (starting at start); it returns the offset after it.
func appendAttr(toks *[]token, src string, start, i int, scope Scope, parent bool) (int, error) {
	t, n, err := lexAttr(src, i, scope, parent)
	if err != nil {
		return 0, err
	}
	t.pos = start
	*toks = append(*toks, t)
	return n, nil
}

// lexAttr reads an attribute name starting at src[i]: unquoted attribute
// runes and "quoted" parts (escapes \" and \\). It returns the token and the
// offset after it.
func lexAttr(src string, i int, scope Scope, parent bool) (token, int, error) {
	start := i
	var sb strings.Builder
	for i < len(src) {
		r, n := utf8.DecodeRuneInString(src[i:])
		if r == '"' {
			i++
			closed := false
			for i < len(src) {
				r, n := utf8.DecodeRuneInString(src[i:])
				if r == '"' {
					i++
					closed = true
					break
				}
				if r == '\\' {
					if i+1 < len(src) && (src[i+1] == '"' || src[i+1] == '\\') {
						sb.WriteByte(src[i+1])
						i += 2
						continue
					}
					return token{}, 0, newError(src, i, false, `invalid escape in quoted attribute name: only \" and \\ are allowed`)
				}
				sb.WriteRune(r)
				i += n
			}
			if !closed {
				return token{}, 0, newError(src, start, false, `quoted attribute name not terminated: expected "`)
			}
			continue
		}
		if !isAttrRune(r) {
			break
		}
		sb.WriteRune(r)
		i += n
	}
	if sb.Len() == 0 {
		return token{}, 0, newError(src, start, false, "expected an attribute name after '.'")
	}
	return token{kind: tAttr, text: sb.String(), scope: scope, parent: parent}, i, nil
}

func lexString(s string) (string, int, error) {
	q := s[0]
	i := 1
	for i < len(s) {
		switch s[i] {
		case q:
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", 0, fmt.Errorf("invalid string literal %s: %v", s[:i+1], err)
			}
			return v, i + 1, nil
		case '\\':
			if q == '"' {
				i++
			}
		case '\n':
			if q == '"' {
				return "", 0, fmt.Errorf("string literal not terminated before end of line: expected %c", q)
			}
		}
		i++
	}
	return "", 0, fmt.Errorf("string literal not terminated: expected %c", q)
}

// lexNumber reads an integer, float or duration.
func lexNumber(s string) (token, int, error) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	isFloat := false
	if i < len(s) && s[i] == '.' && i+1 < len(s) && isDigit(s[i+1]) {
		isFloat = true
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			isFloat, i = true, j
		}
	}
	num := s[:i]
	// A duration: the number followed directly by digits, '.' and unit letters.
	j := i
	for j < len(s) && (isDigit(s[j]) || s[j] == '.' || strings.IndexByte("nsumhdwy", s[j]) >= 0 || strings.HasPrefix(s[j:], "µ")) {
		if strings.HasPrefix(s[j:], "µ") {
			j += len("µ")
		} else {
			j++
		}
	}
	if j > i {
		if d, err := parseDuration(s[:j]); err == nil {
			return token{kind: tDuration, text: s[:j], d: d}, j, nil
		}
	}
	if isFloat {
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsInf(f, 0) {
			return token{}, 0, fmt.Errorf("number %s out of range", num)
		}
		return token{kind: tFloat, text: num, f: f}, i, nil
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return token{}, 0, fmt.Errorf("integer %s out of range", num)
	}
	return token{kind: tInt, text: num, i: v}, i, nil
}

// parseDuration accepts Prometheus durations (1d, 1w, 1y, 1h30m) and Go
// durations (1.5s, 300us).
func parseDuration(s string) (time.Duration, error) {
	if d, err := pmodel.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}
