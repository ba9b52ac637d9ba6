// Package tail is tail-based sampling: it holds each trace's spans until
// the trace is complete, then keeps or drops the whole trace by policies.
//
// The sampler does not keep span data. Spans are already in the store's
// write-ahead log when they are offered, so for each held trace it keeps a
// small summary (times, policy flags, root service) and the positions of the
// WAL records that hold its spans. When it decides, the store reads the
// records of the kept traces back and appends their spans to the head;
// records stay in the WAL, and so survive a restart, while a trace that
// has spans in them is undecided. That makes a held span cost tens of
// bytes, not hundreds.
package tail

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/wal"
)

// Span attributes set on every span of a kept trace.
const (
	AttrPolicy        = model.AttrSamplingPolicy
	AttrAdjustedCount = model.AttrAdjustedCount
)

// Defaults of zero Config fields.
const (
	DefaultIdle          = 5 * time.Second
	DefaultMaxWait       = 30 * time.Second
	DefaultMaxBytes      = 64 << 20
	DefaultDecisionCache = 200_000
	tick                 = 100 * time.Millisecond
)

// Config configures a Sampler.
type Config struct {
	// A trace is decided once its root span has arrived and no span has
	// arrived for Idle, or MaxWait after its first span, whichever is first.
	Idle    time.Duration
	MaxWait time.Duration
	// MaxBytes bounds the memory held for undecided traces; past it the
	// traces due soonest are decided early.
	MaxBytes int64
	// DecisionCache is how many decided traces are remembered so that
	// their late spans follow the decision.
	DecisionCache int
	// Policies: a trace is kept when one of them keeps it, unless a drop
	// policy matches.
	Policies []Policy
	// Compile builds the predicates of condition and drop policies.
	Compile CompileFunc
}

// Estimated memory of held state, counted against MaxBytes: the trace map
// entry and summary, the wheel entry, and 4 bytes per record reference.
// BenchmarkHeldMemory measures the real figure.
const (
	traceCost  = 192
	recRefCost = 4
	recordCost = 32
)

// traceState is what the sampler holds for an undecided trace.
type traceState struct {
	id               model.TraceID
	first, last      int64 // arrival, unix nanoseconds
	minStart, maxEnd int64
	spans            int32
	flags            uint32
	root             bool
	headTh           uint64 // head sampling threshold seen on its spans
	// headP is the probability its root says a head sampler kept it with
	// (Jaeger's sampler.type = probabilistic and sampler.param), 0 if
	// none: an independent draw, unlike headTh.
	headP       float64
	rootService string
	recs        []uint32
}

// verdict is a decision, remembered for late spans.
type verdict struct {
	keep   bool
	policy string
	weight float64
	th     uint64 // the trace's effective sampling threshold, 0 if kept with certainty
	hasTh  bool
}

type record struct {
	pos  wal.Pos
	refs int32
}

// Stats is what the sampler did since it started.
type Stats struct {
	HeldTraces, HeldSpans int64
	HeldBytes             int64
	TracesKept            uint64
	TracesDropped         uint64
	SpansKept             uint64
	SpansDropped          uint64
	LateSpansKept         uint64
	LateSpansDropped      uint64
	EarlyDecisions        uint64
	Policies              []PolicyStats
}

// PolicyStats counts what one top-level policy did: Kept traces it kept
// (the first policy that keeps a trace is its reason); Matched traces that
// met its condition; OverBudget matches its rate limit or budget refused;
// Evaluated traces it saw.
type PolicyStats struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Kept       uint64 `json:"kept"`
	Matched    uint64 `json:"matched"`
	OverBudget uint64 `json:"overBudget"`
	Evaluated  uint64 `json:"evaluated"`
}

// Sampler holds traces and decides them. It is safe for concurrent use.
type Sampler struct {
	cfg      Config
	policies []*policy
	drops    []*policy
	spanPols []*policy // policies with span-level flags, top level
	now      func() time.Time

	mu      sync.Mutex
	traces  map[model.TraceID]*traceState
	wheel   [][]model.TraceID
	slot    int64 // next slot to process
	recs    []record
	recBase uint32 // id of recs[0]
	bytes   int64
	spans   int64
	decided map[model.TraceID]verdict
	ring    []model.TraceID // decided, in order, for eviction
	ringPos int
	stats   Stats
}

