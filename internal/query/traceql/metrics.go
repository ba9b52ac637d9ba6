package traceql

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// Label is a series label.
type Label struct {
	Name  string
	Value Value
}

// Sample is one point of a series.
type Sample struct {
	TimestampMs int64
	Value       float64
}

// Series is one time series of a metrics query result.
type Series struct {
	Labels  []Label
	Samples []Sample // oldest first
}

// Limits of one metrics query.
const (
	MaxIntervals      = 11_000
	MaxSeries         = 1_000
	maxMetricsTraces  = 200_000
	maxHistogramBins  = 64
	defaultMetricName = "__name__"
)

// LimitError is returned when a metrics query exceeds one of its limits;
// the client can narrow the query.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// ErrTooManySeries is returned when a metrics query would produce more than
// MaxSeries series.
var ErrTooManySeries = &LimitError{fmt.Sprintf("metrics query produces more than %d series; group by fewer or less varied attributes", MaxSeries)}

// DefaultStep is the step of a metrics query over [start, end) that does
// not give one: about 100 intervals, at least a second; from 30 seconds
// up, rounded to whole minutes (so that the span series can answer, see
// MinuteSeries): a one-hour range gets one-minute steps.
func DefaultStep(start, end time.Time) time.Duration {
	step := max(time.Second, (end.Sub(start) / 100).Truncate(time.Second))
	if step >= 30*time.Second {
		step = max(time.Minute, step.Round(time.Minute))
	}
	return step
}

// MetricsRange evaluates a metrics query over [start, end) in intervals of
// step. Spans are placed in intervals by their start time. The start is
// aligned down to a multiple of step, unless step covers the whole range:
// that is an instant query (one sample per series, at start).
func (q *Query) MetricsRange(ctx context.Context, st query.Storage, start, end time.Time, step time.Duration) ([]Series, error) {
	if q.metrics == nil {
		return nil, errors.New("not a metrics query: add a metrics function such as | rate()")
	}
	if step <= 0 {
		return nil, errors.New("step: must be positive")
	}
	from, to := start.UnixNano(), end.UnixNano()
	if int64(step) < to-from {
		from -= from % int64(step)
	}
	if to <= from {
		return nil, errors.New("end: must be after start")
	}
	n := (to - from + int64(step) - 1) / int64(step)
	if n > MaxIntervals {
		return nil, &LimitError{fmt.Sprintf("step: %s over %s gives %d intervals, more than %d; use a larger step", step, end.Sub(start), n, MaxIntervals)}
	}
	w := &window{from: from, to: to, step: int64(step), n: int(n)}
	res, err := q.metrics.expr.evalMetrics(ctx, st, w)
	if err != nil {
		return nil, err
	}
	return applySecond(res, q.metrics.second).toSeries(w), nil
}

type window struct {
	from, to, step int64
	n              int
}

func (w *window) index(t int64) int {
	if t < w.from || t >= w.to {
		return -1
	}
	return int((t - w.from) / w.step)
}

func (w *window) ts(i int) int64 { return (w.from + int64(i)*w.step) / 1e6 }

type mseries struct {
	labels []Label
	vals   []float64 // per interval; NaN = no data
}

type seriesSet []*mseries

func (e *metricsScalar) evalMetrics(ctx context.Context, st query.Storage, w *window) (seriesSet, error) {
	vals := make([]float64, w.n)
	for i := range vals {
		vals[i] = e.v
	}
	return seriesSet{{vals: vals}}, nil
}

func (e *metricsMath) evalMetrics(ctx context.Context, st query.Storage, w *window) (seriesSet, error) {
	l, err := e.l.evalMetrics(ctx, st, w)
	if err != nil {
		return nil, err
	}
	r, err := e.r.evalMetrics(ctx, st, w)
	if err != nil {
		return nil, err
	}
	// A side without labels (a scalar or an ungrouped metric) applies to
	// every series of the other side; otherwise series match by labels.
	key := func(s *mseries) string { return labelKey(s.labels, true) }
	byKey := map[string]*mseries{}
	for _, s := range r {
		byKey[key(s)] = s
	}
	var out seriesSet
	for _, ls := range l {
		var rs *mseries
		switch {
		case len(r) == 1 && (len(r[0].labels) <= 1 && key(r[0]) == ""):
			rs = r[0]
		case len(l) == 1 && key(ls) == "" && len(r) > 0:
			for _, rs := range r {
				out = append(out, combineSeries(e.op, ls, rs, rs.labels))
			}
			continue
		default:
			rs = byKey[key(ls)]
		}
		if rs != nil {
			out = append(out, combineSeries(e.op, ls, rs, ls.labels))
		}
	}
	return out, nil
}

