package traceql

import (
	"context"
	"strconv"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// Result is one trace found by a TraceQL search.
type Result struct {
	Summary  query.Summary
	Spans    []model.Span
	Spansets []Spanset
	// Selected are the attributes named in select(), to be returned with
	// the matched spans.
	Selected []*Attribute

	t *trace
}

// Value returns the value of an attribute or intrinsic for span i of the
// result; ok is false when the span does not have it.
func (r *Result) Value(i int, a *Attribute) (Value, bool) {
	if r.t == nil {
		r.t = newTrace(r.Spans)
	}
	vs := r.t.lookup(a, i, true)
	if len(vs) == 0 {
		return Value{}, false
	}
	return vs[0], true
}

// Search runs a search query on the engine: the parts of the query that
// every matching trace must satisfy on at least one span are pushed down
// as a query.Query (so blocks prune by time, min/max and token filters),
// then each candidate trace is assembled and the full query evaluated on
// it. Results are the most recent matching traces, newest first, at most
// limit; the engine stops early once no older block can contribute, and
// honours ctx (timeouts, client gone).
func (q *Query) Search(ctx context.Context, e *query.Engine, start, end time.Time, limit int) ([]Result, error) {
	if q.search != nil && necessary(q.search).never {
		return nil, nil
	}
	pq := q.Pushdown()
	pq.Start, pq.End, pq.Limit = start, end, limit
	pq.TraceMatch = q.Matches
	if err := pq.Validate(); err != nil {
		return nil, err
	}
	res, err := e.Search(ctx, pq)
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(res))
	for _, r := range res {
		sets, t := q.eval(r.Spans)
		res := Result{Summary: r.Summary, Spans: r.Spans, Spansets: sets, t: t}
		if t != nil {
			res.Selected = t.selected
		}
		out = append(out, res)
	}
	return out, nil
}

// Pushdown returns a span-level query.Query that at least one span of every
// trace matching q satisfies (a necessary condition, never a sufficient
// one). It is empty when nothing can be pushed down, e.g. for { } or
// { .a } || { .b }.
func (q *Query) Pushdown() *query.Query {
	p := query.New()
	if q.search != nil {
		if n := necessary(q.search); !n.never {
			n.apply(p)
		}
	}
	return p
}

// pred is a conjunction of span conditions.
type pred struct {
	// root: the conditions hold for the trace's root span, not for the
	// span the filter is evaluated on; such a pred cannot be merged.
	root bool
	// never: no span can satisfy the conditions (e.g. duration > 2s &&
	// duration < 1s), so the query cannot match anything.
	never          bool
	conds          []query.Cond
	service, name  string
	kind, status   int8 // -1 = any
	minDur, maxDur int64
}

func newPred() pred { return pred{kind: -1, status: -1} }

// weight ranks predicates by how much they can prune.
func (p pred) weight() int {
	if p.never {
		return 1 << 30
	}
	n := 2 * len(p.conds)
	for _, set := range []bool{p.service != "", p.name != "", p.kind >= 0, p.status >= 0, p.minDur > 0, p.maxDur > 0} {
		if set {
			n++
		}
	}
	return n
}

func (p pred) and(o pred) pred {
	if p.root || o.root {
		return better(p, o)
	}
	p.conds = append(p.conds[:len(p.conds):len(p.conds)], o.conds...)
	if p.service == "" {
		p.service = o.service
	}
	if p.name == "" {
		p.name = o.name
	}
	if p.kind < 0 {
		p.kind = o.kind
	}
	if p.status < 0 {
		p.status = o.status
	}
	p.minDur = max(p.minDur, o.minDur)
	if o.maxDur > 0 && (p.maxDur == 0 || o.maxDur < p.maxDur) {
		p.maxDur = o.maxDur
	}
	p.never = p.never || o.never || p.maxDur > 0 && p.minDur > p.maxDur
	return p
}

func (p pred) apply(q *query.Query) {
	q.Conds = p.conds
	q.Service, q.SpanName, q.Kind, q.Status = p.service, p.name, p.kind, p.status
	q.MinDuration, q.MaxDuration = time.Duration(p.minDur), time.Duration(p.maxDur)
	q.StatusLevel, q.DurationLevel = query.LevelSpan, query.LevelSpan
}

