package traceql

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Spanset is a set of spans of one trace produced by a query, with the
// values of the attributes named in select() and by().
type Spanset struct {
	Spans []int // indices into the trace's spans, ascending
	// Attrs are the by() values and the aggregate values that filtered the
	// spanset (e.g. "count()"), in the order they were computed.
	Attrs []NamedValue
}

// NamedValue is a labelled value attached to a spanset.
type NamedValue struct {
	Name  string
	Value Value
}

// sexpr is a compiled spanset expression or pipeline stage.
type sexpr interface {
	eval(t *trace, in []Spanset) []Spanset
}

type (
	pipeline  struct{ stages []sexpr }
	filter    struct{ expr FieldExpr }
	spansetOp struct {
		op   string
		l, r sexpr
	}
	scalarFilter struct {
		fn   string
		expr FieldExpr // nil for count
		op   string
		val  Value
	}
	groupBy    struct{ expr FieldExpr }
	selectOp   struct{ attrs []*Attribute }
	coalesceOp struct{}
)

// trace is one trace prepared for evaluation.
type trace struct {
	spans    []model.Span
	parent   []int // index of the parent span, -1 if none or missing
	children [][]int
	nested   [][3]int64 // nestedSetLeft, Right, Parent; computed on demand
	root     int
	start    int64
	end      int64
	selected []*Attribute
}

func newTrace(spans []model.Span) *trace {
	t := &trace{spans: spans, root: -1}
	t.start, t.end = math.MaxInt64, math.MinInt64
	earliest := 0
	for i := range spans {
		s := &spans[i]
		if s.ParentID.IsZero() && (t.root < 0 || s.Start < spans[t.root].Start) {
			t.root = i
		}
		if s.Start < spans[earliest].Start {
			earliest = i
		}
		t.start, t.end = min(t.start, s.Start), max(t.end, s.End)
	}
	if t.root < 0 && len(spans) > 0 {
		t.root = earliest
	}
	return t
}

// link computes parent and children indices (on first use: filters that
// do not look at the tree never need them).
func (t *trace) link() {
	if t.parent != nil {
		return
	}
	spans := t.spans
	t.parent, t.children = make([]int, len(spans)), make([][]int, len(spans))
	byID := make(map[model.SpanID]int, len(spans))
	for i := range spans {
		byID[spans[i].SpanID] = i
	}
	for i := range spans {
		t.parent[i] = -1
		if p, ok := byID[spans[i].ParentID]; ok && p != i && !spans[i].ParentID.IsZero() {
			t.parent[i] = p
			t.children[p] = append(t.children[p], i)
		}
	}
}

// Eval evaluates a search query on the spans of one trace and returns the
// resulting spansets; the trace matches when at least one is returned.
// It also returns the attributes named in select().
func (q *Query) Eval(spans []model.Span) ([]Spanset, []*Attribute) {
	out, t := q.eval(spans)
	if t == nil {
		return nil, nil
	}
	return out, t.selected
}

func (q *Query) eval(spans []model.Span) ([]Spanset, *trace) {
	if q.search == nil || len(spans) == 0 {
		return nil, nil
	}
	t := newTrace(spans)
	all := make([]int, len(spans))
	for i := range all {
		all[i] = i
	}
	return q.search.eval(t, []Spanset{{Spans: all}}), t
}

// Matches reports whether the trace matches the search query.
func (q *Query) Matches(spans []model.Span) bool {
	out, _ := q.Eval(spans)
	return len(out) > 0
}

func (p *pipeline) eval(t *trace, in []Spanset) []Spanset {
	for _, s := range p.stages {
		in = s.eval(t, in)
		if len(in) == 0 {
			return nil
		}
	}
	return in
}

func (f *filter) eval(t *trace, in []Spanset) []Spanset {
	var out []Spanset
	for _, ss := range in {
		var keep []int
		for _, i := range ss.Spans {
			if truthy(evalField(f.expr, t, i)) {
				keep = append(keep, i)
			}
		}
		if len(keep) > 0 {
			out = append(out, Spanset{Spans: keep, Attrs: ss.Attrs})
		}
	}
	return out
}

func truthy(v Value) bool { return v.T == TypeBool && v.B }