// New compiles the policies and returns a Sampler.
func New(cfg Config, now func() time.Time) (*Sampler, error) {
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.MaxWait < cfg.Idle {
		return nil, errors.New("max_wait must not be shorter than idle")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.DecisionCache <= 0 {
		cfg.DecisionCache = DefaultDecisionCache
	}
	if len(cfg.Policies) == 0 {
		return nil, errors.New("no policies: with none, every trace would be dropped")
	}
	if now == nil {
		now = time.Now
	}
	var bit uint32
	ps, err := compile(cfg.Policies, true, &bit, map[string]bool{}, cfg.Compile)
	if err != nil {
		return nil, err
	}
	s := &Sampler{cfg: cfg, now: now, traces: map[model.TraceID]*traceState{},
		decided: map[model.TraceID]verdict{}, ring: make([]model.TraceID, cfg.DecisionCache)}
	for _, p := range ps {
		if p.typ == TypeDrop {
			s.drops = append(s.drops, p)
		} else {
			s.policies = append(s.policies, p)
		}
		if p.bit != 0 || len(p.subs) > 0 {
			s.spanPols = append(s.spanPols, p)
		}
	}
	if len(s.policies) == 0 {
		return nil, errors.New("only drop policies: every trace would be dropped")
	}
	s.wheel = make([][]model.TraceID, int(cfg.MaxWait/tick)+2)
	s.slot = now().UnixNano() / int64(tick)
	return s, nil
}

// Overloaded reports whether held state is far over its budget (twice
// MaxBytes), when the store should refuse new spans until decisions catch
// up.
func (s *Sampler) Overloaded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes > 2*s.cfg.MaxBytes
}

// Offer takes a batch the store has written to the WAL record at pos. It
// holds the spans of undecided traces, drops late spans of dropped traces,
// and returns the late spans of kept traces, annotated, for the store to
// append at once (reusing spans' backing array).
func (s *Sampler) Offer(spans []model.Span, pos wal.Pos) []model.Span {
	now := s.now().UnixNano()
	pass := spans[:0]
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := uint32(0)
	haveRec := false
	for i := range spans {
		sp := &spans[i]
		if v, ok := s.decided[sp.TraceID]; ok {
			if v.keep {
				annotate(sp, &v)
				pass = append(pass, *sp)
				s.stats.LateSpansKept++
			} else {
				s.stats.LateSpansDropped++
			}
			continue
		}
		t := s.traces[sp.TraceID]
		if t == nil {
			t = &traceState{id: sp.TraceID, first: now, minStart: math.MaxInt64, maxEnd: math.MinInt64}
			s.traces[sp.TraceID] = t
			s.bytes += traceCost
			s.schedule(sp.TraceID, now+int64(s.cfg.Idle))
		}
		t.last = now
		t.spans++
		s.spans++
		t.minStart = min(t.minStart, sp.Start)
		t.maxEnd = max(t.maxEnd, sp.End)
		if sp.ParentID.IsZero() {
			if !t.root && t.first != now {
				s.schedule(sp.TraceID, now+int64(s.cfg.Idle)) // was waiting for MaxWait
			}
			t.root = true
			t.rootService = sp.Service()
			if typ, p := model.SamplerTags(sp); typ == "probabilistic" && p > 0 && p < 1 {
				t.headP = p
			}
		} else if t.rootService == "" {
			t.rootService = sp.Service()
		}
		if sp.TraceState != "" {
			if th, ok := parseThreshold(sp.TraceState); ok {
				t.headTh = max(t.headTh, th)
			}
		}
		for _, p := range s.spanPols {
			t.flags |= p.spanFlags(sp)
		}
		for _, p := range s.drops {
			t.flags |= p.spanFlags(sp)
		}
		if !haveRec {
			rec = s.recBase + uint32(len(s.recs))
			s.recs = append(s.recs, record{pos: pos})
			s.bytes += recordCost
			haveRec = true
		}
		if n := len(t.recs); n == 0 || t.recs[n-1] != rec {
			t.recs = append(t.recs, rec)
			s.recs[rec-s.recBase].refs++
			s.bytes += recRefCost
		}
	}
	return pass
}