func better(a, b pred) pred {
	if b.weight() > a.weight() {
		return b
	}
	return a
}

// necessary returns a predicate some span of every trace for which e is
// non-empty satisfies.
func necessary(e sexpr) pred {
	switch e := e.(type) {
	case *filter:
		return fieldPred(e.expr)
	case *pipeline:
		// Every stage only narrows, groups or annotates the spans of the
		// trace, so each stage's output must be non-empty.
		best := newPred()
		for _, s := range e.stages {
			best = better(best, necessary(s))
		}
		return best
	case *spansetOp:
		switch {
		case e.op == "||":
			return newPred()
		case e.op[0] == '!':
			return necessary(e.r) // only the right side must match something
		}
		return better(necessary(e.l), necessary(e.r))
	}
	return newPred()
}

var flipped = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!=", "=~": "=~", "!~": "!~"}

var scopeMap = map[Scope]query.Scope{
	ScopeNone: query.ScopeAny, ScopeSpan: query.ScopeSpan, ScopeResource: query.ScopeResource,
	ScopeEvent: query.ScopeEvent, ScopeLink: query.ScopeLink, ScopeInstrumentation: query.ScopeInstrumentation,
}

// fieldPred extracts the span conditions a filter expression implies.
func fieldPred(e FieldExpr) pred {
	p := newPred()
	switch e := e.(type) {
	case *Binary:
		if e.Op == "&&" {
			return fieldPred(e.L).and(fieldPred(e.R))
		}
		a, aok := e.L.(*Attribute)
		s, sok := e.R.(*Static)
		op := e.Op
		if !aok || !sok {
			if a, aok = e.R.(*Attribute); aok {
				s, sok = e.L.(*Static)
				op = flipped[op]
			}
		}
		if !aok || !sok || a.Parent || op == "" {
			return p
		}
		return attrPred(a, op, s.Val)
	case *Unary:
		if a, ok := e.X.(*Attribute); ok && e.Op == "exists" && a.Intrinsic == INone && !a.Parent {
			p.conds = append(p.conds, query.Cond{Scope: scopeMap[a.Scope], Key: a.Name, Op: query.OpRe, Value: ".*"})
		}
	}
	return p
}

func attrPred(a *Attribute, op string, v Value) pred {
	p := newPred()
	switch a.Intrinsic {
	case INone:
	case IName:
		if op == "=" && v.T == TypeString {
			p.name = v.S
		}
		return p
	case IRootName, IRootService:
		// the root span (or, while it is missing, the earliest span) has
		// the root name and service
		if op == "=" && v.T == TypeString {
			p.root = true
			if a.Intrinsic == IRootName {
				p.name = v.S
			} else {
				p.service = v.S
			}
		}
		return p
	case IStatus:
		if op == "=" && v.T == TypeStatus {
			p.status = int8(v.I)
		}
		return p
	case IKind:
		if op == "=" && v.T == TypeKind {
			p.kind = int8(v.I)
		}
		return p
	case IDuration:
		if v.T != TypeInt && v.T != TypeDuration {
			return p
		}
		switch op {
		case ">":
			p.minDur = v.I + 1
		case ">=":
			p.minDur = v.I
		case "<":
			p.maxDur = v.I - 1
		case "<=":
			p.maxDur = v.I
		case "=":
			p.minDur, p.maxDur = v.I, v.I
		}
		if p.minDur < 0 || p.maxDur < 0 {
			p.minDur, p.maxDur = 0, 0
		}
		return p
	default:
		return p
	}
	if a.Scope == ScopeResource && a.Name == "service.name" && op == "=" && v.T == TypeString {
		p.service = v.S
		return p
	}
	qop, ok := query.ParseOp(op)
	if !ok {
		return p
	}
	var val string
	switch v.T {
	case TypeString:
		val = v.S
	case TypeInt:
		val = strconv.FormatInt(v.I, 10)
	case TypeFloat:
		val = strconv.FormatFloat(v.F, 'g', -1, 64)
	case TypeBool:
		val = strconv.FormatBool(v.B)
	default:
		return p
	}
	if v.T != TypeString && (qop == query.OpRe || qop == query.OpNotRe) {
		return p
	}
	p.conds = append(p.conds, query.Cond{Scope: scopeMap[a.Scope], Key: a.Name, Op: qop, Value: val})
	return p
}