func (g *groupBy) eval(t *trace, in []Spanset) []Spanset {
	var out []Spanset
	name := "by(" + g.expr.String() + ")"
	for _, ss := range in {
		var keys []Value
		groups := map[Value][]int{}
		for _, i := range ss.Spans {
			v := evalField(g.expr, t, i)
			if _, ok := groups[v]; !ok {
				keys = append(keys, v)
			}
			groups[v] = append(groups[v], i)
		}
		for _, k := range keys {
			attrs := append(slices.Clip(ss.Attrs), NamedValue{name, k})
			out = append(out, Spanset{Spans: groups[k], Attrs: attrs})
		}
	}
	return out
}

func (coalesceOp) eval(t *trace, in []Spanset) []Spanset {
	var all []int
	for _, ss := range in {
		all = append(all, ss.Spans...)
	}
	if len(all) == 0 {
		return nil
	}
	return []Spanset{{Spans: sortedUnique(all)}}
}

func (s *selectOp) eval(t *trace, in []Spanset) []Spanset {
	for _, a := range s.attrs {
		if !slices.ContainsFunc(t.selected, func(b *Attribute) bool { return b.String() == a.String() }) {
			t.selected = append(t.selected, a)
		}
	}
	return in
}

func (f *scalarFilter) eval(t *trace, in []Spanset) []Spanset {
	var out []Spanset
	for _, ss := range in {
		v, ok := aggregate(f.fn, f.expr, t, ss.Spans)
		if !ok || !compare(f.op, v, f.val) {
			continue
		}
		name := f.fn + "()"
		if f.expr != nil {
			name = f.fn + "(" + f.expr.String() + ")"
		}
		out = append(out, Spanset{Spans: ss.Spans, Attrs: append(slices.Clip(ss.Attrs), NamedValue{name, v})})
	}
	return out
}

// aggregate computes count/avg/min/max/sum over spans. Spans where expr is
// not a number are skipped; ok is false when none is left (except count).
func aggregate(fn string, expr FieldExpr, t *trace, spans []int) (Value, bool) {
	if fn == "count" {
		return Value{T: TypeInt, I: int64(len(spans))}, true
	}
	var sum, lo, hi float64
	n := 0
	typ := TypeFloat
	for _, i := range spans {
		v := evalField(expr, t, i)
		if !v.T.numeric() {
			continue
		}
		if v.T == TypeDuration {
			typ = TypeDuration
		}
		f := v.num()
		if n == 0 {
			lo, hi = f, f
		}
		sum, lo, hi = sum+f, min(lo, f), max(hi, f)
		n++
	}
	if n == 0 {
		return Value{}, false
	}
	var r float64
	switch fn {
	case "avg":
		r = sum / float64(n)
	case "min":
		r = lo
	case "max":
		r = hi
	case "sum":
		r = sum
	}
	if typ == TypeDuration {
		return Value{T: TypeDuration, I: int64(r)}, true
	}
	return Value{T: TypeFloat, F: r}, true
}

func (o *spansetOp) eval(t *trace, in []Spanset) []Spanset {
	var out []Spanset
	for _, ss := range in {
		l := flatten(o.l.eval(t, []Spanset{ss}))
		var r []int
		if o.op != "&&" || len(l) > 0 { // && needs both sides
			r = flatten(o.r.eval(t, []Spanset{ss}))
		}
		if res := t.combine(o.op, l, r); len(res) > 0 {
			out = append(out, Spanset{Spans: res, Attrs: ss.Attrs})
		}
	}
	return out
}

func flatten(ss []Spanset) []int {
	if len(ss) == 1 {
		return ss[0].Spans
	}
	var all []int
	for _, s := range ss {
		all = append(all, s.Spans...)
	}
	return sortedUnique(all)
}

func sortedUnique(s []int) []int {
	slices.Sort(s)
	return slices.Compact(s)
}

