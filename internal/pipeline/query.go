package pipeline

import (
	"cmp"
	"slices"
	"time"
)

// View returns a copy of every series with minutes in [from, to): what is
// committed, sealed and being derived. The caller owns the result.
func (p *Pipeline) View(from, to time.Time) Data {
	f, t := minuteFloor(from), minuteCeil(to)
	out := Data{}
	frozen := Data{}
	p.mu.Lock()
	for m, x := range p.committed {
		if m >= f && m < t {
			frozen[m] = x // committed minutes are never modified: merge them after unlocking
		}
	}
	for _, d := range []Data{p.sealed, p.cur} {
		for m, x := range d {
			if m >= f && m < t {
				out.Merge(Data{m: x})
			}
		}
	}
	p.mu.Unlock()
	out.Merge(frozen)
	return out
}

// cloneData returns a deep copy of d.
func cloneData(d Data) Data {
	out := Data{}
	out.Merge(d)
	return out
}

func minuteFloor(t time.Time) int64 {
	s := t.Unix()
	if s < 0 && t.Unix()%60 != 0 {
		return s/60 - 1
	}
	return s / 60
}

func minuteCeil(t time.Time) int64 {
	m := minuteFloor(t)
	if t.After(time.Unix(m*60, 0)) {
		m++
	}
	return m
}

// Filter selects span-metrics series. Empty fields match everything;
// Kinds is a set of span kinds (nil: all).
type Filter struct {
	Service string
	Name    string
	Kinds   []int8
}

func (f *Filter) match(k SpanKey) bool {
	return (f.Service == "" || f.Service == k.Service) && (f.Name == "" || f.Name == k.Name) &&
		(len(f.Kinds) == 0 || slices.Contains(f.Kinds, k.Kind))
}

// Stats summarise calls over an interval.
type Stats struct {
	Calls     uint64
	Errors    uint64
	Latency   Sketch
	Exemplars []Exemplar // slowest and failing, deduplicated, failing first
}

func (s *Stats) addSpan(x *SpanStat) {
	s.Calls += x.Calls
	s.Errors += x.Errors
	s.Latency.Merge(&x.Latency)
	s.addExemplars(&x.exemplars)
}

func (s *Stats) addExemplars(x *exemplars) {
	var e exemplars
	for _, v := range s.Exemplars {
		if v.Error {
			e.Failed = keepTop(e.Failed, v)
		}
		e.Slow = keepTop(e.Slow, v)
	}
	e.merge(x)
	s.Exemplars = s.Exemplars[:0]
	s.Exemplars = append(s.Exemplars, e.Failed...)
	for _, v := range e.Slow {
		if !slices.ContainsFunc(s.Exemplars, func(o Exemplar) bool { return o.TraceID == v.TraceID && o.SpanID == v.SpanID }) {
			s.Exemplars = append(s.Exemplars, v)
		}
	}
}

// Point is one step of a series.
type Point struct {
	Start time.Time
	Stats
}

// Series returns, for each step of [from, to), the calls, errors, latency
// and exemplars of the span series f selects. step is rounded up to whole
// minutes (the resolution of the data); steps are aligned to from.
func (p *Pipeline) Series(from, to time.Time, step time.Duration, f Filter) []Point {
	stepMin := int64((step + time.Minute - 1) / time.Minute)
	if stepMin < 1 {
		stepMin = 1
	}
	d := p.View(from, to)
	f0 := minuteFloor(from)
	n := (minuteCeil(to) - f0 + stepMin - 1) / stepMin
	pts := make([]Point, n)
	for i := range pts {
		pts[i].Start = time.Unix((f0+int64(i)*stepMin)*60, 0).UTC()
	}
	for m, x := range d {
		i := (m - f0) / stepMin
		if i < 0 || i >= n {
			continue
		}
		for k, s := range x.Spans {
			if f.match(k) {
				pts[i].addSpan(s)
			}
		}
	}
	return pts
}

// Operation is one span name (and kind) of a service over an interval.
type Operation struct {
	Service string
	Name    string
	Kind    int8
	Stats
}

