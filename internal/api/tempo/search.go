package tempo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/query"
	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
)

// SearchResponse is Tempo's tempopb.SearchResponse in its JSON form.
type SearchResponse struct {
	Traces  []TraceSearchMetadata `json:"traces"`
	Metrics SearchMetrics         `json:"metrics"`
}

// SearchMetrics is tempopb.SearchMetrics (zero fields are omitted, as
// Tempo's JSON encoder does).
type SearchMetrics struct {
	CompletedJobs uint32 `json:"completedJobs,omitempty"`
	TotalJobs     uint32 `json:"totalJobs,omitempty"`
}

// TraceSearchMetadata is one trace in search results.
type TraceSearchMetadata struct {
	TraceID           string                  `json:"traceID"`
	RootServiceName   string                  `json:"rootServiceName,omitempty"`
	RootTraceName     string                  `json:"rootTraceName,omitempty"`
	StartTimeUnixNano string                  `json:"startTimeUnixNano"`
	DurationMs        uint32                  `json:"durationMs,omitempty"`
	SpanSet           *SpanSet                `json:"spanSet,omitempty"`
	SpanSets          []SpanSet               `json:"spanSets,omitempty"`
	ServiceStats      map[string]ServiceStats `json:"serviceStats,omitempty"`
}

// ServiceStats counts a service's spans in a trace.
type ServiceStats struct {
	SpanCount  uint32 `json:"spanCount,omitempty"`
	ErrorCount uint32 `json:"errorCount,omitempty"`
}

// SpanSet is a set of matched spans; Spans holds at most spss of them.
type SpanSet struct {
	Spans      []Span     `json:"spans"`
	Matched    uint32     `json:"matched"`
	Attributes []KeyValue `json:"attributes,omitempty"`
}

// Span is a matched span.
type Span struct {
	SpanID            string     `json:"spanID"`
	Name              string     `json:"name,omitempty"`
	StartTimeUnixNano string     `json:"startTimeUnixNano"`
	DurationNanos     string     `json:"durationNanos"`
	Attributes        []KeyValue `json:"attributes,omitempty"`
}

// KeyValue is an OTLP attribute in protobuf JSON form.
type KeyValue struct {
	Key   string   `json:"key"`
	Value AnyValue `json:"value"`
}

// AnyValue holds one of the OTLP value kinds.
type AnyValue struct {
	StringValue *string  `json:"stringValue,omitempty"`
	BoolValue   *bool    `json:"boolValue,omitempty"`
	IntValue    *string  `json:"intValue,omitempty"`
	DoubleValue *float64 `json:"doubleValue,omitempty"`
}

func anyValue(v traceql.Value) (AnyValue, bool) {
	switch v.T {
	case traceql.TypeString:
		return AnyValue{StringValue: &v.S}, true
	case traceql.TypeBool:
		return AnyValue{BoolValue: &v.B}, true
	case traceql.TypeInt:
		s := strconv.FormatInt(v.I, 10)
		return AnyValue{IntValue: &s}, true
	case traceql.TypeFloat:
		return AnyValue{DoubleValue: &v.F}, true
	case traceql.TypeDuration, traceql.TypeStatus, traceql.TypeKind:
		s := v.String()
		return AnyValue{StringValue: &s}, true
	}
	return AnyValue{}, false
}

// requestError is a client error: HTTP 400, gRPC InvalidArgument.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badParams(format string, args ...any) error {
	return &requestError{fmt.Sprintf(format, args...)}
}

func (a *API) search(w http.ResponseWriter, r *http.Request) {
	out, err := a.runSearch(r.Context(), r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, out)
}

// fail writes err as a 400 for client errors, else as internalError does.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	if errors.As(err, &re) {
		badRequest(w, "%s", re.msg)
		return
	}
	a.internalError(w, r, err)
}

// runSearch serves /api/search (and the streaming Search RPC) from its
// parameters.
func (a *API) runSearch(ctx context.Context, v url.Values) (SearchResponse, error) {
	var out SearchResponse
	start, end, err := timeRange(v)
	if err != nil {
		return out, badParams("%v", err)
	}
	limit, err := positiveInt("limit", v.Get("limit"), query.DefaultLimit, query.MaxLimit)
	if err != nil {
		return out, badParams("%v", err)
	}
	spss, err := positiveInt("spss", v.Get("spss"), 3, 1000)
	if err != nil {
		return out, badParams("%v", err)
	}
	src := strings.TrimSpace(v.Get("q"))
	if src == "" {
		if src, err = tagsQuery(v); err != nil {
			return out, badParams("%v", err)
		}
	} else if v.Get("tags") != "" || v.Get("minDuration") != "" || v.Get("maxDuration") != "" {
		return out, badParams("q: cannot be combined with tags, minDuration or maxDuration; put the conditions into the TraceQL query")
	}
	q, err := traceql.Parse(src)
	if err != nil {
		return out, badParams("invalid TraceQL query: %v", err)
	}
	if q.IsMetrics() {
		return out, badParams("q: metrics queries are served by /api/metrics/query_range")
	}
	res, err := q.Search(ctx, a.engine, start, end, limit)
	if err != nil {
		return out, err
	}
	out.Traces = make([]TraceSearchMetadata, 0, len(res))
	refs := q.Attributes()
	for _, t := range res {
		out.Traces = append(out.Traces, traceMetadata(t, refs, spss))
	}
	out.Metrics = SearchMetrics{CompletedJobs: 1, TotalJobs: 1}
	return out, nil
}