// schedule puts the trace in the wheel slot that starts at or after at
// (and never in one already taken for processing).
func (s *Sampler) schedule(id model.TraceID, at int64) {
	slot := max((at+int64(tick)-1)/int64(tick), s.slot)
	if last := s.slot + int64(len(s.wheel)) - 1; slot > last {
		slot = last
	}
	i := slot % int64(len(s.wheel))
	s.wheel[i] = append(s.wheel[i], id)
}

// due returns when t is due: Idle after its last span once its root has
// arrived, MaxWait after its first span in any case.
func (s *Sampler) due(t *traceState) int64 {
	d := t.first + int64(s.cfg.MaxWait)
	if t.root {
		d = min(d, t.last+int64(s.cfg.Idle))
	}
	return d
}

// Read is one WAL record to read back and the kept traces whose spans in it
// go to the store.
type Read struct {
	Pos    wal.Pos
	Traces map[model.TraceID]*Kept
}

// Kept is the decision for a kept trace; Annotate applies it to a span.
type Kept struct{ v verdict }

// Annotate marks a span of a kept trace with its policy and weight.
func (k *Kept) Annotate(sp *model.Span) { annotate(sp, &k.v) }

// Batch is the outcome of one Decide: the records to read back and the
// record references to release once their spans are stored.
type Batch struct {
	Reads   []Read
	release []uint32
	Kept    int
	Dropped int
}

// Empty reports whether the batch decided nothing.
func (b *Batch) Empty() bool { return len(b.release) == 0 }

// Decide decides the traces that are due (and, over the memory budget, the
// ones due soonest). Their later spans follow the decision from now on.
// The caller reads b.Reads, stores the spans of the kept traces, and then
// calls Release(b) in the same critical section as the store's append, so
// that the WAL records are never both released and not yet in the head.
func (s *Sampler) Decide() *Batch {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &Batch{}
	reads := map[uint32]map[model.TraceID]*Kept{}
	decide := func(t *traceState) {
		v := s.decideLocked(t, now)
		delete(s.traces, t.id)
		s.bytes -= traceCost + int64(len(t.recs))*recRefCost
		s.spans -= int64(t.spans)
		s.remember(t.id, v)
		if v.keep {
			b.Kept++
			s.stats.TracesKept++
			s.stats.SpansKept += uint64(t.spans)
			k := &Kept{v: v}
			for _, r := range t.recs {
				m := reads[r]
				if m == nil {
					m = map[model.TraceID]*Kept{}
					reads[r] = m
				}
				m[t.id] = k
			}
		} else {
			b.Dropped++
			s.stats.TracesDropped++
			s.stats.SpansDropped += uint64(t.spans)
		}
		b.release = append(b.release, t.recs...)
	}
	for cur := now / int64(tick); s.slot <= cur; {
		i := s.slot % int64(len(s.wheel))
		ids := s.wheel[i]
		s.wheel[i] = nil
		s.slot++
		for _, id := range ids {
			t := s.traces[id]
			if t == nil {
				continue // decided early
			}
			if d := s.due(t); d > now {
				s.schedule(id, d)
				continue
			}
			decide(t)
		}
	}
	// Over budget: decide the traces due soonest.
	for j := int64(0); s.bytes > s.cfg.MaxBytes*9/10 && j < int64(len(s.wheel)); j++ {
		i := (s.slot + j) % int64(len(s.wheel))
		ids := s.wheel[i]
		k := 0
		for ; k < len(ids) && s.bytes > s.cfg.MaxBytes*9/10; k++ {
			if t := s.traces[ids[k]]; t != nil {
				s.stats.EarlyDecisions++
				decide(t)
			}
		}
		s.wheel[i] = ids[k:]
	}
	for r, m := range reads {
		b.Reads = append(b.Reads, Read{Pos: s.recs[r-s.recBase].pos, Traces: m})
	}
	slices.SortFunc(b.Reads, func(x, y Read) int {
		return cmp.Or(cmp.Compare(x.Pos.Segment, y.Pos.Segment), cmp.Compare(x.Pos.Offset, y.Pos.Offset))
	})
	return b
}

