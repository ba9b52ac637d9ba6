package jaeger

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// paramError names the request parameter that was wrong.
type paramError struct {
	param, msg string
}

func (e *paramError) Error() string { return "unable to parse param '" + e.param + "': " + e.msg }

// DefaultLookback is how far back a search without start looks, as in
// Jaeger.
const DefaultLookback = 48 * time.Hour

// defaultLimit is Jaeger's default number of traces.
const defaultLimit = 100

// maxTraceIDs bounds the traceID parameters of one search.
const maxTraceIDs = 1000

// now is the clock (a variable for tests).
var now = time.Now

type searchParams struct {
	q        *query.Query
	traceIDs []model.TraceID
}

// parseSearch parses /api/traces parameters: service, operation, tag
// (key:value, repeatable), tags (a JSON object of strings, repeatable),
// start and end (Unix microseconds), minDuration and maxDuration (Go
// duration syntax: 1.2s, 100ms, 500us), limit, traceID (repeatable), and
// Ariadne's durationScope (span or trace). Unknown parameters are ignored,
// as Jaeger does.
func parseSearch(v url.Values, now time.Time) (*searchParams, error) {
	p := &searchParams{}
	if n := len(v["traceID"]); n > maxTraceIDs {
		return nil, &paramError{"traceID", fmt.Sprintf("at most %d trace IDs per request, got %d", maxTraceIDs, n)}
	}
	for _, raw := range v["traceID"] {
		id, err := parseLooseTraceID("traceID", raw)
		if err != nil {
			return nil, err
		}
		p.traceIDs = append(p.traceIDs, id)
	}
	q := query.New()
	q.Service = storeService(v.Get("service"))
	q.SpanName = v.Get("operation")
	tags := map[string]string{}
	var keys []string
	put := func(k, val string) {
		if _, ok := tags[k]; !ok {
			keys = append(keys, k)
		}
		tags[k] = val
	}
	for _, t := range v["tag"] {
		k, val, ok := strings.Cut(t, ":")
		if !ok || k == "" {
			return nil, &paramError{"tag", fmt.Sprintf("expected key:value, got %q", t)}
		}
		put(k, val)
	}
	for _, t := range v["tags"] {
		var m map[string]string
		if err := json.Unmarshal([]byte(t), &m); err != nil {
			return nil, &paramError{"tags", fmt.Sprintf("expected a JSON object of strings such as {\"http.method\":\"GET\"}: %v", err)}
		}
		for k, val := range m {
			put(k, val)
		}
	}
	for _, k := range keys {
		if err := addTag(q, k, tags[k]); err != nil {
			return nil, err
		}
	}
	end, err := parseMicros("end", v.Get("end"), now)
	if err != nil {
		return nil, err
	}
	start, err := parseMicros("start", v.Get("start"), now.Add(-DefaultLookback))
	if err != nil {
		return nil, err
	}
	q.Start, q.End = start, end
	if q.MinDuration, err = parseDuration("minDuration", v.Get("minDuration")); err != nil {
		return nil, err
	}
	if q.MaxDuration, err = parseDuration("maxDuration", v.Get("maxDuration")); err != nil {
		return nil, err
	}
	if q.MinDuration > 0 && q.MaxDuration > 0 && q.MaxDuration < q.MinDuration {
		return nil, &paramError{"maxDuration", "'maxDuration' should be greater than 'minDuration'"}
	}
	switch s := v.Get("durationScope"); s {
	case "", "span":
	case "trace":
		q.DurationLevel = query.LevelTrace
	default:
		return nil, &paramError{"durationScope", fmt.Sprintf("must be span or trace, got %q", s)}
	}
	q.Limit = defaultLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > query.MaxLimit {
			return nil, &paramError{"limit", fmt.Sprintf("must be an integer between 0 and %d, got %q", query.MaxLimit, s)}
		}
		if n > 0 {
			q.Limit = n
		}
	}
	if err := q.Validate(); err != nil {
		return nil, &paramError{"query", err.Error()}
	}
	p.q = q
	return p, nil
}

// addTag turns one Jaeger tag filter into a query condition. The tags
// Jaeger derives from OTLP fields filter on those fields: span.kind on the
// kind, error=true and otel.status_code on the status. Every other tag
// matches a span attribute, a resource (process) attribute, an event (log)
// attribute, a link or scope attribute with that key and value.
func addTag(q *query.Query, k, v string) error {
	switch k {
	case "span.kind":
		kind, ok := model.ParseKind(v)
		if !ok {
			return &paramError{"tag", fmt.Sprintf("span.kind: unknown span kind %q", v)}
		}
		q.Kind = kind
		return nil
	case "otel.status_code":
		switch strings.ToUpper(v) {
		case "ERROR":
			q.Status = model.StatusError
		case "OK":
			q.Status = model.StatusOK
		case "UNSET":
			q.Status = model.StatusUnset
		default:
			return &paramError{"tag", fmt.Sprintf("otel.status_code: must be OK, ERROR or UNSET, got %q", v)}
		}
		return nil
	case "error":
		if v == "true" {
			q.Status = model.StatusError
			return nil
		}
	}
	q.Conds = append(q.Conds, query.Cond{Scope: query.ScopeAny, Key: k, Op: query.OpEq, Value: v})
	return nil
}

// parseMicros parses a Unix time in microseconds; "" gives def.
func parseMicros(name, s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, &paramError{name, fmt.Sprintf("%q is not a Unix time in microseconds", s)}
	}
	return time.UnixMicro(n), nil
}

func parseDuration(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, &paramError{name, fmt.Sprintf("%q is not a duration (units ns, us, ms, s, m, h: 1.2s, 100ms, 500us)", s)}
	}
	return d, nil
}
