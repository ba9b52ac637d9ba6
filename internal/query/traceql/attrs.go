package traceql

import (
	"strings"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Attributes returns the attributes and intrinsics a search query's filters
// refer to (other than name and duration), in order of appearance and
// without repeats: search results show their values on matched spans.
func (q *Query) Attributes() []*Attribute {
	var out []*Attribute
	seen := map[string]bool{}
	var walkField func(e FieldExpr)
	walkField = func(e FieldExpr) {
		switch e := e.(type) {
		case *Attribute:
			if e.Intrinsic == IName || e.Intrinsic == IDuration || e.Parent || seen[e.String()] {
				return
			}
			seen[e.String()] = true
			out = append(out, e)
		case *Binary:
			walkField(e.L)
			walkField(e.R)
		case *Unary:
			walkField(e.X)
		}
	}
	var walk func(e sexpr)
	walk = func(e sexpr) {
		switch e := e.(type) {
		case *filter:
			walkField(e.expr)
		case *pipeline:
			for _, s := range e.stages {
				walk(s)
			}
		case *spansetOp:
			walk(e.l)
			walk(e.r)
		}
	}
	if q.search != nil {
		walk(q.search)
	}
	return out
}

// Key is the name Tempo gives the attribute in search results: the
// attribute name without its scope, or the intrinsic's name.
func (a *Attribute) Key() string {
	if a.Intrinsic != INone {
		return intrinsicNames[a.Intrinsic]
	}
	return a.Name
}

// AttrRef returns a TraceQL reference to the unscoped attribute name,
// quoted when needed: AttrRef("http.method") is .http.method.
func AttrRef(name string) string {
	return (&Attribute{Name: name}).String()
}

// ParseAttribute parses a tag name as Tempo's tag endpoints take it: a
// scoped or unscoped attribute (span.foo, resource.foo, .foo) or an
// intrinsic (name, status, span:name, ...). A bare name without a scope or
// dot is an unscoped attribute.
func ParseAttribute(s string) (*Attribute, error) {
	if in, ok := plainIntrinsics[s]; ok {
		return &Attribute{Intrinsic: in, spelled: s}, nil
	}
	scope, name, hasColon := strings.Cut(s, ":")
	if hasColon {
		if in, ok := scopedIntrinsics[scope][name]; ok {
			return &Attribute{Intrinsic: in, spelled: s}, nil
		}
	}
	if !strings.HasPrefix(s, ".") && !hasScopePrefix(s) {
		s = "." + s
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) != 2 || toks[0].kind != tAttr {
		return nil, newError(s, 0, false, "%q is not an attribute name", s)
	}
	t := toks[0]
	return &Attribute{Scope: t.scope, Parent: t.parent, Name: t.text}, nil
}

func hasScopePrefix(s string) bool {
	for name := range attrScopes {
		if strings.HasPrefix(s, name+".") {
			return true
		}
	}
	return false
}

// SpanValues returns the values of an attribute or intrinsic on one span
// seen on its own (trace-level intrinsics describe that span alone).
func SpanValues(a *Attribute, s *model.Span) []Value {
	t := newTrace([]model.Span{*s})
	return t.lookup(a, 0, false)
}

// SpanFilter returns a predicate for single spans when q is one spanset
// filter ({ ... }), as the tag endpoints' q parameter takes it; nil
// otherwise.
func (q *Query) SpanFilter() func(s *model.Span) bool {
	p, ok := q.search.(*pipeline)
	if !ok || len(p.stages) != 1 {
		return nil
	}
	f, ok := p.stages[0].(*filter)
	if !ok {
		return nil
	}
	return func(s *model.Span) bool {
		t := newTrace([]model.Span{*s})
		return truthy(evalField(f.expr, t, 0))
	}
}

// TypeName is the type name Tempo's tag values API reports for a value.
func (v Value) TypeName() string {
	switch v.T {
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeBool:
		return "bool"
	case TypeDuration:
		return "duration"
	case TypeStatus, TypeKind:
		return "keyword"
	}
	return "nil"
}

// Text is the value as the tag values API reports it (strings unquoted).
func (v Value) Text() string {
	if v.T == TypeString {
		return v.S
	}
	return v.String()
}
