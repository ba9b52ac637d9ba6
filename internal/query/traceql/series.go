package traceql

import (
	"context"
	"math"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// MinuteSeries is implemented by storages that also keep span metrics per
// minute (package pipeline): counts and duration statistics of the spans
// of each service, span name, kind and status code, by the minute of their
// start. A metrics query whose filter and grouping use only those fields
// is then answered from the series for the whole minutes the series
// cover, and by scanning spans only for the rest of its range.
type MinuteSeries interface {
	// SeriesCompleteFrom returns the first unix minute from which the
	// series count every stored span starting in that minute or later.
	SeriesCompleteFrom() int64
	// SpanSeries calls fn for every series of every minute in [from, to)
	// (unix minutes).
	SpanSeries(from, to int64, fn func(minute int64, s *MinuteStat))
}

// MinuteStat is one span series in one minute. Service is "" for spans
// without a service.name; Overflow marks the series that collects spans
// past the per-minute series limit, whose Name is not theirs.
type MinuteStat struct {
	Service, Name  string
	Kind, Status   int8
	Overflow       bool
	Count          uint64
	DurSum         float64 // nanoseconds
	DurMin, DurMax int64   // nanoseconds
}

const minuteNs = int64(60e9)

// labels returns the labels of span i's series.
func (fn *metricsNode) labels(t *trace, i int) []Label {
	var labels []Label
	if len(fn.by) == 0 {
		labels = []Label{{defaultMetricName, Value{T: TypeString, S: fn.fn}}}
	}
	for _, a := range fn.by {
		if vs := t.lookup(a, i, true); len(vs) > 0 {
			labels = append(labels, Label{a.String(), vs[0]})
		}
	}
	if len(labels) == 0 {
		labels = []Label{{fn.by[0].String(), Value{T: TypeNil}}}
	}
	return labels
}

// add counts n values with the given sum, minimum and maximum in interval
// idx.
func (g *aggregator) add(idx int, n, sum, lo, hi float64) {
	g.count[idx] += n
	switch {
	case g.sum != nil:
		g.sum[idx] += sum
	case g.min != nil:
		if math.IsNaN(g.min[idx]) || lo < g.min[idx] {
			g.min[idx] = lo
		}
	case g.max != nil:
		if math.IsNaN(g.max[idx]) || hi > g.max[idx] {
			g.max[idx] = hi
		}
	}
}

// seriesField reports whether a is a field every span of one series
// shares: the resource's service.name, the span name, kind or status.
// usesName is set when it is the span name.
func seriesField(a *Attribute, usesName *bool) bool {
	if a.Parent {
		return false
	}
	switch a.Intrinsic {
	case IName:
		*usesName = true
		return true
	case IKind, IStatus:
		return true
	case INone:
		return a.Scope == ScopeResource && a.Name == "service.name"
	}
	return false
}

func seriesExpr(e FieldExpr, usesName *bool) bool {
	switch e := e.(type) {
	case *Static:
		return true
	case *Attribute:
		return seriesField(e, usesName)
	case *Binary:
		return seriesExpr(e.L, usesName) && seriesExpr(e.R, usesName)
	case *Unary:
		return seriesExpr(e.X, usesName)
	}
	return false
}

// seriesPlan says whether the pipeline can be answered from minute series:
// a single span filter over series fields, grouped by series fields, with
// a count, rate, or sum, average, minimum or maximum of the duration.
func (e *metricsPipeline) seriesPlan() (expr FieldExpr, usesName, ok bool) {
	fn := e.fn
	switch fn.fn {
	case "rate", "count_over_time":
	case "sum_over_time", "avg_over_time", "min_over_time", "max_over_time":
		if fn.attr == nil || fn.attr.Intrinsic != IDuration || fn.attr.Parent {
			return nil, false, false
		}
	default: // quantiles and histograms use log2 buckets the series do not keep
		return nil, false, false
	}
	if len(e.pipe.stages) != 1 { // second stages (topk, filters) act on the result: fine
		return nil, false, false
	}
	f, isFilter := e.pipe.stages[0].(*filter)
	if !isFilter || !seriesExpr(f.expr, &usesName) {
		return nil, false, false
	}
	for _, a := range fn.by {
		if !seriesField(a, &usesName) {
			return nil, false, false
		}
	}
	return f.expr, usesName, true
}

// scanOrSeries feeds the query's spans to observe, or, for the whole
// minutes that minute series cover, their series to group.
func (e *metricsPipeline) scanOrSeries(ctx context.Context, st query.Storage, w *window,
	group func([]Label) (*aggregator, error), observe func(t *trace, i int) error) error {
	ms, ok := st.(MinuteSeries)
	expr, usesName, plan := e.seriesPlan()
	if !ok || !plan || w.step%minuteNs != 0 {
		return e.scan(ctx, st, w, observe)
	}
	lo := max(ceilDiv(w.from, minuteNs), ms.SeriesCompleteFrom())
	hi := floorDiv(w.to, minuteNs)
	if lo >= hi {
		return e.scan(ctx, st, w, observe)
	}
	// Collect first, aggregate after: a series met late may still send
	// the whole query to the scan, which must start from no groups.
	type hit struct {
		idx    int
		labels []Label
		s      MinuteStat
	}
	var hits []hit
	fallback := false
	span := model.Span{Resource: &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr}}}}
	t := &trace{spans: []model.Span{span}}
	ms.SpanSeries(lo, hi, func(minute int64, s *MinuteStat) {
		if fallback {
			return
		}
		if s.Service == "" || s.Overflow && usesName {
			// spans without a service, or whose names the series lost:
			// the filter cannot be decided per series
			fallback = true
			return
		}
		idx := w.index(minute * minuteNs)
		if idx < 0 {
			return
		}
		sp := &t.spans[0]
		sp.Name, sp.Kind, sp.StatusCode = s.Name, s.Kind, s.Status
		sp.Resource.Attrs[0].Str = s.Service
		if truthy(evalField(expr, t, 0)) {
			hits = append(hits, hit{idx, e.fn.labels(t, 0), *s})
		}
	})
	if fallback {
		return e.scan(ctx, st, w, observe)
	}
	sec := func(ns float64) float64 { return ns / 1e9 }
	for _, h := range hits {
		g, err := group(h.labels)
		if err != nil {
			return err
		}
		g.add(h.idx, float64(h.s.Count), sec(h.s.DurSum), sec(float64(h.s.DurMin)), sec(float64(h.s.DurMax)))
	}
	// The partial minutes at either end come from the spans.
	for _, part := range [][2]int64{{w.from, lo * minuteNs}, {hi * minuteNs, w.to}} {
		if part[0] >= part[1] {
			continue
		}
		sub := &window{from: part[0], to: part[1], step: w.step, n: w.n}
		err := e.scan(ctx, st, sub, func(t *trace, i int) error {
			if s := t.spans[i].Start; s < part[0] || s >= part[1] {
				return nil
			}
			return observe(t, i)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