func traceMetadata(t traceql.Result, refs []*traceql.Attribute, spss int) TraceSearchMetadata {
	s := t.Summary
	md := TraceSearchMetadata{
		TraceID:           s.TraceID.String(),
		RootServiceName:   s.RootService,
		RootTraceName:     s.RootName,
		StartTimeUnixNano: strconv.FormatInt(s.Start, 10),
		DurationMs:        uint32(min(s.Duration/1e6, 1<<32-1)),
		ServiceStats:      map[string]ServiceStats{},
	}
	if s.RootMissing {
		md.RootServiceName, md.RootTraceName = "<root span not yet received>", ""
	}
	for _, sc := range s.Services {
		md.ServiceStats[sc.Name] = ServiceStats{SpanCount: uint32(sc.Spans), ErrorCount: uint32(sc.Errors)}
	}
	attrs := append(slices.Clip(refs), t.Selected...)
	for _, ss := range t.Spansets {
		set := SpanSet{Matched: uint32(len(ss.Spans)), Spans: []Span{}}
		idx := slices.Clone(ss.Spans)
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(t.Spans[a].Start, t.Spans[b].Start) })
		for _, i := range idx[:min(len(idx), spss)] {
			set.Spans = append(set.Spans, spanJSON(&t, i, attrs))
		}
		for _, nv := range ss.Attrs {
			if av, ok := anyValue(nv.Value); ok {
				set.Attributes = append(set.Attributes, KeyValue{Key: nv.Name, Value: av})
			}
		}
		md.SpanSets = append(md.SpanSets, set)
	}
	if len(md.SpanSets) > 0 {
		md.SpanSet = &md.SpanSets[0]
	}
	return md
}

func spanJSON(t *traceql.Result, i int, attrs []*traceql.Attribute) Span {
	sp := &t.Spans[i]
	out := Span{
		SpanID:            sp.SpanID.String(),
		Name:              sp.Name,
		StartTimeUnixNano: strconv.FormatInt(sp.Start, 10),
		DurationNanos:     strconv.FormatInt(sp.Duration(), 10),
	}
	seen := map[string]bool{}
	for _, a := range attrs {
		key := a.Key()
		if key == "" || seen[key] {
			continue
		}
		v, ok := t.Value(i, a)
		if !ok {
			continue
		}
		if av, ok := anyValue(v); ok {
			seen[key] = true
			out.Attributes = append(out.Attributes, KeyValue{Key: key, Value: av})
		}
	}
	return out
}

// tagsQuery turns Tempo's tag search (tags in logfmt, minDuration and
// maxDuration of the trace) into a TraceQL query.
func tagsQuery(v url.Values) (string, error) {
	tags, err := parseLogfmt(v.Get("tags"))
	if err != nil {
		return "", fmt.Errorf("tags: %v", err)
	}
	var conds []string
	for _, kv := range tags {
		switch kv[0] {
		case "name":
			conds = append(conds, "name = "+strconv.Quote(kv[1]))
		case "status.code", "status":
			conds = append(conds, "status = "+kv[1])
		default:
			conds = append(conds, traceql.AttrRef(kv[0])+" = "+strconv.Quote(kv[1]))
		}
	}
	for _, d := range []struct{ param, op string }{{"minDuration", ">="}, {"maxDuration", "<="}} {
		s := v.Get(d.param)
		if s == "" {
			continue
		}
		dur, err := time.ParseDuration(s)
		if err != nil || dur < 0 {
			return "", fmt.Errorf("%s: %q is not a duration (examples: 100ms, 1.5s, 2m)", d.param, s)
		}
		conds = append(conds, fmt.Sprintf("traceDuration %s %dns", d.op, dur.Nanoseconds()))
	}
	return "{ " + strings.Join(conds, " && ") + " }", nil
}

// parseLogfmt splits `k=v k2="v 2"` into pairs.
func parseLogfmt(s string) ([][2]string, error) {
	var out [][2]string
	s = strings.TrimSpace(s)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \t") {
			return nil, fmt.Errorf("expected key=value at %q", s)
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, fmt.Errorf("unterminated quoted value for %q", key)
			}
			uq, err := strconv.Unquote(s[:end+1])
			if err != nil {
				return nil, fmt.Errorf("bad quoted value for %q: %v", key, err)
			}
			val, s = uq, s[end+1:]
		} else {
			sp := strings.IndexAny(s, " \t")
			if sp < 0 {
				sp = len(s)
			}
			val, s = s[:sp], s[sp:]
		}
		out = append(out, [2]string{key, val})
		s = strings.TrimSpace(s)
	}
	return out, nil
}
