package traceql

import (
	"slices"
	"strings"
)

type parser struct {
	src   string
	toks  []token
	i     int
	depth int // nesting of parentheses and unary operators
}

// maxDepth bounds nesting, so that a hostile query cannot exhaust the stack.
const maxDepth = 256

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(p.peek().pos, "query nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(ops ...string) bool {
	t := p.peek()
	if t.kind != tOp {
		return false
	}
	for _, o := range ops {
		if t.text == o {
			return true
		}
	}
	return false
}

func (p *parser) isIdent(name string) bool { t := p.peek(); return t.kind == tIdent && t.text == name }

func (p *parser) errAt(off int, format string, args ...any) *Error {
	return newError(p.src, off, false, format, args...)
}

// unexpected reports the next token as unexpected.
func (p *parser) unexpected(expected string) *Error {
	t := p.peek()
	return p.errAt(t.pos, "unexpected %s, expected %s", t.describe(), expected)
}

func (p *parser) expectOp(op string) (token, error) {
	if !p.isOp(op) {
		return token{}, p.unexpected("'" + op + "'")
	}
	return p.next(), nil
}

// ---- pipeline level ----

// opLevel is the precedence of a binary operator, lowest first; 0 for
// anything else. Field expressions (inside { } and function arguments)
// have no | and no structural operators.
func opLevel(t token, field bool) int {
	if t.kind != tOp {
		return 0
	}
	switch t.text {
	case "|":
		if !field {
			return 1
		}
	case "&&", "||":
		return 2
	case "=", "!=", "<", "<=", ">", ">=", "=~", "!~":
		return 3
	case ">>", "<<", "~", "!>", "!<", "!>>", "!<<", "&>", "&<", "&>>", "&<<", "&~":
		if !field {
			return 3
		}
	case "+", "-":
		return 4
	case "*", "/", "%":
		return 5
	case "^":
		return 6
	}
	return 0
}

// climb parses operands joined by binary operators of at least level min
// (precedence climbing; ^ is right-associative). join consumes the right
// operand, parsing it at level next.
func climb[T any](p *parser, min int, field bool, operand func() (T, error), join func(op token, l T, next int) (T, error)) (T, error) {
	var zero T
	if err := p.enter(); err != nil {
		return zero, err
	}
	defer func() { p.depth-- }()
	l, err := operand()
	if err != nil {
		return zero, err
	}
	for {
		t := p.peek()
		lvl := opLevel(t, field)
		if lvl == 0 || lvl < min {
			return l, nil
		}
		p.next()
		next := lvl + 1
		if t.text == "^" {
			next = lvl
		}
		if l, err = join(t, l, next); err != nil {
			return zero, err
		}
	}
}

func (p *parser) outer(min int) (node, error) {
	return climb(p, min, false, p.outerPrimary, func(t token, l node, next int) (node, error) {
		r, err := p.outer(next)
		if err != nil {
			return nil, err
		}
		return &binNode{at: t.pos, op: t.text, l: l, r: r}, nil
	})
}

var aggregates = map[string]bool{"count": true, "avg": true, "min": true, "max": true, "sum": true}

var metricsFns = map[string]bool{
	"rate": true, "count_over_time": true, "min_over_time": true, "max_over_time": true, "avg_over_time": true,
	"sum_over_time": true, "quantile_over_time": true, "histogram_over_time": true, "compare": true,
}

func (p *parser) outerPrimary() (node, error) {
	t := p.peek()
	switch t.kind {
	case tInt:
		p.next()
		return &numNode{at: t.pos, val: Value{T: TypeInt, I: t.i}}, nil
	case tFloat:
		p.next()
		return &numNode{at: t.pos, val: Value{T: TypeFloat, F: t.f}}, nil
	case tDuration:
		p.next()
		return &numNode{at: t.pos, val: Value{T: TypeDuration, I: int64(t.d)}}, nil
	case tOp:
		switch t.text {
		case "{":
			return p.filter()
		case "(":
			p.next()
			inner, err := p.outer(1)
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &parenNode{at: t.pos, inner: inner}, nil
		case "-":
			p.next()
			if err := p.enter(); err != nil {
				return nil, err
			}
			x, err := p.outerPrimary()
			p.depth--
			if err != nil {
				return nil, err
			}
			return &negNode{at: t.pos, x: x}, nil
		}
	case tIdent:
		switch {
		case aggregates[t.text]:
			return p.aggregate()
		case t.text == "by":
			p.next()
			e, err := p.parenField()
			if err != nil {
				return nil, err
			}
			return &byNode{at: t.pos, expr: e}, nil
		case t.text == "coalesce":
			p.next()
			if _, err := p.expectOp("("); err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &coalesceNode{at: t.pos}, nil
		case t.text == "select":
			p.next()
			if _, err := p.expectOp("("); err != nil {
				return nil, err
			}
			attrs, err := p.attrList()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &selectNode{at: t.pos, attrs: attrs}, nil
		case t.text == "topk" || t.text == "bottomk":
			p.next()
			if _, err := p.expectOp("("); err != nil {
				return nil, err
			}
			k := p.peek()
			if k.kind != tInt {
				return nil, p.unexpected("a positive integer")
			}
			p.next()
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &topkNode{at: t.pos, fn: t.text, k: k.i}, nil
		case metricsFns[t.text]:
			return p.metrics()
		}
		return nil, p.errAt(t.pos, "unexpected identifier %q, expected a spanset filter {...}, an aggregate (count, avg, min, max, sum), by(), select(), coalesce() or a metrics function", t.text)
	}
	return nil, p.unexpected("a spanset filter '{', '(' or a pipeline function")
}

