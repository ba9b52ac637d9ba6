package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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

var knownTraceQLParams = map[string]bool{"q": true, "start": true, "end": true, "limit": true}

// parseTraceQLParams validates the parameters of /api/v1/traceql except q.
func parseTraceQLParams(v url.Values) (*query.Query, error) {
	for key := range v {
		if !knownTraceQLParams[key] {
			return nil, fmt.Errorf("unknown parameter %q (known: q, start, end, limit)", key)
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
		WriteError(w, http.StatusBadRequest, "q: metrics queries are not search queries; use the Tempo API's /api/metrics/query_range")
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
