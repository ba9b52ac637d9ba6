package tail

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
	"github.com/ariadne-tracing/ariadne/internal/store/wal"
)

// compileTraceQL is what the server passes as Config.Compile.
func compileTraceQL(q string) (func(*model.Span) bool, error) {
	p, err := traceql.Parse(q)
	if err != nil {
		return nil, err
	}
	if f := p.SpanFilter(); f != nil {
		return f, nil
	}
	return nil, errors.New("must be one spanset filter")
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func traceID(n uint64, rnd uint64) model.TraceID {
	var id model.TraceID
	binary.BigEndian.PutUint64(id[:8], n)
	binary.BigEndian.PutUint64(id[8:], rnd)
	return id
}

var resources = map[string]*model.Resource{}

func res(svc string) *model.Resource {
	if r := resources[svc]; r != nil {
		return r
	}
	r := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: svc}}}
	resources[svc] = r
	return r
}

// span builds a span of trace id; parent 0 makes it the root.
func span(id model.TraceID, n, parent byte, svc, name string, dur time.Duration, status int8, attrs ...model.Attr) model.Span {
	start := int64(1_700_000_000_000_000_000) + int64(n)*1000
	s := model.Span{TraceID: id, Name: name, Start: start, End: start + int64(dur), StatusCode: status,
		Resource: res(svc), Scope: &model.Scope{}, Attrs: attrs}
	s.SpanID[7] = n
	if parent != 0 {
		s.ParentID[7] = parent
	}
	return s
}

func str(k, v string) model.Attr { return model.Attr{Key: k, Type: model.TypeStr, Str: v} }

// decideAll offers each trace's spans as one record, waits out the idle
// time, and returns the verdict per trace.
func decideAll(t *testing.T, s *Sampler, c *clock, traces map[string][]model.Span) map[string]verdict {
	t.Helper()
	ids := map[model.TraceID]string{}
	for name, spans := range traces {
		ids[spans[0].TraceID] = name
		if pass := s.Offer(spans, wal.Pos{Segment: 1}); len(pass) != 0 {
			t.Fatalf("trace %s: %d spans passed before any decision", name, len(pass))
		}
	}
	c.advance(s.cfg.Idle + tick)
	b := s.Decide()
	s.Release(b)
	out := map[string]verdict{}
	for id, name := range ids {
		v, ok := s.decided[id]
		if !ok {
			t.Fatalf("trace %s not decided after the idle time", name)
		}
		out[name] = v
	}
	return out
}