// Operations returns every span name and kind that f selects over [from,
// to), most calls first (then by name).
func (p *Pipeline) Operations(from, to time.Time, f Filter) []Operation {
	type key struct {
		svc, name string
		kind      int8
	}
	acc := map[key]*Operation{}
	for _, x := range p.View(from, to) {
		for k, s := range x.Spans {
			if !f.match(k) {
				continue
			}
			kk := key{k.Service, k.Name, k.Kind}
			o := acc[kk]
			if o == nil {
				o = &Operation{Service: k.Service, Name: k.Name, Kind: k.Kind}
				acc[kk] = o
			}
			o.addSpan(s)
		}
	}
	out := make([]Operation, 0, len(acc))
	for _, o := range acc {
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b Operation) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

// Edge is one service-graph edge over an interval.
type Edge struct {
	EdgeKey
	Calls         uint64
	Errors        uint64
	ClientLatency Sketch
	ServerLatency Sketch
	Exemplars     []Exemplar
}

// Node is a service or a virtual node of the graph.
type Node struct {
	Name    string
	Virtual bool // seen only as a peer named by attributes, or "user"
}

// Graph returns the service graph over [from, to): nodes sorted by name,
// edges by client, server and connection type.
func (p *Pipeline) Graph(from, to time.Time) ([]Node, []Edge) {
	acc := map[EdgeKey]*Edge{}
	real := map[string]bool{}
	for _, x := range p.View(from, to) {
		for k := range x.Spans {
			real[k.Service] = true
		}
		for k, s := range x.Edges {
			e := acc[k]
			if e == nil {
				e = &Edge{EdgeKey: k}
				acc[k] = e
			}
			e.Calls += s.Calls
			e.Errors += s.Errors
			e.ClientLatency.Merge(&s.Client)
			e.ServerLatency.Merge(&s.Server)
			var st Stats
			st.Exemplars = e.Exemplars
			st.addExemplars(&s.exemplars)
			e.Exemplars = st.Exemplars
		}
	}
	nodes := map[string]bool{}
	edges := make([]Edge, 0, len(acc))
	for _, e := range acc {
		edges = append(edges, *e)
		nodes[e.Client], nodes[e.Server] = true, true
	}
	slices.SortFunc(edges, func(a, b Edge) int { return cmpEdgeKey(a.EdgeKey, b.EdgeKey) })
	out := make([]Node, 0, len(nodes))
	for n := range nodes {
		out = append(out, Node{Name: n, Virtual: !real[n]})
	}
	slices.SortFunc(out, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	return out, edges
}

// Totals returns per-key totals (for the Prometheus exposition): span
// series and edges summed over every minute retained at startup and every
// minute derived since. They only grow: retention does not lower them.
// Exemplars are left out. The caller owns the result.
func (p *Pipeline) Totals() (map[SpanKey]*SpanStat, map[EdgeKey]*EdgeStat) {
	t := Data{}
	p.mu.Lock()
	t.Merge(p.totals)
	addTotals(t, p.sealed)
	addTotals(t, p.cur)
	p.mu.Unlock()
	m := t.minute(0)
	return m.Spans, m.Edges
}

// addTotals sums every minute of d into minute 0 of t, without exemplars.
func addTotals(t, d Data) {
	tm := t.minute(0)
	for _, x := range d {
		for k, s := range x.Spans {
			ts := tm.Spans[k]
			if ts == nil {
				ts = &SpanStat{}
				tm.Spans[k] = ts
			}
			ts.Calls += s.Calls
			ts.Errors += s.Errors
			ts.Latency.Merge(&s.Latency)
		}
		for k, s := range x.Edges {
			ts := tm.Edges[k]
			if ts == nil {
				ts = &EdgeStat{}
				tm.Edges[k] = ts
			}
			ts.Calls += s.Calls
			ts.Errors += s.Errors
			ts.Client.Merge(&s.Client)
			ts.Server.Merge(&s.Server)
		}
	}
}

// CountAtMost returns how many recorded values are <= v nanoseconds,
// within the sketch's accuracy (values within sketchAlpha of v may fall on
// either side).
func (s *Sketch) CountAtMost(v float64) uint64 {
	if s.Count == 0 {
		return 0
	}
	if v >= float64(s.Max) {
		return s.Count
	}
	if v < float64(s.Min) {
		return 0
	}
	n := s.Zero
	for j, c := range s.counts {
		i := s.offset + int32(j)
		if 2*pow(i)/(sketchGamma+1) > v {
			break
		}
		n += uint64(c)
	}
	return n
}
