package traceql

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Scope is where an attribute is looked up.
type Scope uint8

// Attribute scopes. ScopeNone is the unscoped `.attr`: span attributes
// first, then resource attributes.
const (
	ScopeNone Scope = iota
	ScopeSpan
	ScopeResource
	ScopeEvent
	ScopeLink
	ScopeInstrumentation
)

var scopeNames = [...]string{"", "span", "resource", "event", "link", "instrumentation"}

// Intrinsic identifies a built-in span or trace field.
type Intrinsic uint8

// Intrinsics.
const (
	INone Intrinsic = iota
	IDuration
	IName
	IStatus
	IStatusMessage
	IKind
	IParent
	IChildCount
	ISpanID
	IParentID
	ITraceID
	ITraceDuration
	IRootName
	IRootService
	INestedSetLeft
	INestedSetRight
	INestedSetParent
	IEventName
	IEventTimeSinceStart
	ILinkTraceID
	ILinkSpanID
	IInstrumentationName
	IInstrumentationVersion
)

var intrinsicNames = map[Intrinsic]string{
	IDuration: "duration", IName: "name", IStatus: "status", IStatusMessage: "statusMessage", IKind: "kind",
	IParent: "parent", IChildCount: "span:childCount", ISpanID: "span:id", IParentID: "span:parentID",
	ITraceID: "trace:id", ITraceDuration: "traceDuration", IRootName: "rootName", IRootService: "rootServiceName",
	INestedSetLeft: "nestedSetLeft", INestedSetRight: "nestedSetRight", INestedSetParent: "nestedSetParent",
	IEventName: "event:name", IEventTimeSinceStart: "event:timeSinceStart", ILinkTraceID: "link:traceID",
	ILinkSpanID: "link:spanID", IInstrumentationName: "instrumentation:name", IInstrumentationVersion: "instrumentation:version",
}

// unscoped intrinsic keywords
var plainIntrinsics = map[string]Intrinsic{
	"duration": IDuration, "name": IName, "status": IStatus, "statusMessage": IStatusMessage, "kind": IKind,
	"parent": IParent, "rootName": IRootName, "rootServiceName": IRootService, "traceDuration": ITraceDuration,
	"nestedSetLeft": INestedSetLeft, "nestedSetRight": INestedSetRight, "nestedSetParent": INestedSetParent,
}

// scoped intrinsics: scope -> name -> intrinsic
var scopedIntrinsics = map[string]map[string]Intrinsic{
	"trace": {"duration": ITraceDuration, "rootName": IRootName, "rootService": IRootService, "id": ITraceID},
	"span": {"duration": IDuration, "name": IName, "kind": IKind, "status": IStatus, "statusMessage": IStatusMessage,
		"id": ISpanID, "parentID": IParentID, "childCount": IChildCount},
	"event":           {"name": IEventName, "timeSinceStart": IEventTimeSinceStart},
	"link":            {"traceID": ILinkTraceID, "spanID": ILinkSpanID},
	"instrumentation": {"name": IInstrumentationName, "version": IInstrumentationVersion},
}

// Type is the static type of a value or expression.
type Type uint8

// Types. TypeAttribute is an attribute whose type is only known per span.
const (
	TypeAttribute Type = iota
	TypeNil
	TypeBool
	TypeInt
	TypeFloat
	TypeString
	TypeDuration
	TypeStatus
	TypeKind
)

var typeNames = [...]string{"attribute", "nil", "boolean", "integer", "float", "string", "duration", "status", "kind"}

func (t Type) String() string { return typeNames[t] }

func (t Type) numeric() bool { return t == TypeInt || t == TypeFloat || t == TypeDuration }

// matches reports whether values of t and u may be compared or combined.
func (t Type) matches(u Type) bool {
	return t == TypeAttribute || u == TypeAttribute || t == u || t.numeric() && u.numeric() || t == TypeNil || u == TypeNil
}

