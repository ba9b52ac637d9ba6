// Package query holds Ariadne's query model and the search engine that runs
// it over any storage that implements Storage. Every API (native, Jaeger,
// Tempo, TraceQL) compiles to a Query and runs here.
package query

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Scope says where an attribute condition looks.
type Scope uint8

// Attribute scopes.
const (
	ScopeAny             Scope = iota // any of the scopes below
	ScopeSpan                         // span attributes
	ScopeResource                     // resource attributes
	ScopeEvent                        // attributes of any of the span's events
	ScopeLink                         // attributes of any of the span's links
	ScopeInstrumentation              // instrumentation scope attributes
)

// Op is a comparison operator.
type Op uint8

// Operators.
const (
	OpEq Op = iota
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpRe    // regular expression, anchored at both ends
	OpNotRe // negated regular expression
)

var opNames = [...]string{"=", "!=", "<", "<=", ">", ">=", "=~", "!~"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "?"
}

// ParseOp parses "=", "!=", "<", "<=", ">", ">=", "=~", "!~".
func ParseOp(s string) (Op, bool) {
	for i, n := range opNames {
		if n == s {
			return Op(i), true
		}
	}
	return 0, false
}

// Level says whether a duration or status filter applies to single spans or
// to the whole trace.
type Level uint8

// Levels.
const (
	LevelSpan Level = iota
	LevelTrace
)

// Cond is one attribute condition.
type Cond struct {
	Scope Scope
	Key   string
	Op    Op
	Value string

	num   float64
	isNum bool
	re    *regexp.Regexp
}

// Query is a trace search. The zero value matches every trace. All
// span-level predicates must hold for one and the same span; trace-level
// predicates hold for the trace as a whole.
type Query struct {
	Service  string // resource service.name, exact
	SpanName string // exact
	Kind     int8   // -1 = any
	Status   int8   // -1 = any
	// StatusLevel: LevelSpan matches spans with that status code; LevelTrace
	// with Status=error matches traces with at least one error span, and
	// with ok/unset traces without any error span.
	StatusLevel Level
	Conds       []Cond
	// MinDuration/MaxDuration (inclusive, 0 = unbounded) apply to span
	// durations or to the trace duration (last end - first start).
	MinDuration, MaxDuration time.Duration
	DurationLevel            Level
	// Start/End bound span start times (inclusive; zero = unbounded).
	Start, End time.Time
	Limit      int
	// SummariesOnly: results carry their Summary but not their spans
	// (Result.Spans is nil), which spares reading the traces' attributes,
	// events and links.
	SummariesOnly bool
	// TraceMatch, if set, is a further trace-level predicate on the whole
	// trace (the TraceQL evaluator uses it); MatchTrace applies it last.
	TraceMatch func(spans []model.Span) bool
}

// DefaultLimit and MaxLimit bound the number of traces a search returns.
const (
	DefaultLimit = 20
	MaxLimit     = 10000
)

// New returns a query that matches everything.
func New() *Query { return &Query{Kind: -1, Status: -1} }

// Validate compiles regular expressions and numbers and checks ranges. It
// returns an error that names the offending field.
func (q *Query) Validate() error {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return fmt.Errorf("limit: must be between 1 and %d, got %d", MaxLimit, q.Limit)
	}
	if q.MinDuration < 0 || q.MaxDuration < 0 {
		return fmt.Errorf("duration: must not be negative")
	}
	if q.MaxDuration > 0 && q.MinDuration > q.MaxDuration {
		return fmt.Errorf("duration: minDuration %s is greater than maxDuration %s", q.MinDuration, q.MaxDuration)
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start) {
		return fmt.Errorf("time range: end %s is before start %s", q.End.Format(time.RFC3339Nano), q.Start.Format(time.RFC3339Nano))
	}
	for i := range q.Conds {
		c := &q.Conds[i]
		if c.Key == "" {
			return fmt.Errorf("condition %d: empty attribute key", i+1)
		}
		switch c.Op {
		case OpRe, OpNotRe:
			re, err := regexp.Compile("^(?:" + c.Value + ")$")
			if err != nil {
				return fmt.Errorf("condition %d (%s): bad regular expression: %v", i+1, c.Key, err)
			}
			c.re = re
		default:
			if f, err := strconv.ParseFloat(c.Value, 64); err == nil && !math.IsNaN(f) {
				c.num, c.isNum = f, true
			}
		}
	}
	return nil
}

