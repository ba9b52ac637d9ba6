package tail

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// CompileFunc turns a condition or drop policy's query into a span
// predicate. The server passes one built on the TraceQL package (see
// server.TailCompile); it must accept one spanset filter { ... }.
type CompileFunc func(query string) (func(*model.Span) bool, error)

// Policy types.
const (
	TypeError         = "error"
	TypeLatency       = "latency"
	TypeCondition     = "condition"
	TypeProbabilistic = "probabilistic"
	TypeRateLimit     = "rate_limit"
	TypeSpanCount     = "span_count"
	TypeAnd           = "and"
	TypeOr            = "or"
	TypeDrop          = "drop"
)

// Policy is one sampling policy as configured. Type says which fields
// apply; see docs/sampling.md.
type Policy struct {
	Name string
	Type string
	// latency: a trace is slow when it lasts at least Threshold; with
	// Service (and Operation) set, when one of that service's (and
	// operation's) spans does.
	Threshold time.Duration
	Service   string
	Operation string
	// condition, drop: a TraceQL spanset filter such as
	// { span.http.status_code >= 500 }; the trace matches when one span does.
	Query string
	// probabilistic: the fraction of traces kept, decided from the trace
	// ID's random low 56 bits as W3C consistent probability sampling does.
	Probability float64
	// span_count: the trace has at least MinSpans spans, and at most
	// MaxSpans when MaxSpans > 0 (spans held when it is decided).
	MinSpans, MaxSpans int
	// rate_limit: at most TracesPerSecond traces, per root service when
	// PerService.
	TracesPerSecond float64
	PerService      bool
	// MaxTracesPerSecond is a budget on any policy: past it the policy
	// stops keeping traces for the rest of the second. 0 = none.
	MaxTracesPerSecond float64
	// and, or: the sub-policies.
	Policies []Policy
}

// policy is a compiled Policy.
type policy struct {
	name   string
	typ    string
	bit    uint32 // span-level flag, for error, span latency, condition, drop
	thresh int64
	svc    string
	op     string
	filter func(*model.Span) bool
	minSp  int32 // span_count
	maxSp  int32
	th     uint64  // probabilistic: keep when the trace's randomness >= th
	prob   float64 // probabilistic
	rate   *limiter
	perSvc map[string]*limiter // rate_limit per service
	rateV  float64
	budget *limiter
	subs   []*policy
	stats  *policyStats // top-level policies only
}

// policyStats counts what one top-level policy did.
type policyStats struct {
	Kept, Matched, OverBudget, Evaluated uint64
}

