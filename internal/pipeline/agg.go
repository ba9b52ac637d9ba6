package pipeline

import (
	"cmp"
	"slices"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// maxExemplars is how many slowest and how many failing exemplars each
// series keeps per minute.
const maxExemplars = 3

// SpanKey identifies a span-metrics series.
type SpanKey struct {
	Service string
	Name    string
	Kind    int8
	Status  int8
}

// EdgeKey identifies a service-graph edge. ConnType is "" (a direct call),
// "messaging_system", "database" or "virtual_node", as the OpenTelemetry
// Collector's servicegraph connector labels them.
type EdgeKey struct {
	Client   string
	Server   string
	ConnType string
}

// Exemplar points from a metric to a span behind it.
type Exemplar struct {
	TraceID  model.TraceID
	SpanID   model.SpanID
	Start    int64 // unix ns
	Duration int64 // ns
	Error    bool
}

// exemplars keeps the slowest and the slowest failing exemplars.
type exemplars struct {
	Slow   []Exemplar
	Failed []Exemplar
}

func keepTop(list []Exemplar, e Exemplar) []Exemplar {
	if len(list) == maxExemplars && !exemplarBefore(e, list[len(list)-1]) {
		return list
	}
	for _, x := range list {
		if x.TraceID == e.TraceID && x.SpanID == e.SpanID {
			return list
		}
	}
	i, _ := slices.BinarySearchFunc(list, e, func(a, b Exemplar) int {
		if exemplarBefore(a, b) {
			return -1
		}
		return 1
	})
	list = slices.Insert(list, i, e)
	if len(list) > maxExemplars {
		list = list[:maxExemplars]
	}
	return list
}

// exemplarBefore orders by duration descending, then IDs, so that merges
// are deterministic.
func exemplarBefore(a, b Exemplar) bool {
	if a.Duration != b.Duration {
		return a.Duration > b.Duration
	}
	if c := slices.Compare(a.TraceID[:], b.TraceID[:]); c != 0 {
		return c < 0
	}
	return slices.Compare(a.SpanID[:], b.SpanID[:]) < 0
}

func (x *exemplars) add(e Exemplar) {
	x.Slow = keepTop(x.Slow, e)
	if e.Error {
		x.Failed = keepTop(x.Failed, e)
	}
}

func (x *exemplars) merge(o *exemplars) {
	for _, e := range o.Slow {
		x.Slow = keepTop(x.Slow, e)
	}
	for _, e := range o.Failed {
		x.Failed = keepTop(x.Failed, e)
	}
}

// SpanStat is one span-metrics series in one minute.
type SpanStat struct {
	Calls   uint64
	Errors  uint64
	Latency Sketch
	exemplars
}

func (s *SpanStat) merge(o *SpanStat) {
	s.Calls += o.Calls
	s.Errors += o.Errors
	s.Latency.Merge(&o.Latency)
	s.exemplars.merge(&o.exemplars)
}

// EdgeStat is one service-graph edge in one minute. Client is the latency
// seen by the caller, Server the latency seen by the callee.
type EdgeStat struct {
	Calls  uint64
	Errors uint64
	Client Sketch
	Server Sketch
	exemplars
}

func (s *EdgeStat) merge(o *EdgeStat) {
	s.Calls += o.Calls
	s.Errors += o.Errors
	s.Client.Merge(&o.Client)
	s.Server.Merge(&o.Server)
	s.exemplars.merge(&o.exemplars)
}

// Minute holds every series of one minute.
type Minute struct {
	Spans map[SpanKey]*SpanStat
	Edges map[EdgeKey]*EdgeStat
}

func newMinute() *Minute {
	return &Minute{Spans: map[SpanKey]*SpanStat{}, Edges: map[EdgeKey]*EdgeStat{}}
}

// Data is a set of minutes keyed by unix minute (unix seconds / 60). All of
// it is mergeable: counts add, sketches merge, exemplars keep the top.
type Data map[int64]*Minute

func (d Data) minute(m int64) *Minute {
	x := d[m]
	if x == nil {
		x = newMinute()
		d[m] = x
	}
	return x
}

// Merge adds o into d. o is not retained.
func (d Data) Merge(o Data) {
	for m, om := range o {
		dm := d.minute(m)
		for k, s := range om.Spans {
			t := dm.Spans[k]
			if t == nil {
				t = &SpanStat{}
				dm.Spans[k] = t
			}
			t.merge(s)
		}
		for k, s := range om.Edges {
			t := dm.Edges[k]
			if t == nil {
				t = &EdgeStat{}
				dm.Edges[k] = t
			}
			t.merge(s)
		}
	}
}

// minutes returns d's minute keys in [from, to), sorted.
func (d Data) minutes(from, to int64) []int64 {
	var ms []int64
	for m := range d {
		if m >= from && m < to {
			ms = append(ms, m)
		}
	}
	slices.Sort(ms)
	return ms
}

func sortedKeys[K comparable, V any](m map[K]V, cmpf func(a, b K) int) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, cmpf)
	return ks
}

func cmpSpanKey(a, b SpanKey) int {
	return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Status, b.Status))
}

func cmpEdgeKey(a, b EdgeKey) int {
	return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Server, b.Server), cmp.Compare(a.ConnType, b.ConnType))
}