func combineSeries(op string, l, r *mseries, labels []Label) *mseries {
	out := &mseries{labels: labels, vals: make([]float64, len(l.vals))}
	for i := range l.vals {
		a, b := l.vals[i], r.vals[i]
		switch op {
		case "+":
			out.vals[i] = a + b
		case "-":
			out.vals[i] = a - b
		case "*":
			out.vals[i] = a * b
		case "/":
			if b == 0 {
				out.vals[i] = math.NaN()
			} else {
				out.vals[i] = a / b
			}
		}
	}
	return out
}

// labelKey identifies a label set; skipName leaves out __name__.
func labelKey(ls []Label, skipName bool) string {
	var sb strings.Builder
	for _, l := range ls {
		if skipName && l.Name == defaultMetricName {
			continue
		}
		sb.WriteString(l.Name)
		sb.WriteByte(0)
		sb.WriteString(l.Value.String())
		sb.WriteByte(0)
	}
	return sb.String()
}

// aggregator accumulates one series.
type aggregator struct {
	labels []Label
	count  []float64
	sum    []float64
	min    []float64
	max    []float64
	hist   [][maxHistogramBins]float64 // log2 buckets, for quantiles and histograms
}

func (e *metricsPipeline) evalMetrics(ctx context.Context, st query.Storage, w *window) (seriesSet, error) {
	fn := e.fn
	if fn.fn == "compare" {
		return nil, errors.New("compare() is not supported")
	}
	groups := map[string]*aggregator{}
	var order []string
	group := func(labels []Label) (*aggregator, error) {
		k := labelKey(labels, false)
		g := groups[k]
		if g == nil {
			if len(groups) >= MaxSeries {
				return nil, ErrTooManySeries
			}
			g = &aggregator{labels: labels, count: make([]float64, w.n)}
			switch fn.fn {
			case "sum_over_time", "avg_over_time":
				g.sum = make([]float64, w.n)
			case "min_over_time":
				g.min = nanSlice(w.n)
			case "max_over_time":
				g.max = nanSlice(w.n)
			case "quantile_over_time", "histogram_over_time":
				g.hist = make([][maxHistogramBins]float64, w.n)
			}
			groups[k] = g
			order = append(order, k)
		}
		return g, nil
	}
	observe := func(t *trace, i int) error {
		s := &t.spans[i]
		idx := w.index(s.Start)
		if idx < 0 {
			return nil
		}
		g, err := group(fn.labels(t, i))
		if err != nil {
			return err
		}
		wt := model.AdjustedCount(s)
		if fn.attr == nil {
			g.count[idx] += wt
			return nil
		}
		vs := t.lookup(fn.attr, i, true)
		if len(vs) == 0 || !vs[0].T.numeric() {
			return nil
		}
		v := vs[0]
		f := v.num()
		if v.T == TypeDuration {
			f /= 1e9 // seconds, as Tempo reports durations
		}
		g.add(idx, wt, wt*f, f, f)
		if g.hist != nil {
			if b, ok := log2Bucket(v); ok {
				g.hist[idx][b] += wt
			}
		}
		return nil
	}
	if err := e.scanOrSeries(ctx, st, w, group, observe); err != nil {
		return nil, err
	}
	slices.Sort(order)
	var out seriesSet
	for _, k := range order {
		out = append(out, finish(fn, groups[k], w)...)
	}
	if len(out) > MaxSeries {
		return nil, ErrTooManySeries
	}
	return applySecond(out, e.second), nil
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

// log2Bucket puts a duration (nanoseconds) or integer into the bucket of the
// next power of two; floats are not bucketed.
func log2Bucket(v Value) (int, bool) {
	if v.T == TypeFloat || v.I < 2 {
		return 0, false
	}
	return min(64-bits.LeadingZeros64(uint64(v.I-1)), maxHistogramBins-1), true
}

// bucketValue is the upper bound of bucket b, in seconds for durations.
func bucketValue(b int, dur bool) float64 {
	v := math.Ldexp(1, b)
	if dur {
		return v / 1e9
	}
	return v
}

func finish(fn *metricsNode, g *aggregator, w *window) seriesSet {
	switch fn.fn {
	case "rate":
		vals := make([]float64, w.n)
		for i, c := range g.count {
			vals[i] = c / (float64(w.step) / 1e9)
		}
		return seriesSet{{labels: g.labels, vals: vals}}
	case "count_over_time":
		return seriesSet{{labels: g.labels, vals: g.count}}
	case "sum_over_time", "avg_over_time":
		vals := nanSlice(w.n)
		for i, c := range g.count {
			if c > 0 {
				vals[i] = g.sum[i]
				if fn.fn == "avg_over_time" {
					vals[i] /= c
				}
			}
		}
		return seriesSet{{labels: g.labels, vals: vals}}
	case "min_over_time":
		return seriesSet{{labels: g.labels, vals: g.min}}
	case "max_over_time":
		return seriesSet{{labels: g.labels, vals: g.max}}
	}
	dur := fn.attr.typ() == TypeDuration || fn.attr.typ() == TypeAttribute && fn.attr.Intrinsic != INone
	if fn.fn == "histogram_over_time" {
		var out seriesSet
		for b := range maxHistogramBins {
			vals := make([]float64, w.n)
			any := false
			for i := range g.hist {
				vals[i] = g.hist[i][b]
				any = any || vals[i] > 0
			}
			if any {
				labels := append(slices.Clip(g.labels), Label{"__bucket", Value{T: TypeFloat, F: bucketValue(b, dur)}})
				out = append(out, &mseries{labels: labels, vals: vals})
			}
		}
		return out
	}
	// quantile_over_time: one series per quantile, labelled p
	var out seriesSet
	for _, p := range fn.quantiles {
		vals := nanSlice(w.n)
		for i := range g.hist {
			vals[i] = histQuantile(p, &g.hist[i], dur)
		}
		labels := append(slices.Clip(g.labels), Label{"p", Value{T: TypeFloat, F: p}})
		out = append(out, &mseries{labels: labels, vals: vals})
	}
	return out
}

// histQuantile estimates the p-quantile from log2 buckets, interpolating
// exponentially inside the bucket; NaN without data.
func histQuantile(p float64, h *[maxHistogramBins]float64, dur bool) float64 {
	total := 0.0
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return math.NaN()
	}
	want := max(math.Ceil(p*total), 1)
	seen := 0.0
	for b, c := range h {
		if c == 0 {
			continue
		}
		if seen+c >= want {
			lo, hi := bucketValue(b-1, dur), bucketValue(b, dur)
			frac := (want - seen) / c
			return lo * math.Pow(hi/lo, frac)
		}
		seen += c
	}
	return math.NaN()
}