// matchCheap checks the predicates that need no attributes.
func (q *Query) matchCheap(s *model.Span) bool {
	if !q.Start.IsZero() && s.Start < q.Start.UnixNano() {
		return false
	}
	if !q.End.IsZero() && s.Start > q.End.UnixNano() {
		return false
	}
	if q.Service != "" && s.Service() != q.Service {
		return false
	}
	if q.SpanName != "" && s.Name != q.SpanName {
		return false
	}
	if q.Kind >= 0 && s.Kind != q.Kind {
		return false
	}
	if q.Status >= 0 && q.StatusLevel == LevelSpan && s.StatusCode != q.Status {
		return false
	}
	if q.DurationLevel == LevelSpan {
		d := s.Duration()
		if q.MinDuration > 0 && d < int64(q.MinDuration) {
			return false
		}
		if q.MaxDuration > 0 && d > int64(q.MaxDuration) {
			return false
		}
	}
	return true
}

// MatchSpan reports whether s satisfies every span-level predicate.
func (q *Query) MatchSpan(s *model.Span) bool {
	if !q.matchCheap(s) {
		return false
	}
	for i := range q.Conds {
		if !q.Conds[i].matchSpan(s) {
			return false
		}
	}
	return true
}

// MatchTrace checks the trace-level predicates on a whole trace.
func (q *Query) MatchTrace(spans []model.Span) bool {
	if len(spans) == 0 {
		return false
	}
	if q.Status >= 0 && q.StatusLevel == LevelTrace {
		hasErr := false
		for i := range spans {
			if spans[i].StatusCode == model.StatusError {
				hasErr = true
				break
			}
		}
		if hasErr != (q.Status == model.StatusError) {
			return false
		}
	}
	if q.DurationLevel == LevelTrace && (q.MinDuration > 0 || q.MaxDuration > 0) {
		start, end := Bounds(spans)
		d := end - start
		if q.MinDuration > 0 && d < int64(q.MinDuration) {
			return false
		}
		if q.MaxDuration > 0 && d > int64(q.MaxDuration) {
			return false
		}
	}
	return q.TraceMatch == nil || q.TraceMatch(spans)
}

// Filter returns the pruning filter for q's span-level predicates, for
// callers that scan blocks themselves.
func (q *Query) Filter() Filter { return q.filter() }

// Bounds returns the first start and last end of spans.
func Bounds(spans []model.Span) (start, end int64) {
	start, end = math.MaxInt64, math.MinInt64
	for i := range spans {
		start = min(start, spans[i].Start)
		end = max(end, spans[i].End)
	}
	return start, end
}

func (c *Cond) matchSpan(s *model.Span) bool {
	if c.Scope == ScopeAny || c.Scope == ScopeSpan {
		if c.matchAttrs(s.Attrs) {
			return true
		}
	}
	if c.Scope == ScopeAny || c.Scope == ScopeResource {
		if s.Resource != nil && c.matchAttrs(s.Resource.Attrs) {
			return true
		}
	}
	if c.Scope == ScopeAny || c.Scope == ScopeEvent {
		for i := range s.Events {
			if c.matchAttrs(s.Events[i].Attrs) {
				return true
			}
		}
	}
	if c.Scope == ScopeAny || c.Scope == ScopeLink {
		for i := range s.Links {
			if c.matchAttrs(s.Links[i].Attrs) {
				return true
			}
		}
	}
	if c.Scope == ScopeAny || c.Scope == ScopeInstrumentation {
		if s.Scope != nil && c.matchAttrs(s.Scope.Attrs) {
			return true
		}
	}
	return false
}

func (c *Cond) matchAttrs(attrs []model.Attr) bool {
	for i := range attrs {
		if attrs[i].Key == c.Key && c.matchValue(&attrs[i]) {
			return true
		}
	}
	return false
}

func (c *Cond) matchValue(a *model.Attr) bool {
	switch c.Op {
	case OpRe:
		return c.re.MatchString(a.String())
	case OpNotRe:
		return !c.re.MatchString(a.String())
	}
	if c.Op == OpEq && (a.Type < model.TypeStr || a.Type > model.TypeDouble) {
		return false // equality is defined for strings, bools and numbers
	}
	var cmp int
	if f, ok := a.Float(); ok && c.isNum {
		switch {
		case f < c.num:
			cmp = -1
		case f > c.num:
			cmp = 1
		}
	} else {
		v := a.String()
		switch {
		case v < c.Value:
			cmp = -1
		case v > c.Value:
			cmp = 1
		}
	}
	switch c.Op {
	case OpEq:
		return cmp == 0
	case OpNe:
		return cmp != 0
	case OpLt:
		return cmp < 0
	case OpLe:
		return cmp <= 0
	case OpGt:
		return cmp > 0
	case OpGe:
		return cmp >= 0
	}
	return false
}