func (p *parser) filter() (*filterNode, error) {
	open, err := p.expectOp("{")
	if err != nil {
		return nil, err
	}
	if p.isOp("}") {
		p.next()
		return &filterNode{at: open.pos, expr: &Static{At: open.pos, Val: Value{T: TypeBool, B: true}}}, nil
	}
	e, err := p.field(1)
	if err != nil {
		return nil, err
	}
	if !p.isOp("}") {
		return nil, p.unexpected("an operator or '}'")
	}
	p.next()
	return &filterNode{at: open.pos, expr: e}, nil
}

func (p *parser) parenField() (FieldExpr, error) {
	if _, err := p.expectOp("("); err != nil {
		return nil, err
	}
	if p.isOp(")") {
		return nil, p.unexpected("a field expression")
	}
	e, err := p.field(1)
	if err != nil {
		return nil, err
	}
	if !p.isOp(")") {
		return nil, p.unexpected("an operator or ')'")
	}
	p.next()
	return e, nil
}

func (p *parser) aggregate() (node, error) {
	t := p.next()
	if t.text == "count" {
		if _, err := p.expectOp("("); err != nil {
			return nil, err
		}
		if _, err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return &aggNode{at: t.pos, fn: "count"}, nil
	}
	e, err := p.parenField()
	if err != nil {
		return nil, err
	}
	return &aggNode{at: t.pos, fn: t.text, expr: e}, nil
}

// attribute parses an attribute, intrinsic or scoped intrinsic (select(),
// by() of metrics, metrics arguments).
func (p *parser) attribute() (*Attribute, error) {
	t := p.peek()
	e, err := p.fieldPrimary()
	if err != nil {
		return nil, err
	}
	a, ok := e.(*Attribute)
	if !ok {
		return nil, p.errAt(t.pos, "expected an attribute or intrinsic, found %s", e.String())
	}
	return a, nil
}

func (p *parser) attrList() ([]*Attribute, error) {
	var out []*Attribute
	for {
		a, err := p.attribute()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		if !p.isOp(",") {
			return out, nil
		}
		p.next()
	}
}

func (p *parser) metrics() (node, error) {
	t := p.next()
	m := &metricsNode{at: t.pos, fn: t.text}
	if _, err := p.expectOp("("); err != nil {
		return nil, err
	}
	switch t.text {
	case "rate", "count_over_time":
	case "compare":
		f, err := p.filter()
		if err != nil {
			return nil, err
		}
		m.compare = f
		for p.isOp(",") {
			p.next()
			if p.peek().kind != tInt {
				return nil, p.unexpected("an integer")
			}
			m.quantiles = append(m.quantiles, float64(p.next().i))
		}
		if n := len(m.quantiles); n != 0 && n != 1 && n != 3 {
			return nil, p.errAt(t.pos, "compare() takes a spanset filter and then 1 or 3 integers, got %d", n)
		}
	default:
		a, err := p.attribute()
		if err != nil {
			return nil, err
		}
		m.attr = a
		if t.text == "quantile_over_time" {
			if _, err := p.expectOp(","); err != nil {
				return nil, err
			}
			for {
				q := p.peek()
				switch q.kind {
				case tInt:
					m.quantiles = append(m.quantiles, float64(q.i))
				case tFloat:
					m.quantiles = append(m.quantiles, q.f)
				default:
					return nil, p.unexpected("a quantile (a number between 0 and 1)")
				}
				p.next()
				if !p.isOp(",") {
					break
				}
				p.next()
			}
		}
	}
	if _, err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if p.isIdent("by") && t.text != "compare" {
		p.next()
		if _, err := p.expectOp("("); err != nil {
			return nil, err
		}
		by, err := p.attrList()
		if err != nil {
			return nil, err
		}
		if _, err := p.expectOp(")"); err != nil {
			return nil, err
		}
		m.by = by
	}
	return m, nil
}