func TestPolicyTable(t *testing.T) {
	const ms = time.Millisecond
	lowRnd, highRnd := uint64(1), uint64(1<<56-1) // probabilistic: never / always
	traces := func() map[string][]model.Span {
		a, b, c, d, e, f := traceID(1, lowRnd), traceID(2, lowRnd), traceID(3, highRnd), traceID(4, lowRnd), traceID(5, lowRnd), traceID(6, lowRnd)
		return map[string][]model.Span{
			"ok-fast":      {span(a, 1, 0, "web", "GET /", 10*ms, 0), span(a, 2, 1, "db", "SELECT", 5*ms, 0)},
			"error":        {span(b, 1, 0, "web", "GET /", 10*ms, 0), span(b, 2, 1, "db", "SELECT", 5*ms, model.StatusError)},
			"lucky":        {span(c, 1, 0, "web", "GET /", 10*ms, 0)},
			"slow-trace":   {span(d, 1, 0, "web", "GET /", 3000*ms, 0)},
			"slow-db":      {span(e, 1, 0, "web", "GET /", 900*ms, 0), span(e, 2, 1, "db", "SELECT", 800*ms, 0)},
			"health-check": {span(f, 1, 0, "web", "GET /healthz", 1*ms, model.StatusError, str("http.route", "/healthz"))},
		}
	}
	cases := []struct {
		name     string
		policies []Policy
		kept     map[string]string // trace -> policy that keeps it; absent = dropped
	}{
		{"error", []Policy{{Name: "e", Type: TypeError}},
			map[string]string{"error": "e", "health-check": "e"}},
		{"trace latency", []Policy{{Name: "slow", Type: TypeLatency, Threshold: 2 * time.Second}},
			map[string]string{"slow-trace": "slow"}},
		{"service and operation latency", []Policy{{Name: "db", Type: TypeLatency, Threshold: 500 * ms, Service: "db", Operation: "SELECT"}},
			map[string]string{"slow-db": "db"}},
		{"condition", []Policy{{Name: "c", Type: TypeCondition, Query: `{ resource.service.name = "db" && duration > 100ms }`}},
			map[string]string{"slow-db": "c"}},
		{"probabilistic", []Policy{{Name: "p", Type: TypeProbabilistic, Probability: 0.5}},
			map[string]string{"lucky": "p"}},
		{"first policy is the reason", []Policy{{Name: "e", Type: TypeError}, {Name: "all", Type: TypeProbabilistic, Probability: 1}},
			map[string]string{"error": "e", "health-check": "e", "ok-fast": "all", "lucky": "all", "slow-trace": "all", "slow-db": "all"}},
		{"drop wins", []Policy{{Name: "hc", Type: TypeDrop, Query: `{ span.http.route = "/healthz" }`}, {Name: "e", Type: TypeError}},
			map[string]string{"error": "e"}},
		{"and", []Policy{{Name: "slow-db-or-err", Type: TypeAnd, Policies: []Policy{
			{Type: TypeLatency, Threshold: 500 * ms},
			{Type: TypeCondition, Query: `{ resource.service.name = "db" }`}}}},
			map[string]string{"slow-db": "slow-db-or-err"}},
		{"or", []Policy{{Name: "either", Type: TypeOr, Policies: []Policy{
			{Type: TypeError}, {Type: TypeLatency, Threshold: 2 * time.Second}}}},
			map[string]string{"error": "either", "health-check": "either", "slow-trace": "either"}},
		{"span count", []Policy{{Name: "big", Type: TypeSpanCount, MinSpans: 2}},
			map[string]string{"ok-fast": "big", "error": "big", "slow-db": "big"}},
		{"span count range", []Policy{{Name: "one", Type: TypeSpanCount, MinSpans: 1, MaxSpans: 1}},
			map[string]string{"lucky": "one", "slow-trace": "one", "health-check": "one"}},
		{"rate limit", []Policy{{Name: "one", Type: TypeRateLimit, TracesPerSecond: 1}},
			nil}, // checked by count below
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			s, err := New(Config{Policies: tc.policies, Compile: compileTraceQL}, c.now)
			if err != nil {
				t.Fatal(err)
			}
			got := decideAll(t, s, c, traces())
			if tc.kept == nil { // rate limit: exactly one of six
				n := 0
				for _, v := range got {
					if v.keep {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("rate limit 1/s kept %d of 6 traces decided in one second", n)
				}
				return
			}
			for name, v := range got {
				want, keep := tc.kept[name]
				if v.keep != keep || (keep && v.policy != want) {
					t.Errorf("%s: keep=%v policy=%q, want keep=%v policy=%q", name, v.keep, v.policy, keep, want)
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		p    []Policy
		want string
	}{
		{nil, "no policies"},
		{[]Policy{{Type: TypeError}}, "name is required"},
		{[]Policy{{Name: "a", Type: "errors"}}, `unknown type "errors"`},
		{[]Policy{{Name: "a", Type: TypeError}, {Name: "a", Type: TypeError}}, "name used twice"},
		{[]Policy{{Name: "a", Type: TypeProbabilistic, Probability: 1.5}}, "probability must be in (0, 1]"},
		{[]Policy{{Name: "a", Type: TypeLatency}}, "positive threshold"},
		{[]Policy{{Name: "a", Type: TypeCondition, Query: "{ span.a = }"}}, "query:"},
		{[]Policy{{Name: "a", Type: TypeCondition, Query: "{ .a } >> { .b }"}}, "must be one spanset filter"},
		{[]Policy{{Name: "a", Type: TypeError, Probability: 0.5}}, "probability does not apply to type error"},
		{[]Policy{{Name: "a", Type: TypeDrop, Query: "{ .a }"}}, "only drop policies"},
		{[]Policy{{Name: "a", Type: TypeAnd}}, "needs sub-policies"},
		{[]Policy{{Name: "a", Type: TypeSpanCount}}, "span_count needs min_spans or max_spans"},
		{[]Policy{{Name: "a", Type: TypeSpanCount, MinSpans: 10, MaxSpans: 5}}, "max_spans 5 is less than min_spans 10"},
		{[]Policy{{Name: "a", Type: TypeError, MinSpans: 3}}, "min_spans does not apply to type error"},
	} {
		_, err := New(Config{Policies: tc.p, Compile: compileTraceQL}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tc.p, err, tc.want)
		}
	}
}

func TestLateSpansFollowDecision(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := New(Config{Policies: []Policy{{Name: "e", Type: TypeError}}}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	keep, drop := traceID(1, 5), traceID(2, 5)
	s.Offer([]model.Span{span(keep, 1, 0, "web", "GET", time.Millisecond, model.StatusError), span(drop, 1, 0, "web", "GET", time.Millisecond, 0)}, wal.Pos{Segment: 1, Offset: 7})
	c.advance(DefaultIdle + tick)
	b := s.Decide()
	if b.Kept != 1 || b.Dropped != 1 || len(b.Reads) != 1 || b.Reads[0].Pos.Offset != 7 {
		t.Fatalf("decision batch %+v", b)
	}
	if got := s.MinSegment(); got != 1 {
		t.Fatalf("MinSegment before Release = %d, want 1", got)
	}
	s.Release(b)
	if got := s.MinSegment(); got != math.MaxInt {
		t.Fatalf("MinSegment after Release = %d", got)
	}
	late := s.Offer([]model.Span{span(keep, 2, 1, "db", "q", 1, 0), span(drop, 2, 1, "db", "q", 1, 0), span(keep, 3, 1, "db", "q", 1, 0)}, wal.Pos{Segment: 2})
	if len(late) != 2 || late[0].TraceID != keep || late[1].TraceID != keep {
		t.Fatalf("late spans passed: %+v", late)
	}
	if v := late[0].Attrs[len(late[0].Attrs)-2]; v.Key != AttrPolicy || v.Str != "e" {
		t.Fatalf("late span not annotated: %+v", late[0].Attrs)
	}
	st := s.Stats()
	if st.LateSpansKept != 2 || st.LateSpansDropped != 1 || st.HeldTraces != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWaitsForRootOrMaxWait(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := New(Config{Idle: time.Second, MaxWait: 10 * time.Second,
		Policies: []Policy{{Name: "all", Type: TypeProbabilistic, Probability: 1}}}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	noRoot, root := traceID(1, 1), traceID(2, 1)
	s.Offer([]model.Span{span(noRoot, 2, 1, "db", "q", 1, 0), span(root, 2, 1, "db", "q", 1, 0)}, wal.Pos{Segment: 1})
	c.advance(3 * time.Second)
	if b := s.Decide(); !b.Empty() {
		t.Fatalf("decided %d+%d traces without roots before max wait", b.Kept, b.Dropped)
	}
	s.Offer([]model.Span{span(root, 1, 0, "web", "GET", 1, 0)}, wal.Pos{Segment: 1, Offset: 100})
	c.advance(500 * time.Millisecond)
	if b := s.Decide(); !b.Empty() {
		t.Fatal("decided before the idle time after the root")
	}
	c.advance(600 * time.Millisecond)
	b := s.Decide()
	if b.Kept != 1 || len(b.Reads) != 2 {
		t.Fatalf("after root + idle: kept %d, reads %d; want 1 trace in 2 records", b.Kept, len(b.Reads))
	}
	if _, ok := b.Reads[0].Traces[root]; !ok {
		t.Fatal("the decided trace is not the one with the root")
	}
	s.Release(b)
	c.advance(6 * time.Second) // 10.1s after the first span
	b = s.Decide()
	if b.Kept != 1 {
		t.Fatalf("trace without root not decided at max wait: %+v", b)
	}
}

func TestMemoryBudget(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	const budget = 100 * traceCost
	s, err := New(Config{MaxBytes: budget, Policies: []Policy{{Name: "e", Type: TypeError}}}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	// A flood of traces that never complete: no root, spans keep coming.
	for i := 0; i < 100; i++ {
		var spans []model.Span
		for j := 0; j < 50; j++ {
			spans = append(spans, span(traceID(uint64(i*50+j)+1, 9), 2, 1, "db", "q", 1, 0))
		}
		s.Offer(spans, wal.Pos{Segment: 1 + i/10, Offset: int64(i)})
		c.advance(10 * time.Millisecond)
		s.Release(s.Decide())
		if st := s.Stats(); st.HeldBytes > 2*budget {
			t.Fatalf("after %d batches: %d bytes held, budget %d", i+1, st.HeldBytes, budget)
		}
	}
	st := s.Stats()
	if st.EarlyDecisions == 0 || st.HeldBytes > budget {
		t.Fatalf("budget not enforced: %+v", st)
	}
	if s.Overloaded() {
		t.Fatal("overloaded after deciding early")
	}
}

func TestThreshold(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		want string
	}{{1, "0"}, {0.5, "8"}, {0.25, "c"}, {0.1, "e666666666666"}, {1.0 / 16, "f"}} {
		got := ThresholdString(Threshold(tc.p))
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("p=%g: th %q, want prefix %q", tc.p, got, tc.want)
		}
		if th, ok := parseThreshold("ot=th:" + got); !ok || math.Abs(float64(th)-float64(Threshold(tc.p))) > 1<<8 {
			t.Errorf("p=%g: parse %q = %d %v", tc.p, got, th, ok)
		}
	}
	if got := withThreshold("vendor=x,ot=rv:abc;th:8", Threshold(0.25)); got != "ot=th:c;rv:abc,vendor=x" {
		t.Errorf("withThreshold = %q", got)
	}
}

// errorsAndTenth is a sampler keeping errors and 10% of the rest, and its
// clock.
func errorsAndTenth(t *testing.T) (*Sampler, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := New(Config{DecisionCache: 1000, Policies: []Policy{
		{Name: "errors", Type: TypeError},
		{Name: "baseline", Type: TypeProbabilistic, Probability: 0.1}}}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// xorshift returns a fixed, reproducible random sequence.
func xorshift(seed uint64) func() uint64 {
	return func() uint64 {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return seed
	}
}

// TestWeightsAreInverseProbabilities: 10% probabilistic plus keep-errors;
// the sum of adjusted counts over kept traces estimates the number of
// traces within 2%.
func TestWeightsAreInverseProbabilities(t *testing.T) {
	s, c := errorsAndTenth(t)
	next := xorshift(42)
	const n = 400_000
	est, errEst, errTrue := 0.0, 0.0, 0
	for i := 0; i < n; i++ {
		id := traceID(uint64(i), next())
		status := int8(0)
		if next()%100 < 3 {
			status = model.StatusError
			errTrue++
		}
		s.Offer([]model.Span{span(id, 1, 0, "web", "GET", 1, status)}, wal.Pos{Segment: 1, Offset: int64(i)})
		if i%1000 == 999 {
			decideKept(s, c, func(v verdict) {
				est += v.weight
				if v.policy == "errors" {
					errEst += v.weight
				}
			})
		}
	}
	if rel := math.Abs(est-n) / n; rel > 0.02 {
		t.Fatalf("estimated %.0f traces from kept ones, true %d (%.2f%% off)", est, n, 100*rel)
	}
	if errEst != float64(errTrue) {
		t.Fatalf("errors are kept with weight 1: estimated %.0f, true %d", errEst, errTrue)
	}
	t.Logf("estimated %.0f of %d traces (%.3f%% off)", est, n, 100*math.Abs(est-n)/n)
}

// decideKept lets the traces offered so far go idle, decides, calls fn
// with the verdict of every kept trace and releases the batch.
func decideKept(s *Sampler, c *clock, fn func(verdict)) {
	c.advance(DefaultIdle + tick)
	b := s.Decide()
	for _, r := range b.Reads {
		for _, k := range r.Traces {
			fn(k.v)
		}
	}
	s.Release(b)
}

// TestHeadSamplingWeights: traces a head sampler kept with probability p
// (Jaeger's sampler.type/sampler.param tags on the root, which the sdk's
// samplers set) weigh 1/p times more, so counts estimate the traffic before
// head sampling too; a threshold in the tracestate wins over the tags.
func TestHeadSamplingWeights(t *testing.T) {
	s, c := errorsAndTenth(t)
	next := xorshift(7)
	headTags := []model.Attr{str(model.AttrSamplerType, "probabilistic"),
		{Key: model.AttrSamplerParam, Type: model.TypeDouble, Num: math.Float64bits(0.25)}}
	const n = 1_600_000 // traces before head sampling
	est, errEst, errTrue := 0.0, 0.0, 0
	weights := map[string]map[float64]bool{"errors": {}, "baseline": {}}
	for i := 0; i < n; i++ {
		id := traceID(uint64(i), next())
		failed := next()%100 < 3
		if failed {
			errTrue++
		}
		if next()%4 != 0 { // the head sampler drops 3 in 4
			continue
		}
		status := int8(0)
		if failed {
			status = model.StatusError
		}
		s.Offer([]model.Span{span(id, 1, 0, "web", "GET", 1, status, headTags...)}, wal.Pos{Segment: 1, Offset: int64(i)})
		if i%4000 == 3999 {
			decideKept(s, c, func(v verdict) {
				est += v.weight
				weights[v.policy][v.weight] = true
				if v.policy == "errors" {
					errEst += v.weight
				}
				if v.hasTh {
					t.Fatalf("a th was set for a trace whose head draw was independent")
				}
			})
		}
	}
	if rel := math.Abs(est-n) / n; rel > 0.02 {
		t.Fatalf("estimated %.0f traces, true %d before head sampling (%.2f%% off)", est, n, 100*rel)
	}
	if rel := math.Abs(errEst-float64(errTrue)) / float64(errTrue); rel > 0.05 {
		t.Fatalf("error traces: estimated %.0f, true %d", errEst, errTrue)
	}
	if !weights["errors"][4] || len(weights["errors"]) != 1 || !weights["baseline"][40] || len(weights["baseline"]) != 1 {
		t.Fatalf("weights by policy: %v, want errors 4 and baseline 40", weights)
	}

	// With a consistent head threshold in the tracestate (p = 0.5), the
	// tags are not counted again: kept by errors, the weight is 2.
	id := traceID(1<<40, 1<<55) // randomness 2^55: kept by head th 0.5
	sp := span(id, 1, 0, "web", "GET", 1, model.StatusError, headTags...)
	sp.TraceState = "ot=th:8"
	s.Offer([]model.Span{sp}, wal.Pos{Segment: 2})
	c.advance(DefaultIdle + tick)
	b := s.Decide()
	k := b.Reads[0].Traces[id]
	if k == nil || k.v.weight != 2 {
		t.Fatalf("kept %v, want weight 2", k)
	}
	s.Release(b)
}