// Release drops the batch's references to WAL records.
func (s *Sampler) Release(b *Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range b.release {
		s.recs[r-s.recBase].refs--
	}
	n := 0
	for n < len(s.recs) && s.recs[n].refs == 0 {
		n++
	}
	if n > 0 {
		s.recs = append(s.recs[:0], s.recs[n:]...)
		s.recBase += uint32(n)
		s.bytes -= int64(n) * recordCost
	}
}

// MinSegment returns the oldest WAL segment that holds spans of undecided
// traces (or of decided ones not yet released), or math.MaxInt if none.
func (s *Sampler) MinSegment() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.refs > 0 {
			return r.pos.Segment
		}
	}
	return math.MaxInt
}

func (s *Sampler) remember(id model.TraceID, v verdict) {
	if old := s.ring[s.ringPos]; !old.IsZero() {
		delete(s.decided, old)
	}
	s.ring[s.ringPos] = id
	s.ringPos = (s.ringPos + 1) % len(s.ring)
	s.decided[id] = v
}

// decideLocked runs the policies over a complete trace.
func (s *Sampler) decideLocked(t *traceState, now int64) verdict {
	for _, p := range s.drops {
		if t.flags&p.bit != 0 {
			p.stats.Evaluated++
			p.stats.Matched++
			return verdict{policy: p.name}
		}
	}
	var v verdict
	miss := 1.0 // probability that no policy keeps a trace like this one
	probOnly := true
	var th uint64
	for _, p := range s.policies {
		p.stats.Evaluated++
		ok, pi := p.match(t)
		if !ok {
			continue
		}
		p.stats.Matched++
		miss *= 1 - pi
		if p.typ == TypeProbabilistic {
			th = max(th, p.th)
		} else {
			probOnly = false
		}
		if v.keep {
			continue
		}
		if !p.allow(t, now) {
			p.stats.OverBudget++
			continue
		}
		p.stats.Kept++
		v.keep, v.policy = true, p.name
	}
	if !v.keep {
		return verdict{}
	}
	// The adjusted count is the inverse of the probability that the trace
	// was kept: by the head sampler (its th, or the probability its root
	// reports) and then by these policies.
	const max56 = 1 << 56
	headW := float64(max56) / float64(max56-t.headTh)
	if t.headTh == 0 && t.headP > 0 {
		// Not consistent with the trace ID's randomness: the head's draw
		// and the policies' are independent, and no th describes both.
		headW = 1 / t.headP
		probOnly = false
	}
	if probOnly && th > 0 {
		// Only consistent probabilistic policies keep it: the effective
		// threshold is the largest of head's and theirs (same randomness).
		eff := max(th, t.headTh)
		v.th, v.hasTh = eff, true
		v.weight = round12(float64(max56) / float64(max56-eff))
		return v
	}
	v.weight = round12(headW / max(1-miss, 1e-9))
	return v
}

// round12 rounds to 12 significant digits: thresholds are 56-bit
// fractions, so 1/(1-0.9) comes out as 10.000000000000002.
func round12(x float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
	return r
}

// AnnotateAttrs is how many attributes Annotate appends to a span.
const AnnotateAttrs = 2

func annotate(sp *model.Span, v *verdict) {
	sp.Attrs = append(sp.Attrs,
		model.Attr{Key: AttrPolicy, Type: model.TypeStr, Str: v.policy},
		model.Attr{Key: AttrAdjustedCount, Type: model.TypeDouble, Num: math.Float64bits(v.weight)})
	if v.hasTh {
		sp.TraceState = withThreshold(sp.TraceState, v.th)
	}
}

// Stats returns counters and the held state.
func (s *Sampler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.HeldTraces, st.HeldSpans, st.HeldBytes = int64(len(s.traces)), s.spans, s.bytes
	for _, p := range append(slices.Clone(s.drops), s.policies...) {
		st.Policies = append(st.Policies, PolicyStats{Name: p.name, Type: p.typ,
			Kept: p.stats.Kept, Matched: p.stats.Matched, OverBudget: p.stats.OverBudget, Evaluated: p.stats.Evaluated})
	}
	return st
}