// hints parses with(key=value, ...).
func (p *parser) hints() (map[string]Value, error) {
	p.next() // with
	if _, err := p.expectOp("("); err != nil {
		return nil, err
	}
	h := map[string]Value{}
	for {
		k := p.peek()
		if k.kind != tIdent {
			return nil, p.unexpected("a hint name")
		}
		p.next()
		if _, err := p.expectOp("="); err != nil {
			return nil, err
		}
		v, err := p.fieldPrimary()
		if err != nil {
			return nil, err
		}
		s, ok := v.(*Static)
		if !ok {
			return nil, p.errAt(v.Pos(), "hint %s: expected a literal value", k.text)
		}
		h[k.text] = s.Val
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	if _, err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return h, nil
}

// ---- field expressions ----

func (p *parser) field(min int) (FieldExpr, error) {
	return climb(p, min, true, p.fieldUnary, func(t token, l FieldExpr, next int) (FieldExpr, error) {
		if (t.text == "=" || t.text == "!=") && p.isIdent("nil") {
			p.next()
			op := "notexists"
			if t.text == "!=" {
				op = "exists"
			}
			return &Unary{At: t.pos, Op: op, X: l}, nil
		}
		r, err := p.field(next)
		if err != nil {
			return nil, err
		}
		return &Binary{At: t.pos, Op: t.text, L: l, R: r}, nil
	})
}

func (p *parser) fieldUnary() (FieldExpr, error) {
	t := p.peek()
	if p.isOp("-", "!") {
		p.next()
		x, err := p.field(5)
		if err != nil {
			return nil, err
		}
		return &Unary{At: t.pos, Op: t.text, X: x}, nil
	}
	if p.isIdent("nil") {
		// nil = x, nil != x, nil = nil, nil != nil
		p.next()
		if !p.isOp("=", "!=") {
			return nil, p.unexpected("'=' or '!=' after nil")
		}
		op := p.next()
		if p.isIdent("nil") {
			p.next()
			return &Static{At: t.pos, Val: Value{T: TypeBool}}, nil
		}
		x, err := p.field(4)
		if err != nil {
			return nil, err
		}
		u := "notexists"
		if op.text == "!=" {
			u = "exists"
		}
		return &Unary{At: op.pos, Op: u, X: x}, nil
	}
	return p.fieldPrimary()
}

func (p *parser) fieldPrimary() (FieldExpr, error) {
	t := p.peek()
	switch t.kind {
	case tString:
		p.next()
		return &Static{At: t.pos, Val: Value{T: TypeString, S: t.str}}, nil
	case tInt:
		p.next()
		return &Static{At: t.pos, Val: Value{T: TypeInt, I: t.i}}, nil
	case tFloat:
		p.next()
		return &Static{At: t.pos, Val: Value{T: TypeFloat, F: t.f}}, nil
	case tDuration:
		p.next()
		return &Static{At: t.pos, Val: Value{T: TypeDuration, I: int64(t.d)}}, nil
	case tAttr:
		p.next()
		return &Attribute{At: t.pos, Scope: t.scope, Parent: t.parent, Name: t.text}, nil
	case tColon:
		p.next()
		n := p.peek()
		in, ok := scopedIntrinsics[t.text][n.text]
		if n.kind != tIdent || !ok {
			names := make([]string, 0, len(scopedIntrinsics[t.text]))
			for k := range scopedIntrinsics[t.text] {
				names = append(names, k)
			}
			return nil, p.errAt(n.pos, "unexpected %s after '%s:', expected one of %s", n.describe(), t.text, strings.Join(sortedStrings(names), ", "))
		}
		p.next()
		return &Attribute{At: t.pos, Intrinsic: in, spelled: t.text + ":" + n.text}, nil
	case tIdent:
		if v, ok := staticKeywords[t.text]; ok {
			p.next()
			return &Static{At: t.pos, Val: v}, nil
		}
		if in, ok := plainIntrinsics[t.text]; ok {
			p.next()
			return &Attribute{At: t.pos, Intrinsic: in, spelled: t.text}, nil
		}
		return nil, p.errAt(t.pos, "unknown identifier %q: attributes start with '.', 'span.', 'resource.', 'event.', 'link.' or 'instrumentation.' (for example .%s), strings are quoted", t.text, t.text)
	case tOp:
		if t.text == "(" {
			p.next()
			e, err := p.field(1)
			if err != nil {
				return nil, err
			}
			if !p.isOp(")") {
				return nil, p.unexpected("an operator or ')'")
			}
			p.next()
			return e, nil
		}
	}
	return nil, p.unexpected("a value, attribute or intrinsic")
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