// combine applies a spanset operator to the spans matched by each side.
// Every structural operator runs in time linear in the trace's size, so a
// deep or wide trace cannot make a query quadratic.
func (t *trace) combine(op string, l, r []int) []int {
	switch op {
	case "&&":
		if len(l) == 0 || len(r) == 0 {
			return nil
		}
		return sortedUnique(append(slices.Clone(l), r...))
	case "||":
		return sortedUnique(append(slices.Clone(l), r...))
	}
	neg, union := op[0] == '!', op[0] == '&'
	rel := strings.TrimLeft(op, "!&")
	if len(r) == 0 || len(l) == 0 && !neg {
		return nil
	}
	t.link()
	n := len(t.spans)
	inL := make([]bool, n)
	for _, i := range l {
		inL[i] = true
	}
	// has[b]: b stands in the relation to some span of l.
	var has func(b int) bool
	switch rel {
	case ">": // b is a child of an l span
		has = func(b int) bool { p := t.parent[b]; return p >= 0 && inL[p] }
	case "<": // b is the parent of an l span
		has = func(b int) bool { return slices.ContainsFunc(t.children[b], func(c int) bool { return inL[c] }) }
	case ">>": // b is a descendant of an l span
		anc := t.below(inL)
		has = func(b int) bool { return anc[b] }
	case "<<": // b is an ancestor of an l span
		desc := t.above(inL)
		has = func(b int) bool { return desc[b] }
	case "~": // b has a sibling (same parent, another span) in l
		cnt := t.childCounts(inL)
		has = func(b int) bool {
			p := t.parent[b]
			return p >= 0 && cnt[p] > btoi(inL[b])
		}
	}
	var out []int
	for _, b := range r {
		if has(b) != neg {
			out = append(out, b)
		}
	}
	if !union || len(out) == 0 {
		return out
	}
	// union forms also return the l spans that take part: the relation
	// seen from the other side, towards the matched right-hand spans.
	inOut := make([]bool, n)
	for _, b := range out {
		inOut[b] = true
	}
	var part func(a int) bool
	switch rel {
	case ">": // a is the parent of a matched span
		part = func(a int) bool { return slices.ContainsFunc(t.children[a], func(c int) bool { return inOut[c] }) }
	case "<": // a is a child of a matched span
		part = func(a int) bool { p := t.parent[a]; return p >= 0 && inOut[p] }
	case ">>": // a is an ancestor of a matched span
		desc := t.above(inOut)
		part = func(a int) bool { return desc[a] }
	case "<<": // a is a descendant of a matched span
		anc := t.below(inOut)
		part = func(a int) bool { return anc[a] }
	case "~":
		cnt := t.childCounts(inOut)
		part = func(a int) bool {
			p := t.parent[a]
			return p >= 0 && cnt[p] > btoi(inOut[a])
		}
	}
	for _, a := range l {
		if part(a) {
			out = append(out, a)
		}
	}
	return sortedUnique(out)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// below marks the spans that have an ancestor in set.
func (t *trace) below(set []bool) []bool {
	const unknown, yes, no = 0, 1, 2
	state := make([]uint8, len(t.spans))
	var path []int
	for i := range t.spans {
		// walk up until the answer is known, then fill it in on the way back
		path = path[:0]
		j, ans := i, uint8(no)
		for steps := 0; ; steps++ {
			if state[j] != unknown {
				ans = state[j]
				break
			}
			p := t.parent[j]
			if p < 0 || steps > len(t.spans) {
				ans = no
				path = append(path, j)
				break
			}
			path = append(path, j)
			if set[p] {
				ans = yes
				break
			}
			j = p
		}
		for _, k := range path {
			state[k] = ans
		}
	}
	out := make([]bool, len(t.spans))
	for i, s := range state {
		out[i] = s == yes
	}
	return out
}

// above marks the spans that have a descendant in set.
func (t *trace) above(set []bool) []bool {
	out := make([]bool, len(t.spans))
	for i, in := range set {
		if !in {
			continue
		}
		for p, steps := t.parent[i], 0; p >= 0 && !out[p] && steps <= len(t.spans); p, steps = t.parent[p], steps+1 {
			out[p] = true
		}
	}
	return out
}

// childCounts counts, per span, its children in set.
func (t *trace) childCounts(set []bool) []int {
	cnt := make([]int, len(t.spans))
	for i, in := range set {
		if in && t.parent[i] >= 0 {
			cnt[t.parent[i]]++
		}
	}
	return cnt
}

// ---- field expressions ----

func evalField(e FieldExpr, t *trace, i int) Value {
	switch e := e.(type) {
	case *Static:
		return e.Val
	case *Attribute:
		if v, ok := t.single(e, i); ok {
			return v
		}
		vs := t.lookup(e, i, true)
		if len(vs) == 0 {
			return Value{T: TypeNil}
		}
		return vs[0]
	case *Unary:
		switch e.Op {
		case "exists", "notexists":
			var ok bool
			if a, isAttr := e.X.(*Attribute); isAttr {
				ok = len(t.lookup(a, i, true)) > 0
			} else {
				ok = evalField(e.X, t, i).T != TypeNil
			}
			return Value{T: TypeBool, B: ok == (e.Op == "exists")}
		case "!":
			v := evalField(e.X, t, i)
			if v.T != TypeBool {
				return Value{T: TypeNil}
			}
			return Value{T: TypeBool, B: !v.B}
		case "-":
			v := evalField(e.X, t, i)
			if !v.T.numeric() {
				return Value{T: TypeNil}
			}
			return negate(v)
		}
	case *Binary:
		switch e.Op {
		case "&&":
			return Value{T: TypeBool, B: truthy(evalField(e.L, t, i)) && truthy(evalField(e.R, t, i))}
		case "||":
			return Value{T: TypeBool, B: truthy(evalField(e.L, t, i)) || truthy(evalField(e.R, t, i))}
		case "+", "-", "*", "/", "%", "^":
			return arith(e.Op, evalField(e.L, t, i), evalField(e.R, t, i))
		}
		if !isMulti(e.L) && !isMulti(e.R) {
			return Value{T: TypeBool, B: e.holds(evalField(e.L, t, i), evalField(e.R, t, i))}
		}
		// attributes of events and links have several values; the
		// comparison holds if it holds for any of them.
		for _, l := range t.values(e.L, i) {
			for _, r := range t.values(e.R, i) {
				if e.holds(l, r) {
					return Value{T: TypeBool, B: true}
				}
			}
		}
		return Value{T: TypeBool}
	}
	return Value{T: TypeNil}
}

// values returns every value of e for span i (several for event and link
// attributes).
func (t *trace) values(e FieldExpr, i int) []Value {
	if a, ok := e.(*Attribute); ok && multiValued(a) {
		return t.lookup(a, i, false)
	}
	return []Value{evalField(e, t, i)}
}

func isMulti(e FieldExpr) bool {
	a, ok := e.(*Attribute)
	return ok && multiValued(a)
}

// holds applies the comparison or regular expression of b.
func (b *Binary) holds(l, r Value) bool {
	if b.re != nil {
		return l.T == TypeString && b.re.MatchString(l.S) == (b.Op == "=~")
	}
	return compare(b.Op, l, r)
}

// multiValued reports whether a span can have several values of a: event
// and link attributes and intrinsics.
func multiValued(a *Attribute) bool {
	switch a.Intrinsic {
	case IEventName, IEventTimeSinceStart, ILinkTraceID, ILinkSpanID:
		return true
	case INone:
		return a.Scope == ScopeEvent || a.Scope == ScopeLink
	}
	return false
}

// single looks up span and resource attributes and the common intrinsics
// without allocating; ok is false when a needs the general lookup.
func (t *trace) single(a *Attribute, i int) (Value, bool) {
	s := &t.spans[i]
	find := func(attrs []model.Attr) (Value, bool) {
		for j := range attrs {
			if attrs[j].Key == a.Name {
				return attrValue(&attrs[j]), true
			}
		}
		return Value{T: TypeNil}, false
	}
	switch a.Intrinsic {
	case INone:
	case IDuration:
		return Value{T: TypeDuration, I: s.Duration()}, true
	case IName:
		return Value{T: TypeString, S: s.Name}, true
	case IStatus:
		return Value{T: TypeStatus, I: int64(s.StatusCode)}, true
	case IKind:
		return Value{T: TypeKind, I: int64(s.Kind)}, true
	default:
		return Value{}, false
	}
	switch a.Scope {
	case ScopeSpan:
		v, _ := find(s.Attrs)
		return v, true
	case ScopeResource:
		if s.Resource == nil {
			return Value{T: TypeNil}, true
		}
		v, _ := find(s.Resource.Attrs)
		return v, true
	case ScopeNone:
		if v, ok := find(s.Attrs); ok || s.Resource == nil {
			return v, true
		}
		v, _ := find(s.Resource.Attrs)
		return v, true
	}
	return Value{}, false
}

// compare applies a comparison operator; values of different types (and
// missing values) never compare.
func compare(op string, l, r Value) bool {
	var c int
	switch {
	case l.T.numeric() && r.T.numeric():
		if l.T != TypeFloat && r.T != TypeFloat {
			c = cmp.Compare(l.I, r.I)
		} else {
			c = cmp.Compare(l.num(), r.num())
		}
	case l.T != r.T || l.T == TypeNil:
		return false
	case l.T == TypeString:
		c = strings.Compare(l.S, r.S)
	case l.T == TypeBool, l.T == TypeStatus, l.T == TypeKind:
		eq := l == r
		switch op {
		case "=":
			return eq
		case "!=":
			return !eq
		}
		return false
	default:
		return false
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// arith applies an arithmetic operator to two numbers. Integers stay
// integers (division truncates), a float operand makes a float, a duration
// operand (without floats) a duration. The result is nil for non-numbers
// and division by zero.
func arith(op string, l, r Value) Value {
	if !l.T.numeric() || !r.T.numeric() {
		return Value{T: TypeNil}
	}
	if op == "^" {
		f := math.Pow(l.num(), r.num())
		if l.T != TypeFloat && r.T != TypeFloat && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return Value{T: resultType(l, r), I: int64(f)}
		}
		return Value{T: TypeFloat, F: f}
	}
	if l.T == TypeFloat || r.T == TypeFloat {
		f, ok := arith2(op, l.num(), r.num(), math.Mod)
		if !ok {
			return Value{T: TypeNil}
		}
		return Value{T: TypeFloat, F: f}
	}
	v, ok := arith2(op, l.I, r.I, func(a, b int64) int64 { return a % b })
	if !ok {
		return Value{T: TypeNil}
	}
	return Value{T: resultType(l, r), I: v}
}

// arith2 applies + - * / % to two numbers of one type; ok is false for a
// division by zero.
func arith2[T int64 | float64](op string, a, b T, mod func(a, b T) T) (T, bool) {
	switch op {
	case "+":
		return a + b, true
	case "-":
		return a - b, true
	case "*":
		return a * b, true
	case "/":
		if b == 0 {
			return 0, false
		}
		return a / b, true
	case "%":
		if b == 0 {
			return 0, false
		}
		return mod(a, b), true
	}
	return 0, false
}

func resultType(l, r Value) Type {
	if l.T == TypeDuration || r.T == TypeDuration {
		return TypeDuration
	}
	return TypeInt
}

func attrValue(a *model.Attr) Value {
	switch a.Type {
	case model.TypeStr:
		return Value{T: TypeString, S: a.Str}
	case model.TypeBytes, model.TypeArray, model.TypeMap:
		// base64 and JSON, as the native search compares them
		return Value{T: TypeString, S: a.String()}
	case model.TypeBool:
		return Value{T: TypeBool, B: a.Num != 0}
	case model.TypeInt:
		return Value{T: TypeInt, I: int64(a.Num)}
	case model.TypeDouble:
		return Value{T: TypeFloat, F: math.Float64frombits(a.Num)}
	}
	return Value{T: TypeNil}
}

func findAttr(attrs []model.Attr, key string, out []Value) []Value {
	for i := range attrs {
		if attrs[i].Key == key {
			return append(out, attrValue(&attrs[i]))
		}
	}
	return out
}

// lookup returns the values of an attribute or intrinsic for span i. With
// first set it stops at the first value.
func (t *trace) lookup(a *Attribute, i int, first bool) []Value {
	s := &t.spans[i]
	if a.Intrinsic != INone {
		return t.intrinsic(a.Intrinsic, i)
	}
	var out []Value
	switch a.Scope {
	case ScopeNone:
		out = findAttr(s.Attrs, a.Name, nil)
		if len(out) == 0 && s.Resource != nil {
			out = findAttr(s.Resource.Attrs, a.Name, nil)
		}
	case ScopeSpan:
		out = findAttr(s.Attrs, a.Name, nil)
	case ScopeResource:
		if s.Resource != nil {
			out = findAttr(s.Resource.Attrs, a.Name, nil)
		}
	case ScopeInstrumentation:
		if s.Scope != nil {
			out = findAttr(s.Scope.Attrs, a.Name, nil)
		}
	case ScopeEvent:
		for j := range s.Events {
			if out = findAttr(s.Events[j].Attrs, a.Name, out); first && len(out) > 0 {
				break
			}
		}
	case ScopeLink:
		for j := range s.Links {
			if out = findAttr(s.Links[j].Attrs, a.Name, out); first && len(out) > 0 {
				break
			}
		}
	}
	return out
}

func str(s string) []Value { return []Value{{T: TypeString, S: s}} }

func (t *trace) intrinsic(in Intrinsic, i int) []Value {
	s := &t.spans[i]
	switch in {
	case IDuration:
		return []Value{{T: TypeDuration, I: s.Duration()}}
	case IName:
		return str(s.Name)
	case IStatus:
		return []Value{{T: TypeStatus, I: int64(s.StatusCode)}}
	case IStatusMessage:
		return str(s.StatusMessage)
	case IKind:
		return []Value{{T: TypeKind, I: int64(s.Kind)}}
	case IChildCount:
		t.link()
		return []Value{{T: TypeInt, I: int64(len(t.children[i]))}}
	case ISpanID:
		return str(s.SpanID.String())
	case IParentID:
		if s.ParentID.IsZero() {
			return nil
		}
		return str(s.ParentID.String())
	case ITraceID:
		return str(s.TraceID.String())
	case ITraceDuration:
		return []Value{{T: TypeDuration, I: t.end - t.start}}
	case IRootName:
		return str(t.spans[t.root].Name)
	case IRootService:
		return str(t.spans[t.root].Service())
	case INestedSetLeft, INestedSetRight, INestedSetParent:
		t.computeNested()
		return []Value{{T: TypeInt, I: t.nested[i][in-INestedSetLeft]}}
	case IEventName, IEventTimeSinceStart:
		out := make([]Value, 0, len(s.Events))
		for _, e := range s.Events {
			if in == IEventName {
				out = append(out, Value{T: TypeString, S: e.Name})
			} else {
				out = append(out, Value{T: TypeDuration, I: e.Time - s.Start})
			}
		}
		return out
	case ILinkTraceID, ILinkSpanID:
		out := make([]Value, 0, len(s.Links))
		for _, l := range s.Links {
			if in == ILinkTraceID {
				out = append(out, Value{T: TypeString, S: l.TraceID.String()})
			} else {
				out = append(out, Value{T: TypeString, S: l.SpanID.String()})
			}
		}
		return out
	case IInstrumentationName:
		if s.Scope == nil {
			return nil
		}
		return str(s.Scope.Name)
	case IInstrumentationVersion:
		if s.Scope == nil {
			return nil
		}
		return str(s.Scope.Version)
	}
	return nil
}

// computeNested numbers the spans in a depth-first walk from the roots
// (children in start order): left on entry, right on exit, starting at 1;
// nestedSetParent is the parent's left number, -1 for roots.
func (t *trace) computeNested() {
	if t.nested != nil {
		return
	}
	t.link()
	t.nested = make([][3]int64, len(t.spans))
	byStart := func(a, b int) int { return cmp.Compare(t.spans[a].Start, t.spans[b].Start) }
	var roots []int
	for i := range t.spans {
		slices.SortFunc(t.children[i], byStart)
		if t.parent[i] < 0 {
			roots = append(roots, i)
		}
	}
	slices.SortFunc(roots, byStart)
	n := int64(1)
	type frame struct{ span, next int }
	for _, r := range roots {
		t.nested[r] = [3]int64{n, 0, -1}
		n++
		stack := []frame{{r, 0}}
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next < len(t.children[f.span]) {
				c := t.children[f.span][f.next]
				f.next++
				t.nested[c] = [3]int64{n, 0, t.nested[f.span][0]}
				n++
				stack = append(stack, frame{c, 0})
				continue
			}
			t.nested[f.span][1] = n
			n++
			stack = stack[:len(stack)-1]
		}
	}
}
