package traceql

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"

	"github.com/ariadne-tracing/ariadne/internal/query"
)

// Query is a parsed and validated TraceQL query.
type Query struct {
	Src string
	// search is the spanset expression of a search query; nil for metrics
	// queries.
	search sexpr
	// Metrics is set for metrics queries (rate(), count_over_time(), ...).
	metrics *metricsQuery
	Hints   map[string]Value
}

// IsMetrics reports whether q is a metrics query.
func (q *Query) IsMetrics() bool { return q.metrics != nil }

// Parse parses and validates a TraceQL query. Errors are *Error values with
// the position of the problem; Error.Unsupported marks valid TraceQL that
// Ariadne does not support.
func Parse(src string) (*Query, error) {
	const maxLen = 64 << 10
	if len(src) > maxLen {
		return nil, newError(src, maxLen, false, "query longer than %d bytes", maxLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	if p.peek().kind == tEOF {
		return nil, p.errAt(0, "empty query: expected a spanset filter such as { } or { .http.status_code = 500 }")
	}
	n, err := p.outer(1)
	if err != nil {
		return nil, err
	}
	q := &Query{Src: src}
	if p.isIdent("with") {
		if q.Hints, err = p.hints(); err != nil {
			return nil, err
		}
	}
	if p.peek().kind != tEOF {
		return nil, p.unexpected("end of query")
	}
	c := &checker{src: src}
	if err := c.root(q, n); err != nil {
		return nil, err
	}
	return q, nil
}

type checker struct{ src string }

func (c *checker) errAt(off int, format string, args ...any) *Error {
	return newError(c.src, off, false, format, args...)
}

func (c *checker) unsupported(off int, format string, args ...any) *Error {
	return newError(c.src, off, true, format+" is not supported", args...)
}

// pipes flattens a chain of | into its stages.
func pipes(n node) []node {
	if b, ok := n.(*binNode); ok && b.op == "|" {
		return append(pipes(b.l), b.r)
	}
	return []node{n}
}

func unparen(n node) node {
	for {
		p, ok := n.(*parenNode)
		if !ok {
			return n
		}
		n = p.inner
	}
}

var spansetOps = map[string]bool{
	"&&": true, "||": true, ">": true, "<": true, ">>": true, "<<": true, "~": true,
	"!>": true, "!<": true, "!>>": true, "!<<": true, "!~": true,
	"&>": true, "&<": true, "&>>": true, "&<<": true, "&~": true,
}

var arithOps = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true, "^": true}

// isMetricsStage reports whether n is a metrics function, possibly followed
// by comparisons (rate() > 10).
func isMetricsStage(n node) bool {
	switch n := n.(type) {
	case *metricsNode:
		return true
	case *binNode:
		return isCmpOp(n.op) && isMetricsStage(n.l)
	}
	return false
}

// containsMetrics reports whether n contains a metrics function anywhere.
func containsMetrics(n node) bool {
	switch n := n.(type) {
	case *metricsNode:
		return true
	case *binNode:
		return containsMetrics(n.l) || containsMetrics(n.r)
	case *parenNode:
		return containsMetrics(n.inner)
	case *negNode:
		return containsMetrics(n.x)
	}
	return false
}

func (c *checker) root(q *Query, n node) error {
	stages := pipes(n)
	if containsMetrics(n) {
		m, err := c.metricsRoot(stages)
		if err != nil {
			return err
		}
		q.metrics = m
		return nil
	}
	if len(stages) == 1 {
		s := stages[0]
		if b, ok := s.(*binNode); ok && isCmpOp(b.op) && c.isScalarPipelineExpr(b.l) {
			return c.scalarPipelineFilter(b)
		}
		if c.hasWrappedPipeline(s) {
			e, err := c.pipelineExpr(s)
			if err != nil {
				return err
			}
			q.search = e
			return nil
		}
	}
	p, err := c.pipeline(stages)
	if err != nil {
		return err
	}
	q.search = p
	return nil
}

// hasWrappedPipeline reports whether n is a spanset operation over (or a
// parenthesized) pipeline: ({ a } | count() > 1) && ({ b }).
func (c *checker) hasWrappedPipeline(n node) bool {
	switch n := n.(type) {
	case *parenNode:
		in := unparen(n)
		if b, ok := in.(*binNode); ok && b.op == "|" {
			return true
		}
		return c.hasWrappedPipeline(in)
	case *binNode:
		return spansetOps[n.op] && (c.hasWrappedPipeline(n.l) || c.hasWrappedPipeline(n.r))
	}
	return false
}

// pipelineExpr checks a spanset operation whose operands are parenthesized
// pipelines.
func (c *checker) pipelineExpr(n node) (sexpr, error) {
	switch n := n.(type) {
	case *parenNode:
		in := unparen(n)
		if b, ok := in.(*binNode); ok && spansetOps[b.op] {
			return c.pipelineExpr(in)
		}
		stages := pipes(in)
		if last := stages[len(stages)-1]; len(stages) > 1 {
			if _, ok := last.(*aggNode); ok {
				return nil, c.errAt(n.at, "a pipeline ending in an aggregate is a number and cannot be combined with spanset operators; compare it, e.g. count() > 2")
			}
		}
		return c.pipeline(stages)
	case *binNode:
		if !spansetOps[n.op] {
			return nil, c.errAt(n.at, "operator %s cannot combine spansets; use &&, ||, or a structural operator (>, >>, <, <<, ~ and their ! and & forms)", n.op)
		}
		l, err := c.pipelineExpr(n.l)
		if err != nil {
			return nil, err
		}
		r, err := c.pipelineExpr(n.r)
		if err != nil {
			return nil, err
		}
		return &spansetOp{op: n.op, l: l, r: r}, nil
	case *filterNode:
		return c.spansetExpr(n)
	}
	return nil, c.errAt(n.pos(), "expected a spanset filter or a parenthesized pipeline")
}

func (c *checker) pipeline(stages []node) (*pipeline, error) {
	p := &pipeline{}
	for i, s := range stages {
		st, err := c.stage(s, i == 0)
		if err != nil {
			return nil, err
		}
		p.stages = append(p.stages, st)
	}
	return p, nil
}

func (c *checker) stage(n node, first bool) (sexpr, error) {
	switch n := n.(type) {
	case *filterNode, *parenNode:
		return c.spansetExpr(n)
	case *binNode:
		if isCmpOp(n.op) && (isScalarish(n.l) || isScalarish(n.r)) {
			return c.scalarFilter(n)
		}
		if spansetOps[n.op] {
			return c.spansetExpr(n)
		}
		if isCmpOp(n.op) {
			return c.scalarFilter(n)
		}
		if arithOps[n.op] {
			return nil, c.errAt(n.at, "a pipeline stage must be a comparison, e.g. avg(duration) %s 1 > 2", n.op)
		}
		return nil, c.errAt(n.at, "operator %s is not allowed here", n.op)
	case *byNode:
		if err := c.validateField(n.expr); err != nil {
			return nil, err
		}
		if !n.expr.refsSpan() {
			return nil, c.errAt(n.at, "by() must reference the span: %s", n.expr)
		}
		return &groupBy{expr: n.expr}, nil
	case *selectNode:
		for _, a := range n.attrs {
			if err := c.validateField(a); err != nil {
				return nil, err
			}
		}
		return &selectOp{attrs: n.attrs}, nil
	case *coalesceNode:
		if first {
			return nil, c.errAt(n.at, "a pipeline cannot start with coalesce()")
		}
		return coalesceOp{}, nil
	case *aggNode:
		return nil, c.errAt(n.at, "%s() must be compared with a value, e.g. %s() > 2", n.fn, n.fn)
	case *topkNode:
		return nil, c.errAt(n.at, "%s() must follow a metrics function such as rate()", n.fn)
	case *numNode, *negNode:
		return nil, c.errAt(n.pos(), "a number alone is not a pipeline stage; expected a spanset filter { ... }")
	}
	return nil, c.errAt(n.pos(), "unexpected pipeline stage")
}

// spansetExpr checks a spanset expression made of filters only.
func (c *checker) spansetExpr(n node) (sexpr, error) {
	switch n := n.(type) {
	case *filterNode:
		if err := c.validateField(n.expr); err != nil {
			return nil, err
		}
		if t := n.expr.typ(); t != TypeBool && t != TypeAttribute {
			return nil, c.errAt(n.expr.Pos(), "span filter expressions must resolve to a boolean, %s is a %s", n.expr, t)
		}
		return &filter{expr: n.expr}, nil
	case *parenNode:
		in := unparen(n)
		if b, ok := in.(*binNode); ok && b.op == "|" {
			return nil, c.errAt(n.at, "a parenthesized pipeline can only be combined with other parenthesized pipelines by spanset operators")
		}
		return c.spansetExpr(in)
	case *binNode:
		if !spansetOps[n.op] {
			return nil, c.errAt(n.at, "operator %s cannot combine spansets; use &&, ||, or a structural operator (>, >>, <, <<, ~ and their ! and & forms)", n.op)
		}
		l, err := c.spansetExpr(n.l)
		if err != nil {
			return nil, err
		}
		r, err := c.spansetExpr(n.r)
		if err != nil {
			return nil, err
		}
		return &spansetOp{op: n.op, l: l, r: r}, nil
	}
	return nil, c.errAt(n.pos(), "expected a spanset filter { ... }")
}

// ---- scalar filters ----

// isScalarish reports whether n is an aggregate, a number or arithmetic:
// it decides whether > and < compare scalars or relate spansets.
func isScalarish(n node) bool {
	switch n := n.(type) {
	case *aggNode, *numNode, *negNode:
		return true
	case *parenNode:
		return isScalarish(n.inner)
	case *binNode:
		return arithOps[n.op]
	}
	return false
}

// scalarSide checks one side of a scalar filter inside a pipeline:
// arithmetic over aggregates and numbers.
func (c *checker) scalarSide(n node) (hasAgg bool, err error) {
	switch n := n.(type) {
	case *aggNode:
		return true, nil
	case *numNode:
		return false, nil
	case *negNode:
		return c.scalarSide(n.x)
	case *parenNode:
		return c.scalarSide(n.inner)
	case *binNode:
		if !arithOps[n.op] {
			return false, c.errAt(n.at, "operator %s is not allowed in a scalar expression", n.op)
		}
		l, err := c.scalarSide(n.l)
		if err != nil {
			return false, err
		}
		r, err := c.scalarSide(n.r)
		if err != nil {
			return false, err
		}
		if !l && !r {
			if _, err := c.fold(n); err != nil {
				return false, err
			}
		}
		return l || r, nil
	}
	return false, c.errAt(n.pos(), "expected an aggregate (count(), avg(...), min(...), max(...), sum(...)) or a number")
}

// fold evaluates constant arithmetic.
func (c *checker) fold(n node) (Value, error) {
	switch n := n.(type) {
	case *numNode:
		return n.val, nil
	case *parenNode:
		return c.fold(n.inner)
	case *negNode:
		v, err := c.fold(n.x)
		if err != nil {
			return v, err
		}
		return negate(v), nil
	case *binNode:
		if !arithOps[n.op] || n.op == "%" || n.op == "^" {
			return Value{}, c.errAt(n.at, "operator %s is not allowed between constants here", n.op)
		}
		l, err := c.fold(n.l)
		if err != nil {
			return l, err
		}
		r, err := c.fold(n.r)
		if err != nil {
			return r, err
		}
		if l.T == TypeDuration || r.T == TypeDuration {
			return Value{}, c.errAt(n.at, "durations cannot be used in scalar arithmetic")
		}
		v := arith(n.op, l, r)
		if v.T == TypeNil {
			return v, c.errAt(n.at, "invalid constant arithmetic (division by zero?)")
		}
		return v, nil
	}
	return Value{}, c.errAt(n.pos(), "expected a number")
}

func negate(v Value) Value {
	if v.T == TypeFloat {
		v.F = -v.F
	} else {
		v.I = -v.I
	}
	return v
}

func (c *checker) scalarFilter(b *binNode) (sexpr, error) {
	la, err := c.scalarSide(b.l)
	if err != nil {
		return nil, err
	}
	ra, err := c.scalarSide(b.r)
	if err != nil {
		return nil, err
	}
	if !la && !ra {
		return nil, c.errAt(b.at, "a scalar filter compares an aggregate such as count() or avg(duration) with a value")
	}
	lt, err := c.scalarType(b.l)
	if err != nil {
		return nil, err
	}
	rt, err := c.scalarType(b.r)
	if err != nil {
		return nil, err
	}
	if !lt.matches(rt) {
		return nil, c.errAt(b.at, "cannot compare %s with %s", lt, rt)
	}
	agg, ok := unparen(b.l).(*aggNode)
	if !ok || ra {
		return nil, c.unsupported(b.at, "a scalar filter other than aggregate <op> number (e.g. count() > 2)")
	}
	v, err := c.fold(b.r)
	if err != nil {
		return nil, err
	}
	if agg.expr != nil {
		if _, ok := agg.expr.(*Attribute); ok && agg.expr.(*Attribute).Parent {
			return nil, c.unsupported(agg.at, "parent attributes")
		}
	}
	return &scalarFilter{fn: agg.fn, expr: agg.expr, op: b.op, val: v}, nil
}

// scalarType validates aggregates and returns the type of a scalar side.
func (c *checker) scalarType(n node) (Type, error) {
	switch n := n.(type) {
	case *aggNode:
		if n.expr == nil {
			return TypeInt, nil
		}
		if err := c.validateField(n.expr); err != nil {
			return 0, err
		}
		t := n.expr.typ()
		if t != TypeAttribute && !t.numeric() {
			return 0, c.errAt(n.at, "%s() needs a number, %s is a %s", n.fn, n.expr, t)
		}
		if !n.expr.refsSpan() {
			return 0, c.errAt(n.at, "%s() must reference the span (an attribute or intrinsic), got %s", n.fn, n.expr)
		}
		return t, nil
	case *numNode:
		return n.val.T, nil
	case *negNode:
		return c.scalarType(n.x)
	case *parenNode:
		return c.scalarType(n.inner)
	case *binNode:
		l, err := c.scalarType(n.l)
		if err != nil {
			return 0, err
		}
		r, err := c.scalarType(n.r)
		if err != nil {
			return 0, err
		}
		if l != TypeAttribute {
			return l, nil
		}
		return r, nil
	}
	return 0, c.errAt(n.pos(), "expected a scalar")
}

// isScalarPipelineExpr: ({...} | count()) and arithmetic over such.
func (c *checker) isScalarPipelineExpr(n node) bool {
	switch n := n.(type) {
	case *parenNode:
		in := unparen(n)
		if st := pipes(in); len(st) > 1 {
			_, ok := st[len(st)-1].(*aggNode)
			return ok
		}
		return c.isScalarPipelineExpr(in)
	case *binNode:
		return arithOps[n.op] && c.isScalarPipelineExpr(n.l) && c.isScalarPipelineExpr(n.r)
	}
	return false
}

// scalarPipelineFilter checks ({ a } | count()) > 2 style queries, which
// Tempo parses but does not execute; neither do we.
func (c *checker) scalarPipelineFilter(b *binNode) error {
	if !c.isScalarPipelineExpr(b.r) {
		r := b.r
		if ng, ok := r.(*negNode); ok {
			r = ng.x
		}
		if _, ok := r.(*numNode); !ok {
			return c.errAt(b.r.pos(), "expected a number or a parenthesized pipeline ending in an aggregate")
		}
	}
	return c.unsupported(b.at, "comparing parenthesized aggregate pipelines")
}

// ---- field expression validation ----

func (c *checker) validateField(e FieldExpr) error {
	switch e := e.(type) {
	case *Static:
		return nil
	case *Attribute:
		if e.Parent {
			return c.unsupported(e.At, "parent attributes (%s)", e)
		}
		if e.Intrinsic == IParent {
			return c.unsupported(e.At, "the parent intrinsic")
		}
		return nil
	case *Binary:
		if err := c.validateField(e.L); err != nil {
			return err
		}
		if err := c.validateField(e.R); err != nil {
			return err
		}
		lt, rt := e.L.typ(), e.R.typ()
		if !lt.matches(rt) {
			return c.errAt(e.At, "operator %s needs operands of the same type, got %s and %s in %s", e.Op, lt, rt, e)
		}
		if !opAccepts(e.Op, lt) || !opAccepts(e.Op, rt) {
			return c.errAt(e.At, "operator %s is not defined for %s and %s in %s", e.Op, lt, rt, e)
		}
		if e.Op == "=~" || e.Op == "!~" {
			s, ok := e.R.(*Static)
			if !ok || s.Val.T != TypeString {
				return c.errAt(e.R.Pos(), "the right side of %s must be a string with a regular expression", e.Op)
			}
			re, err := regexp.Compile("^(?:" + s.Val.S + ")$")
			if err != nil {
				return c.errAt(e.R.Pos(), "invalid regular expression %q: %v", s.Val.S, err)
			}
			e.re = re
		}
		return nil
	case *Unary:
		if err := c.validateField(e.X); err != nil {
			return err
		}
		if e.Op == "notexists" {
			if a, ok := e.X.(*Attribute); ok {
				if a.Intrinsic != INone {
					return c.errAt(e.At, "%s = nil is never true: intrinsics always exist", a)
				}
				if a.Scope == ScopeResource && a.Name == "service.name" && !a.Parent {
					return c.errAt(e.At, "resource.service.name = nil is never true: every span has a service name")
				}
			}
		}
		t := e.X.typ()
		switch {
		case t == TypeAttribute, e.Op == "exists", e.Op == "notexists":
		case e.Op == "-" && t.numeric():
		case e.Op == "!" && t == TypeBool:
		default:
			return c.errAt(e.At, "operator %s is not defined for a %s (%s)", e.Op, t, e.X)
		}
		return nil
	}
	return fmt.Errorf("unknown expression %T", e)
}

// ---- metrics ----

type metricsQuery struct {
	// a single metrics pipeline, or math over several
	expr mexpr
	// second-stage functions and filters applied to the result
	second []secondStage
}

type secondStage struct {
	topk   string // "topk", "bottomk" or "" for a filter
	k      int
	op     string
	val    float64
	hasVal bool
}

// mexpr is a metrics expression: a pipeline with its function, a scalar,
// or arithmetic over them.
type mexpr interface {
	evalMetrics(ctx context.Context, st query.Storage, w *window) (seriesSet, error)
}

type metricsPipeline struct {
	pipe   *pipeline
	fn     *metricsNode
	second []secondStage
}

type metricsScalar struct{ v float64 }

type metricsMath struct {
	op   string
	l, r mexpr
}

func (c *checker) metricsRoot(stages []node) (*metricsQuery, error) {
	m := &metricsQuery{}
	// second stages at the end: topk(n), bottomk(n) and comparisons of them
	rest := stages
	if !isMetricsStage(stages[0]) && containsMetrics(stages[0]) {
		// math over parenthesized metrics pipelines, then second stages
		first, filters := splitFilters(stages[0])
		e, err := c.metricsExpr(first)
		if err != nil {
			return nil, err
		}
		m.expr = e
		for _, f := range filters {
			s, err := c.metricsFilter(f)
			if err != nil {
				return nil, err
			}
			m.second = append(m.second, s)
		}
		rest = stages[1:]
	} else {
		idx := slices.IndexFunc(stages, isMetricsStage)
		if idx < 0 {
			return nil, c.errAt(stages[0].pos(), "metrics functions must be a pipeline stage of their own, e.g. { } | rate()")
		}
		mp, err := c.metricsPipeline(stages[:idx+1])
		if err != nil {
			return nil, err
		}
		m.expr = mp
		rest = stages[idx+1:]
	}
	for _, s := range rest {
		ss, err := c.secondStage(s)
		if err != nil {
			return nil, err
		}
		m.second = append(m.second, ss...)
	}
	if mp, ok := m.expr.(*metricsPipeline); ok && mp.fn.fn == "compare" {
		if len(m.second) > 0 || len(mp.second) > 0 {
			return nil, c.errAt(mp.fn.at, "compare() cannot be used with second stage functions or filters")
		}
		return nil, c.unsupported(mp.fn.at, "compare()")
	}
	return m, nil
}

// splitFilters turns (x > 1) > 2 into x and [> 1, > 2].
func splitFilters(n node) (node, []*binNode) {
	var fs []*binNode
	for {
		b, ok := n.(*binNode)
		if !ok || !isCmpOp(b.op) {
			slices.Reverse(fs)
			return n, fs
		}
		fs = append(fs, b)
		n = b.l
	}
}

func (c *checker) metricsFilter(b *binNode) (secondStage, error) {
	v, err := c.fold(b.r)
	if err != nil {
		return secondStage{}, err
	}
	return secondStage{op: b.op, val: toFloat(v), hasVal: true}, nil
}

func toFloat(v Value) float64 {
	if v.T == TypeDuration {
		return float64(v.I) / 1e9 // metrics of durations are in seconds
	}
	return v.num()
}

func (c *checker) secondStage(n node) ([]secondStage, error) {
	first, filters := splitFilters(n)
	t, ok := first.(*topkNode)
	if !ok {
		return nil, c.errAt(n.pos(), "after a metrics function only topk(), bottomk() and comparisons may follow")
	}
	if t.k <= 0 {
		return nil, c.errAt(t.at, "%s() needs a limit greater than 0", t.fn)
	}
	out := []secondStage{{topk: t.fn, k: int(min(t.k, math.MaxInt32))}}
	for _, f := range filters {
		s, err := c.metricsFilter(f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *checker) metricsPipeline(stages []node) (*metricsPipeline, error) {
	last, filters := splitFilters(stages[len(stages)-1])
	fn, ok := last.(*metricsNode)
	if !ok {
		return nil, c.errAt(last.pos(), "expected a metrics function")
	}
	if len(stages) < 2 {
		return nil, c.errAt(fn.at, "%s() needs a spanset filter before it, e.g. { } | %s()", fn.fn, fn.fn)
	}
	p, err := c.pipeline(stages[:len(stages)-1])
	if err != nil {
		return nil, err
	}
	mp := &metricsPipeline{pipe: p, fn: fn}
	if err := c.validateMetricsFn(fn); err != nil {
		return nil, err
	}
	for _, f := range filters {
		s, err := c.metricsFilter(f)
		if err != nil {
			return nil, err
		}
		mp.second = append(mp.second, s)
	}
	return mp, nil
}

func (c *checker) validateMetricsFn(fn *metricsNode) error {
	for _, a := range fn.by {
		if err := c.validateField(a); err != nil {
			return err
		}
	}
	if fn.attr != nil {
		if err := c.validateField(fn.attr); err != nil {
			return err
		}
		if t := fn.attr.typ(); t != TypeAttribute && !t.numeric() {
			return c.errAt(fn.attr.At, "%s() needs a numeric attribute or intrinsic, %s is a %s", fn.fn, fn.attr, t)
		}
	}
	for _, q := range fn.quantiles {
		if fn.fn == "quantile_over_time" && (q < 0 || q > 1) {
			return c.errAt(fn.at, "quantile %g is not between 0 and 1", q)
		}
	}
	if fn.compare != nil {
		if _, err := c.spansetExpr(fn.compare); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) metricsExpr(n node) (mexpr, error) {
	switch n := n.(type) {
	case *parenNode:
		in := n.inner
		if _, ok := in.(*parenNode); ok {
			return c.metricsExpr(in)
		}
		if st := pipes(in); len(st) > 1 {
			mp, err := c.metricsPipeline(st)
			if err != nil {
				return nil, err
			}
			if mp.fn.fn == "compare" {
				return nil, c.errAt(mp.fn.at, "compare() cannot be used in arithmetic")
			}
			return mp, nil
		}
		if !containsMetrics(in) {
			v, err := c.fold(in)
			if err != nil {
				return nil, err
			}
			if v.T == TypeDuration {
				return nil, c.errAt(n.at, "a duration cannot be used in metrics arithmetic")
			}
			return &metricsScalar{v: v.num()}, nil
		}
		return c.metricsExpr(in)
	case *binNode:
		switch n.op {
		case "+", "-", "*", "/":
		default:
			return nil, c.errAt(n.at, "operator %s cannot combine metrics; use +, -, * or /", n.op)
		}
		l, err := c.metricsExpr(n.l)
		if err != nil {
			return nil, err
		}
		r, err := c.metricsExpr(n.r)
		if err != nil {
			return nil, err
		}
		return &metricsMath{op: n.op, l: l, r: r}, nil
	case *numNode, *negNode:
		v, err := c.fold(n)
		if err != nil {
			return nil, err
		}
		if v.T == TypeDuration {
			return nil, c.errAt(n.pos(), "a duration cannot be used in metrics arithmetic")
		}
		return &metricsScalar{v: v.num()}, nil
	case *metricsNode:
		return nil, c.errAt(n.at, "metrics pipelines must be in parentheses to be combined, e.g. ({ } | rate()) + 1")
	}
	return nil, c.errAt(n.pos(), "expected a parenthesized metrics pipeline such as ({ } | rate()) or a number")
}
