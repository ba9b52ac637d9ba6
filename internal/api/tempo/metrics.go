package tempo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
)

// MetricsResponse is tempopb.QueryRangeResponse in JSON form.
type MetricsResponse struct {
	Series  []TimeSeries `json:"series"`
	Metrics struct{}     `json:"metrics"`
}

// TimeSeries is one series of a range query.
type TimeSeries struct {
	Labels  []KeyValue     `json:"labels"`
	Samples []MetricSample `json:"samples"`
}

// MetricSample is one point; the timestamp is in milliseconds, as a string
// (protobuf JSON of an int64).
type MetricSample struct {
	TimestampMs string  `json:"timestampMs"`
	Value       float64 `json:"value"`
}

// InstantResponse is tempopb.QueryInstantResponse in JSON form.
type InstantResponse struct {
	Series  []InstantSeries `json:"series"`
	Metrics struct{}        `json:"metrics"`
}

// InstantSeries is one series of an instant query.
type InstantSeries struct {
	Labels []KeyValue `json:"labels"`
	Value  float64    `json:"value"`
}

// metricsRequest parses q, start, end, since and step (step only for range
// queries). The range defaults to the last hour.
func metricsRequest(v url.Values, withStep bool) (*traceql.Query, time.Time, time.Time, time.Duration, error) {
	var zero time.Time
	src := v.Get("q")
	if strings.TrimSpace(src) == "" {
		return nil, zero, zero, 0, errors.New("q: missing TraceQL metrics query, e.g. { } | rate()")
	}
	q, err := traceql.Parse(src)
	if err != nil {
		return nil, zero, zero, 0, fmt.Errorf("invalid TraceQL query: %w", err)
	}
	if !q.IsMetrics() {
		return nil, zero, zero, 0, errors.New("q: not a metrics query; add a metrics function such as | rate() (searches go to /api/search)")
	}
	start, end, err := timeRange(v)
	if err != nil {
		return nil, zero, zero, 0, err
	}
	if end.IsZero() {
		end = time.Now()
	}
	if start.IsZero() {
		since := time.Hour
		if s := v.Get("since"); s != "" {
			if since, err = parseDuration(s); err != nil || since <= 0 {
				return nil, zero, zero, 0, fmt.Errorf("since: %q is not a positive duration (examples: 15m, 3h)", s)
			}
		}
		start = end.Add(-since)
	}
	if !end.After(start) {
		return nil, zero, zero, 0, errors.New("end: must be after start")
	}
	if s := v.Get("exemplars"); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 0 {
			return nil, zero, zero, 0, fmt.Errorf("exemplars: must be a non-negative integer, got %q", s)
		}
	}
	step := end.Sub(start)
	if withStep {
		step = traceql.DefaultStep(start, end)
		if s := v.Get("step"); s != "" {
			if step, err = parseDuration(s); err != nil || step <= 0 {
				return nil, zero, zero, 0, fmt.Errorf("step: %q is not a positive duration (examples: 15s, 1m)", s)
			}
		}
	}
	return q, start, end, step, nil
}

// parseDuration takes Go durations (1m30s), Prometheus-style days (7d) and
// plain seconds (15).
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	return 0, fmt.Errorf("invalid duration %q", s)
}

func labelsJSON(ls []traceql.Label) []KeyValue {
	out := make([]KeyValue, 0, len(ls))
	for _, l := range ls {
		av, _ := anyValue(l.Value)
		out = append(out, KeyValue{Key: l.Name, Value: av})
	}
	return out
}

// evalMetrics parses a metrics request and evaluates it. Client errors and
// exceeded limits are *requestError or *traceql.LimitError.
func (a *API) evalMetrics(ctx context.Context, v url.Values, withStep bool) ([]traceql.Series, error) {
	q, start, end, step, err := metricsRequest(v, withStep)
	if err != nil {
		return nil, &requestError{err.Error()}
	}
	return q.MetricsRange(ctx, a.store, start, end, step)
}

// runMetrics evaluates the request; it has written the response when ok is
// false.
func (a *API) runMetrics(w http.ResponseWriter, r *http.Request, withStep bool) (res []traceql.Series, ok bool) {
	res, err := a.evalMetrics(r.Context(), r.URL.Query(), withStep)
	if err != nil {
		a.metricsError(w, r, err)
		return nil, false
	}
	return res, true
}

func (a *API) metricsRange(w http.ResponseWriter, r *http.Request) {
	res, ok := a.runMetrics(w, r, true)
	if !ok {
		return
	}
	out := MetricsResponse{Series: make([]TimeSeries, 0, len(res))}
	for _, s := range res {
		ts := TimeSeries{Labels: labelsJSON(s.Labels), Samples: make([]MetricSample, 0, len(s.Samples))}
		for _, p := range s.Samples {
			ts.Samples = append(ts.Samples, MetricSample{TimestampMs: strconv.FormatInt(p.TimestampMs, 10), Value: p.Value})
		}
		out.Series = append(out.Series, ts)
	}
	writeJSON(w, out)
}

func (a *API) metricsInstant(w http.ResponseWriter, r *http.Request) {
	res, ok := a.runMetrics(w, r, false)
	if !ok {
		return
	}
	out := InstantResponse{Series: make([]InstantSeries, 0, len(res))}
	for _, s := range res {
		if len(s.Samples) > 0 {
			out.Series = append(out.Series, InstantSeries{Labels: labelsJSON(s.Labels), Value: s.Samples[0].Value})
		}
	}
	writeJSON(w, out)
}

// metricsError maps evaluation errors: limits are the client's to fix.
func (a *API) metricsError(w http.ResponseWriter, r *http.Request, err error) {
	var le *traceql.LimitError
	if errors.As(err, &le) {
		http.Error(w, le.Msg, http.StatusUnprocessableEntity)
		return
	}
	a.fail(w, r, err)
}