// Value is a typed value. Int, Duration (nanoseconds), Status and Kind use
// I; Float uses F; Bool uses B; String uses S.
type Value struct {
	T Type
	I int64
	F float64
	B bool
	S string
}

func (v Value) num() float64 {
	if v.T == TypeFloat {
		return v.F
	}
	return float64(v.I)
}

func (v Value) String() string {
	switch v.T {
	case TypeNil:
		return "nil"
	case TypeBool:
		return strconv.FormatBool(v.B)
	case TypeInt:
		return strconv.FormatInt(v.I, 10)
	case TypeFloat:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case TypeString:
		return strconv.Quote(v.S)
	case TypeDuration:
		return time.Duration(v.I).String()
	case TypeStatus:
		return [...]string{"unset", "ok", "error"}[v.I%3]
	case TypeKind:
		return [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}[v.I%6]
	}
	return "?"
}

var staticKeywords = map[string]Value{
	"true": {T: TypeBool, B: true}, "false": {T: TypeBool},
	"unset": {T: TypeStatus, I: 0}, "ok": {T: TypeStatus, I: 1}, "error": {T: TypeStatus, I: 2},
	"unspecified": {T: TypeKind, I: 0}, "internal": {T: TypeKind, I: 1}, "server": {T: TypeKind, I: 2},
	"client": {T: TypeKind, I: 3}, "producer": {T: TypeKind, I: 4}, "consumer": {T: TypeKind, I: 5},
	"minInt": {T: TypeInt, I: -1 << 63}, "maxInt": {T: TypeInt, I: 1<<63 - 1},
}

// FieldExpr is an expression evaluated on one span.
type FieldExpr interface {
	Pos() int
	String() string
	typ() Type
	refsSpan() bool
}

// Static is a literal.
type Static struct {
	At  int
	Val Value
}

// Attribute is an attribute or intrinsic reference.
type Attribute struct {
	At        int
	Scope     Scope
	Parent    bool
	Name      string
	Intrinsic Intrinsic
	spelled   string // an intrinsic as written (rootServiceName or trace:rootService)
}

// Binary is a binary operation: arithmetic, comparison or logical.
type Binary struct {
	At   int
	Op   string
	L, R FieldExpr
	re   *regexp.Regexp
}

// Unary is -x, !x, or the existence checks x != nil ("exists") and
// x = nil ("notexists").
type Unary struct {
	At int
	Op string
	X  FieldExpr
}

func (s *Static) Pos() int    { return s.At }
func (a *Attribute) Pos() int { return a.At }
func (b *Binary) Pos() int    { return b.At }
func (u *Unary) Pos() int     { return u.At }

func (s *Static) String() string { return s.Val.String() }
func (a *Attribute) String() string {
	if a.spelled != "" {
		return a.spelled
	}
	if a.Intrinsic != INone {
		return intrinsicNames[a.Intrinsic]
	}
	var sb strings.Builder
	if a.Parent {
		sb.WriteString("parent.")
	}
	if a.Scope != ScopeNone {
		sb.WriteString(scopeNames[a.Scope])
	}
	sb.WriteByte('.')
	if strings.ContainsFunc(a.Name, func(r rune) bool { return !isAttrRune(r) || r == '"' }) {
		sb.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a.Name) + `"`)
	} else {
		sb.WriteString(a.Name)
	}
	return sb.String()
}
func (b *Binary) String() string { return "(" + b.L.String() + " " + b.Op + " " + b.R.String() + ")" }
func (u *Unary) String() string {
	switch u.Op {
	case "exists":
		return "(" + u.X.String() + " != nil)"
	case "notexists":
		return "(" + u.X.String() + " = nil)"
	}
	return u.Op + u.X.String()
}