func compile(ps []Policy, top bool, nextBit *uint32, names map[string]bool, cf CompileFunc) ([]*policy, error) {
	var out []*policy
	for i, p := range ps {
		where := fmt.Sprintf("policies[%d]", i)
		if p.Name != "" {
			where = fmt.Sprintf("policy %q", p.Name)
		}
		c, err := compileOne(p, top, nextBit, names, cf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func compileOne(p Policy, top bool, nextBit *uint32, names map[string]bool, cf CompileFunc) (*policy, error) {
	if top {
		if p.Name == "" {
			return nil, errors.New("name is required")
		}
		if names[p.Name] {
			return nil, errors.New("name used twice")
		}
		names[p.Name] = true
	}
	c := &policy{name: p.Name, typ: p.Type, svc: p.Service, op: p.Operation}
	if top {
		c.stats = &policyStats{}
	}
	if p.MaxTracesPerSecond < 0 {
		return nil, errors.New("max_traces_per_second must not be negative")
	}
	if p.MaxTracesPerSecond > 0 {
		c.budget = newLimiter(p.MaxTracesPerSecond)
	}
	bit := func() error {
		if *nextBit >= 32 {
			return errors.New("too many span-level policies (at most 32 error, latency with service, condition and drop policies)")
		}
		c.bit = 1 << *nextBit
		*nextBit++
		return nil
	}
	// unused reports fields set that do not apply to the type.
	var unused []string
	check := func(set bool, field string) {
		if set {
			unused = append(unused, field)
		}
	}
	switch p.Type {
	case TypeError:
		check(p.Threshold != 0, "threshold")
		check(p.Query != "", "query")
		check(p.Probability != 0, "probability")
		if err := bit(); err != nil {
			return nil, err
		}
	case TypeLatency:
		if p.Threshold <= 0 {
			return nil, errors.New("latency needs a positive threshold")
		}
		if p.Operation != "" && p.Service == "" {
			return nil, errors.New("operation needs service")
		}
		check(p.Query != "", "query")
		c.thresh = int64(p.Threshold)
		if p.Service != "" {
			if err := bit(); err != nil {
				return nil, err
			}
		}
	case TypeCondition, TypeDrop:
		if p.Type == TypeDrop && !top {
			return nil, errors.New("drop policies go at the top level")
		}
		if p.Query == "" {
			return nil, fmt.Errorf("%s needs a query, such as '{ span.http.route = \"/healthz\" }'", p.Type)
		}
		if cf == nil {
			return nil, errors.New("query: no query compiler configured")
		}
		f, err := cf(p.Query)
		if err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		c.filter = f
		if err := bit(); err != nil {
			return nil, err
		}
	case TypeProbabilistic:
		if !(p.Probability > 0 && p.Probability <= 1) {
			return nil, fmt.Errorf("probability must be in (0, 1], got %g", p.Probability)
		}
		c.prob = p.Probability
		c.th = Threshold(p.Probability)
	case TypeSpanCount:
		if p.MinSpans < 0 || p.MaxSpans < 0 || (p.MinSpans == 0 && p.MaxSpans == 0) {
			return nil, errors.New("span_count needs min_spans or max_spans > 0")
		}
		if p.MaxSpans > 0 && p.MaxSpans < p.MinSpans {
			return nil, fmt.Errorf("max_spans %d is less than min_spans %d", p.MaxSpans, p.MinSpans)
		}
		c.minSp, c.maxSp = int32(min(p.MinSpans, math.MaxInt32)), int32(min(p.MaxSpans, math.MaxInt32))
	case TypeRateLimit:
		if !(p.TracesPerSecond > 0) {
			return nil, errors.New("rate_limit needs traces_per_second > 0")
		}
		c.rateV = p.TracesPerSecond
		if p.PerService {
			c.perSvc = map[string]*limiter{}
		} else {
			c.rate = newLimiter(p.TracesPerSecond)
		}
	case TypeAnd, TypeOr:
		if len(p.Policies) == 0 {
			return nil, fmt.Errorf("%s needs sub-policies", p.Type)
		}
		subs, err := compile(p.Policies, false, nextBit, names, cf)
		if err != nil {
			return nil, err
		}
		c.subs = subs
	case "":
		return nil, errors.New("type is required (error, latency, condition, probabilistic, rate_limit, span_count, and, or, drop)")
	default:
		return nil, fmt.Errorf("unknown type %q (want error, latency, condition, probabilistic, rate_limit, span_count, and, or, drop)", p.Type)
	}
	if p.Type != TypeLatency {
		check(p.Service != "", "service")
		check(p.Operation != "", "operation")
	}
	if p.Type != TypeProbabilistic {
		check(p.Probability != 0, "probability")
	}
	if p.Type != TypeRateLimit {
		check(p.TracesPerSecond != 0, "traces_per_second")
		check(p.PerService, "per_service")
	}
	if p.Type != TypeAnd && p.Type != TypeOr {
		check(len(p.Policies) > 0, "policies")
	}
	if p.Type != TypeSpanCount {
		check(p.MinSpans != 0, "min_spans")
		check(p.MaxSpans != 0, "max_spans")
	}
	if len(unused) > 0 {
		return nil, fmt.Errorf("%s does not apply to type %s", strings.Join(unused, ", "), p.Type)
	}
	return c, nil
}

// spanFlags returns the span-level flags p and its sub-policies set for s.
func (p *policy) spanFlags(s *model.Span) uint32 {
	var f uint32
	switch p.typ {
	case TypeError:
		if s.StatusCode == model.StatusError {
			f = p.bit
		}
	case TypeLatency:
		if p.bit != 0 && s.End-s.Start >= p.thresh && s.Service() == p.svc && (p.op == "" || s.Name == p.op) {
			f = p.bit
		}
	case TypeCondition, TypeDrop:
		if p.filter(s) {
			f = p.bit
		}
	}
	for _, c := range p.subs {
		f |= c.spanFlags(s)
	}
	return f
}

// match reports whether the trace meets p's condition, before budgets, and
// the probability that p keeps such a trace (1 for deterministic
// conditions; the probability for probabilistic; the recent acceptance
// ratio for rate limits and budgets).
func (p *policy) match(t *traceState) (bool, float64) {
	var ok bool
	pi := 1.0
	switch p.typ {
	case TypeError, TypeCondition, TypeDrop:
		ok = t.flags&p.bit != 0
	case TypeLatency:
		if p.bit != 0 {
			ok = t.flags&p.bit != 0
		} else {
			ok = t.maxEnd-t.minStart >= p.thresh
		}
	case TypeProbabilistic:
		ok = Randomness(t.id) >= p.th
		pi = p.prob
	case TypeSpanCount:
		ok = t.spans >= p.minSp && (p.maxSp == 0 || t.spans <= p.maxSp)
	case TypeRateLimit:
		ok = true
		pi = p.limiterFor(t.rootService).ratio()
	case TypeAnd:
		ok = true
		for _, c := range p.subs {
			m, cp := c.match(t)
			if !m {
				return false, 0
			}
			pi *= cp
		}
	case TypeOr:
		miss := 1.0
		for _, c := range p.subs {
			if m, cp := c.match(t); m {
				ok = true
				miss *= 1 - cp
			}
		}
		pi = 1 - miss
	}
	if !ok {
		return false, 0
	}
	if p.budget != nil {
		pi *= p.budget.ratio()
	}
	return true, pi
}

// allow takes the tokens a keep by p costs (its rate limits and budgets,
// and those of the sub-policies that matched); false when one is spent.
func (p *policy) allow(t *traceState, now int64) bool {
	switch p.typ {
	case TypeRateLimit:
		if !p.limiterFor(t.rootService).take(now) {
			return false
		}
	case TypeAnd:
		for _, c := range p.subs {
			if !c.allow(t, now) {
				return false
			}
		}
	case TypeOr:
		any := false
		for _, c := range p.subs {
			if m, _ := c.match(t); m && c.allow(t, now) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	if p.budget != nil && !p.budget.take(now) {
		return false
	}
	return true
}

func (p *policy) limiterFor(svc string) *limiter {
	if p.perSvc == nil {
		return p.rate
	}
	l := p.perSvc[svc]
	if l == nil {
		if len(p.perSvc) >= maxRateServices {
			svc = "" // bound the map: further services share one limiter
			if l = p.perSvc[svc]; l != nil {
				return l
			}
		}
		l = newLimiter(p.rateV)
		p.perSvc[svc] = l
	}
	return l
}

const maxRateServices = 10_000

// limiter is a token bucket over whole seconds that also tracks what
// fraction of the traces offered to it it accepted in the last second, the
// inclusion probability of a trace it keeps.
type limiter struct {
	mu       sync.Mutex
	rate     float64
	tokens   float64
	last     int64 // unix nanoseconds of the last refill
	window   int64 // second of the counters below
	offered  float64
	accepted float64
	prevRate float64 // accepted/offered in the previous second
}

func newLimiter(rate float64) *limiter {
	return &limiter{rate: rate, tokens: max(rate, 1), prevRate: 1}
}

func (l *limiter) take(now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last != 0 {
		l.tokens = min(max(l.rate, 1), l.tokens+l.rate*float64(now-l.last)/1e9)
	}
	l.last = now
	if sec := now / 1e9; sec != l.window {
		if l.offered > 0 {
			l.prevRate = l.accepted / l.offered
		}
		if sec != l.window+1 {
			l.prevRate = 1 // a quiet second in between: nothing was refused
		}
		l.window, l.offered, l.accepted = sec, 0, 0
	}
	l.offered++
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	l.accepted++
	return true
}

// ratio is the fraction of offered traces the limiter accepted recently.
func (l *limiter) ratio() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.prevRate
	if l.offered >= 10 && l.accepted/l.offered < r {
		r = l.accepted / l.offered // refusing now: the current second says more
	}
	return max(r, 1e-6)
}

// Threshold is the W3C/OpenTelemetry rejection threshold of probability p:
// a trace is kept when its 56-bit randomness is at least the threshold.
func Threshold(p float64) uint64 {
	const max56 = 1 << 56
	if p >= 1 {
		return 0
	}
	return uint64(math.Round((1 - p) * max56))
}

// Randomness is the trace ID's low 56 bits, random in W3C trace IDs.
func Randomness(id model.TraceID) uint64 {
	return binary.BigEndian.Uint64(id[8:]) & (1<<56 - 1)
}

// ThresholdString encodes th as the tracestate "ot" value's th field: 14
// hex digits with trailing zeros removed ("0" for keep-all).
func ThresholdString(th uint64) string {
	if th == 0 {
		return "0"
	}
	s := strconv.FormatUint(th|1<<56, 16)[1:] // 14 digits, leading zeros kept
	return strings.TrimRight(s, "0")
}

// parseThreshold reads th from a tracestate, if it has one.
func parseThreshold(ts string) (uint64, bool) {
	for _, member := range strings.Split(ts, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(member), "ot=")
		if !ok {
			continue
		}
		for _, f := range strings.Split(v, ";") {
			h, ok := strings.CutPrefix(f, "th:")
			if !ok || len(h) == 0 || len(h) > 14 {
				continue
			}
			n, err := strconv.ParseUint(h+strings.Repeat("0", 14-len(h)), 16, 64)
			if err != nil {
				return 0, false
			}
			return n, true
		}
	}
	return 0, false
}

// withThreshold returns tracestate ts with its ot member's th set.
func withThreshold(ts string, th uint64) string {
	field := "th:" + ThresholdString(th)
	var members []string
	ot := "ot=" + field
	for _, m := range strings.Split(ts, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if v, ok := strings.CutPrefix(m, "ot="); ok {
			var fs []string
			for _, f := range strings.Split(v, ";") {
				if f != "" && !strings.HasPrefix(f, "th:") {
					fs = append(fs, f)
				}
			}
			ot = "ot=" + strings.Join(append([]string{field}, fs...), ";")
			continue
		}
		members = append(members, m)
	}
	// The modified member moves to the front, as W3C asks.
	return strings.Join(append([]string{ot}, members...), ",")
}
