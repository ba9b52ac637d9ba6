package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/query"
	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
)

// TraceQLResult is one trace found by GET /api/v1/traceql: the native
// summary plus the IDs of the spans that matched the query.
type TraceQLResult struct {
	TraceSummary
	MatchedSpans []string `json:"matchedSpans"`
}

// QueryPosition locates a TraceQL error in the query text.
type QueryPosition struct {
	Line   int `json:"line"`   // 1-based
	Column int `json:"column"` // 1-based, in characters
	Offset int `json:"offset"` // 0-based, in bytes
}

// TraceQLError is the 400 answer to an invalid TraceQL query.
type TraceQLError struct {
	Error       string         `json:"error"`
	Message     string         `json:"message,omitempty"`
	Position    *QueryPosition `json:"position,omitempty"`
	Unsupported bool           `json:"unsupported,omitempty"`
}

var knownTraceQLParams = map[string]bool{"q": true, "start": true, "end": true, "limit": true, "step": true}

// parseTraceQLParams validates the parameters of /api/v1/traceql except q.
func parseTraceQLParams(v url.Values) (*query.Query, error) {
	for key := range v {
		if !knownTraceQLParams[key] {
			return nil, fmt.Errorf("unknown parameter %q (known: q, start, end, limit, step)", key)
		}
	}
	p := query.New()
	var err error
	if p.Start, err = ParseTime("start", v.Get("start")); err != nil {
		return nil, err
	}
	if p.End, err = ParseTime("end", v.Get("end")); err != nil {
		return nil, err
	}
	if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
		return nil, fmt.Errorf("end: must not be before start")
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > query.MaxLimit {
			return nil, fmt.Errorf("limit: must be an integer between 1 and %d, got %q", query.MaxLimit, s)
		}
		p.Limit = n
	}
	if p.Limit == 0 {
		p.Limit = query.DefaultLimit
	}
	return p, nil
}

func (n *Native) traceql(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	p, err := parseTraceQLParams(v)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	src := v.Get("q")
	if strings.TrimSpace(src) == "" {
		WriteError(w, http.StatusBadRequest, "q: a TraceQL query is required, e.g. { span.http.response.status_code >= 500 }")
		return
	}
	q, err := traceql.Parse(src)
	if err != nil {
		out := TraceQLError{Error: "q: invalid TraceQL query: " + err.Error(), Message: err.Error()}
		var te *traceql.Error
		if errors.As(err, &te) {
			out.Message = te.Msg
			out.Position = &QueryPosition{Line: te.Line, Column: te.Col, Offset: te.Offset}
			out.Unsupported = te.Unsupported
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		WriteJSON(w, out)
		return
	}
	if q.IsMetrics() {
		n.traceqlMetrics(w, r, q, p)
		return
	}
	if v.Get("step") != "" {
		WriteError(w, http.StatusBadRequest, "step: only for metrics queries (a query ending in a function such as | rate())")
		return
	}
	res, err := q.Search(r.Context(), n.engine, p.Start, p.End, p.Limit)
	if err != nil {
		n.internalError(w, r, err)
		return
	}
	out := struct {
		Traces []TraceQLResult `json:"traces"`
		Limit  int             `json:"limit"`
	}{Traces: make([]TraceQLResult, 0, len(res)), Limit: p.Limit}
	for _, t := range res {
		tr := TraceQLResult{TraceSummary: SummaryJSON(t.Summary), MatchedSpans: []string{}}
		seen := map[int]bool{}
		for _, ss := range t.Spansets {
			for _, i := range ss.Spans {
				if !seen[i] {
					seen[i] = true
					tr.MatchedSpans = append(tr.MatchedSpans, t.Spans[i].SpanID.String())
				}
			}
		}
		out.Traces = append(out.Traces, tr)
	}
	WriteJSON(w, out)
}

// MetricsSeries is one series of a TraceQL metrics answer: its labels
// (values as text) and its samples as [unix ms, value] pairs, oldest first.
type MetricsSeries struct {
	Labels  map[string]string `json:"labels"`
	Samples [][2]float64      `json:"samples"`
}

// traceqlMetrics answers a metrics query: over [start, end) (default the
// last hour) in intervals of step (default traceql.DefaultStep).
func (n *Native) traceqlMetrics(w http.ResponseWriter, r *http.Request, q *traceql.Query, p *query.Query) {
	if r.URL.Query().Get("limit") != "" {
		WriteError(w, http.StatusBadRequest, "limit: only for searches; a metrics query returns every series (at most "+strconv.Itoa(traceql.MaxSeries)+")")
		return
	}
	end, start := p.End, p.Start
	if end.IsZero() {
		end = time.Now()
	}
	if start.IsZero() {
		start = end.Add(-time.Hour)
	}
	if !end.After(start) {
		WriteError(w, http.StatusBadRequest, "end: must be after start")
		return
	}
	step := traceql.DefaultStep(start, end)
	if s := r.URL.Query().Get("step"); s != "" {
		d, err := parseDuration("step", s)
		if err != nil || d <= 0 {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("step: %q is not a positive duration (examples: 30s, 5m)", s))
			return
		}
		step = d
	}
	res, err := q.MetricsRange(r.Context(), n.store, start, end, step)
	var le *traceql.LimitError
	switch {
	case errors.As(err, &le):
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		n.internalError(w, r, err)
		return
	}
	out := struct {
		Series      []MetricsSeries `json:"series"`
		StepSeconds float64         `json:"stepSeconds"`
	}{Series: make([]MetricsSeries, 0, len(res)), StepSeconds: step.Seconds()}
	for _, s := range res {
		ms := MetricsSeries{Labels: map[string]string{}, Samples: make([][2]float64, 0, len(s.Samples))}
		for _, l := range s.Labels {
			ms.Labels[l.Name] = l.Value.Text()
		}
		for _, x := range s.Samples {
			ms.Samples = append(ms.Samples, [2]float64{float64(x.TimestampMs), x.Value})
		}
		out.Series = append(out.Series, ms)
	}
	WriteJSON(w, out)
}