func (s *Static) typ() Type { return s.Val.T }
func (a *Attribute) typ() Type {
	switch a.Intrinsic {
	case IDuration, ITraceDuration, IEventTimeSinceStart:
		return TypeDuration
	case IName, IStatusMessage, ISpanID, IParentID, ITraceID, IRootName, IRootService, IEventName,
		ILinkTraceID, ILinkSpanID, IInstrumentationName, IInstrumentationVersion:
		return TypeString
	case IStatus:
		return TypeStatus
	case IKind:
		return TypeKind
	case IChildCount, INestedSetLeft, INestedSetRight, INestedSetParent:
		return TypeInt
	case IParent:
		return TypeNil
	}
	return TypeAttribute
}
func (b *Binary) typ() Type {
	if isBoolOp(b.Op) {
		return TypeBool
	}
	if t := b.L.typ(); t != TypeAttribute {
		return t
	}
	return b.R.typ()
}
func (u *Unary) typ() Type {
	if u.Op == "exists" || u.Op == "notexists" {
		return TypeBool
	}
	return u.X.typ()
}

func (s *Static) refsSpan() bool    { return false }
func (a *Attribute) refsSpan() bool { return true }
func (b *Binary) refsSpan() bool    { return b.L.refsSpan() || b.R.refsSpan() }
func (u *Unary) refsSpan() bool     { return u.X.refsSpan() }

func isBoolOp(op string) bool {
	switch op {
	case "&&", "||", "=", "!=", "<", "<=", ">", ">=", "=~", "!~":
		return true
	}
	return false
}

func isCmpOp(op string) bool {
	switch op {
	case "=", "!=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// opAccepts reports whether a binary operator is defined for type t.
func opAccepts(op string, t Type) bool {
	switch t {
	case TypeAttribute:
		return true
	case TypeBool:
		return op == "&&" || op == "||" || op == "=" || op == "!="
	case TypeInt, TypeFloat, TypeDuration:
		switch op {
		case "+", "-", "*", "/", "%", "^", "=", "!=", ">", ">=", "<", "<=":
			return true
		}
		return false
	case TypeString:
		return op == "=" || op == "!=" || op == "=~" || op == "!~" || op == ">" || op == ">=" || op == "<" || op == "<="
	case TypeNil, TypeStatus, TypeKind:
		return op == "=" || op == "!="
	}
	return false
}

// ---- pipeline level ----

// node is an element of the (untyped) syntax tree above field expressions.
type node interface{ pos() int }

type (
	filterNode struct { // { expr }
		at   int
		expr FieldExpr
	}
	binNode struct { // any binary operator between pipeline-level nodes
		at   int
		op   string
		l, r node
	}
	parenNode struct {
		at    int
		inner node
	}
	numNode struct { // number or duration literal
		at  int
		val Value
	}
	negNode struct { // unary minus on a pipeline-level node
		at int
		x  node
	}
	aggNode struct { // count() avg(x) min(x) max(x) sum(x)
		at   int
		fn   string
		expr FieldExpr
	}
	byNode struct {
		at   int
		expr FieldExpr
	}
	selectNode struct {
		at    int
		attrs []*Attribute
	}
	coalesceNode struct{ at int }
	metricsNode  struct { // rate() count_over_time() ... [by (...)]
		at        int
		fn        string
		attr      *Attribute
		quantiles []float64
		by        []*Attribute
		compare   *filterNode
	}
	topkNode struct {
		at int
		fn string // topk or bottomk
		k  int64
	}
)

func (n *filterNode) pos() int   { return n.at }
func (n *binNode) pos() int      { return n.at }
func (n *parenNode) pos() int    { return n.at }
func (n *numNode) pos() int      { return n.at }
func (n *negNode) pos() int      { return n.at }
func (n *aggNode) pos() int      { return n.at }
func (n *byNode) pos() int       { return n.at }
func (n *selectNode) pos() int   { return n.at }
func (n *coalesceNode) pos() int { return n.at }
func (n *metricsNode) pos() int  { return n.at }
func (n *topkNode) pos() int     { return n.at }