// scan feeds the spans the pipeline selects to observe. A single filter
// that needs nothing from the rest of the trace is checked span by span
// while the blocks are scanned; other pipelines are evaluated per trace.
func (e *metricsPipeline) scan(ctx context.Context, st query.Storage, w *window, observe func(t *trace, i int) error) error {
	pq := query.New()
	n := necessary(e.pipe)
	if n.never {
		return nil
	}
	n.apply(pq)
	pq.Start, pq.End = time.Unix(0, w.from), time.Unix(0, w.to-1)
	if err := pq.Validate(); err != nil {
		return err
	}
	cheap := *pq
	cheap.Conds = nil
	blocks, release, err := st.Blocks(ctx)
	if err != nil {
		return err
	}
	defer release()
	f := pq.Filter()
	spanwise := spanLocal(e.pipe)
	traces := map[model.TraceID]bool{}
	var obsErr error
	for _, b := range blocks {
		lo, hi := b.Bounds()
		if hi < w.from || lo >= w.to {
			continue
		}
		err := b.Scan(ctx, &f, func(s *model.Span) bool {
			return cheap.MatchSpan(s) && (spanwise != nil || !traces[s.TraceID])
		}, func(s *model.Span) bool {
			if !pq.MatchSpan(s) {
				return true
			}
			if spanwise == nil {
				traces[s.TraceID] = true
				if len(traces) > maxMetricsTraces {
					obsErr = &LimitError{fmt.Sprintf("metrics query needs more than %d traces (its pipeline is evaluated per trace); narrow the time range or the filter", maxMetricsTraces)}
					return false
				}
				return true
			}
			t := oneSpan(s)
			if truthy(evalField(spanwise, t, 0)) {
				if obsErr = observe(t, 0); obsErr != nil {
					return false
				}
			}
			return true
		})
		if err != nil {
			return err
		}
		if obsErr != nil {
			return obsErr
		}
	}
	for id := range traces {
		spans, err := st.Trace(ctx, id)
		if err != nil {
			return err
		}
		if len(spans) == 0 {
			continue
		}
		t := newTrace(spans)
		all := make([]int, len(spans))
		for i := range all {
			all[i] = i
		}
		for _, i := range flatten(e.pipe.eval(t, []Spanset{{Spans: all}})) {
			if err := observe(t, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// oneSpan wraps a single span for evaluation without its trace.
func oneSpan(s *model.Span) *trace {
	return &trace{spans: []model.Span{*s}, root: 0, start: s.Start, end: s.End}
}

// spanLocal returns the filter expression of a pipeline that is one
// filter needing nothing beyond the span itself; nil otherwise.
func spanLocal(p *pipeline) FieldExpr {
	if len(p.stages) != 1 {
		return nil
	}
	f, ok := p.stages[0].(*filter)
	if !ok || !local(f.expr) {
		return nil
	}
	return f.expr
}

func local(e FieldExpr) bool {
	switch e := e.(type) {
	case *Attribute:
		switch e.Intrinsic {
		case IChildCount, ITraceDuration, IRootName, IRootService, INestedSetLeft, INestedSetRight, INestedSetParent, IParent:
			return false
		}
		return !e.Parent
	case *Binary:
		return local(e.L) && local(e.R)
	case *Unary:
		return local(e.X)
	}
	return true
}

// ---- second stage ----

func (s seriesSet) toSeries(w *window) []Series {
	out := make([]Series, 0, len(s))
	for _, m := range s {
		ser := Series{Labels: m.labels}
		for i, v := range m.vals {
			if !math.IsNaN(v) {
				ser.Samples = append(ser.Samples, Sample{TimestampMs: w.ts(i), Value: v})
			}
		}
		out = append(out, ser)
	}
	return out
}

func applySecond(in seriesSet, stages []secondStage) seriesSet {
	for _, st := range stages {
		if st.hasVal {
			var out seriesSet
			for _, s := range in {
				vals := nanSlice(len(s.vals))
				any := false
				for i, v := range s.vals {
					if !math.IsNaN(v) && compare(st.op, Value{T: TypeFloat, F: v}, Value{T: TypeFloat, F: st.val}) {
						vals[i], any = v, true
					}
				}
				if any {
					out = append(out, &mseries{labels: s.labels, vals: vals})
				}
			}
			in = out
			continue
		}
		// topk/bottomk: rank series by their largest (topk) or smallest
		// (bottomk) value and keep k of them.
		score := func(s *mseries) float64 {
			v := math.Inf(-1)
			if st.topk == "bottomk" {
				v = math.Inf(1)
			}
			for _, x := range s.vals {
				switch {
				case math.IsNaN(x):
				case st.topk == "topk":
					v = max(v, x)
				default:
					v = min(v, x)
				}
			}
			return v
		}
		ranked := slices.Clone(in)
		slices.SortStableFunc(ranked, func(a, b *mseries) int {
			if st.topk == "topk" {
				return cmp.Compare(score(b), score(a))
			}
			return cmp.Compare(score(a), score(b))
		})
		in = ranked[:min(st.k, len(ranked))]
	}
	return in
}

// LabelsString renders labels like Prometheus: {a="b", c="d"}.
func LabelsString(ls []Label) string {
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, l.Name+"="+strconv.Quote(l.Value.Text()))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
