package jaeger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// The api_v3 HTTP gateway: OTLP JSON in Jaeger's grpc-gateway shapes.

func (a *API) registerV3(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v3/services", a.wrap("jaeger_v3_services", a.v3Services))
	mux.HandleFunc("GET /api/v3/operations", a.wrap("jaeger_v3_operations", a.v3Operations))
	mux.HandleFunc("GET /api/v3/traces", a.wrap("jaeger_v3_search", a.v3Search))
	mux.HandleFunc("GET /api/v3/traces/{traceID}", a.wrap("jaeger_v3_trace", a.v3Trace))
	mux.HandleFunc("GET /api/v3/trace-summaries", a.wrap("jaeger_v3_summaries", a.v3Summaries))
}

// v3Error writes {"error": {"httpCode": code, "message": msg}}.
func v3Error(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"httpCode": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func v3JSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (a *API) v3Failed(w http.ResponseWriter, r *http.Request, err error) {
	if code, msg := a.failure(r, err); code != 0 {
		v3Error(w, code, msg)
	}
}

func (a *API) v3Services(w http.ResponseWriter, r *http.Request) {
	s, err := a.store.Services(r.Context())
	if err != nil {
		a.v3Failed(w, r, err)
		return
	}
	v3JSON(w, map[string]any{"services": serviceNames(s)})
}

func (a *API) v3Operations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind := first(q, "spanKind", "span_kind")
	ops, err := a.operationList(r.Context(), q.Get("service"), kind)
	if pe := (*paramError)(nil); errors.As(err, &pe) {
		v3Error(w, http.StatusBadRequest, "malformed parameter spanKind: "+pe.msg)
		return
	}
	if err != nil {
		a.v3Failed(w, r, err)
		return
	}
	for i := range ops {
		if ops[i].SpanKind == "" {
			ops[i].SpanKind = "internal" // as Jaeger reports unspecified kinds here
		}
	}
	v3JSON(w, map[string]any{"operations": ops})
}

// first returns the first non-empty value among the names (canonical name
// first, then deprecated aliases).
func first(q url.Values, names ...string) string {
	for _, n := range names {
		if v := q.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// writeOTLP writes {"result": <OTLP JSON of spans>}.
func writeOTLP(w http.ResponseWriter, spans []model.Span) {
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(model.ToTraces(spans))
	if err != nil {
		v3Error(w, http.StatusInternalServerError, "encoding traces: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	var out bytes.Buffer
	out.WriteString(`{"result":`)
	out.Write(b)
	out.WriteString("}\n")
	_, _ = w.Write(out.Bytes())
}

func (a *API) v3Trace(w http.ResponseWriter, r *http.Request) {
	id, err := parseLooseTraceID("trace_id", r.PathValue("traceID"))
	if err != nil {
		v3Error(w, http.StatusBadRequest, "malformed parameter trace_id: "+err.(*paramError).msg)
		return
	}
	q := r.URL.Query()
	for _, p := range [][2]string{{"startTime", "start_time"}, {"endTime", "end_time"}} {
		if s := first(q, p[0], p[1]); s != "" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				v3Error(w, http.StatusBadRequest, fmt.Sprintf("malformed parameter %s: %q is not an RFC 3339 time", p[0], s))
				return
			}
		}
	}
	spans, err := a.store.Trace(r.Context(), id)
	if err != nil {
		a.v3Failed(w, r, err)
		return
	}
	if len(spans) == 0 {
		v3Error(w, http.StatusNotFound, "No traces found")
		return
	}
	writeOTLP(w, spans)
}

// parseV3Search parses the query.* parameters of GET /api/v3/traces
// (camelCase names and Jaeger's deprecated snake_case aliases).
func parseV3Search(v url.Values) (*query.Query, error) {
	q := query.New()
	q.Service = storeService(first(v, "query.serviceName", "query.service_name"))
	q.SpanName = first(v, "query.operationName", "query.operation_name")
	tmin, tmax := first(v, "query.startTimeMin", "query.start_time_min"), first(v, "query.startTimeMax", "query.start_time_max")
	if tmin == "" || tmax == "" {
		return nil, errors.New("query.startTimeMin and query.startTimeMax are required")
	}
	var err error
	if q.Start, err = time.Parse(time.RFC3339Nano, tmin); err != nil {
		return nil, fmt.Errorf("malformed parameter query.startTimeMin: %q is not an RFC 3339 time", tmin)
	}
	if q.End, err = time.Parse(time.RFC3339Nano, tmax); err != nil {
		return nil, fmt.Errorf("malformed parameter query.startTimeMax: %q is not an RFC 3339 time", tmax)
	}
	for _, d := range []struct {
		names []string
		dst   *time.Duration
	}{{[]string{"query.durationMin", "query.duration_min"}, &q.MinDuration}, {[]string{"query.durationMax", "query.duration_max"}, &q.MaxDuration}} {
		if s := first(v, d.names...); s != "" {
			if *d.dst, err = time.ParseDuration(s); err != nil || *d.dst < 0 {
				return nil, fmt.Errorf("malformed parameter %s: %q is not a duration (1.2s, 100ms, 500us)", d.names[0], s)
			}
		}
	}
	q.Limit = defaultLimit
	if s := first(v, "query.searchDepth", "query.num_traces", "query.search_depth"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > query.MaxLimit {
			return nil, fmt.Errorf("malformed parameter query.searchDepth: must be an integer between 0 and %d, got %q", query.MaxLimit, s)
		}
		if n > 0 {
			q.Limit = n
		}
	}
	if s := v.Get("query.attributes"); s != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("malformed parameter query.attributes: expected a JSON object of strings: %v", err)
		}
		for k, val := range m {
			if err := addTag(q, k, val); err != nil {
				return nil, fmt.Errorf("malformed parameter query.attributes: %s", err.(*paramError).msg)
			}
		}
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("malformed query: %v", err)
	}
	return q, nil
}

func (a *API) v3Search(w http.ResponseWriter, r *http.Request) {
	q, err := parseV3Search(r.URL.Query())
	if err != nil {
		v3Error(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := a.engine.Search(r.Context(), q)
	if err != nil {
		a.v3Failed(w, r, err)
		return
	}
	if len(res) == 0 {
		v3Error(w, http.StatusNotFound, "No traces found")
		return
	}
	var all []model.Span
	for _, t := range res {
		all = append(all, t.Spans...)
	}
	writeOTLP(w, all)
}

// v3ServiceSummary and v3Summary are api_v3 TraceSummary messages in
// proto3 JSON (zero values omitted, 64-bit integers as strings).
type v3ServiceSummary struct {
	Name           string `json:"name,omitempty"`
	SpanCount      int    `json:"spanCount,omitempty"`
	ErrorSpanCount int    `json:"errorSpanCount,omitempty"`
}

type v3Summary struct {
	TraceID              string             `json:"traceId"`
	RootServiceName      string             `json:"rootServiceName,omitempty"`
	RootOperationName    string             `json:"rootOperationName,omitempty"`
	MinStartTimeUnixNano string             `json:"minStartTimeUnixNano,omitempty"`
	MaxEndTimeUnixNano   string             `json:"maxEndTimeUnixNano,omitempty"`
	SpanCount            int                `json:"spanCount,omitempty"`
	ErrorSpanCount       int                `json:"errorSpanCount,omitempty"`
	OrphanSpanCount      int                `json:"orphanSpanCount,omitempty"`
	Services             []v3ServiceSummary `json:"services,omitempty"`
}

// orphans counts spans whose parent is not in the trace.
func orphans(spans []model.Span) int {
	ids := make(map[model.SpanID]bool, len(spans))
	for i := range spans {
		ids[spans[i].SpanID] = true
	}
	n := 0
	for i := range spans {
		if p := spans[i].ParentID; !p.IsZero() && !ids[p] {
			n++
		}
	}
	return n
}

// v3Summaries serves GET /api/v3/trace-summaries: the search of
// /api/v3/traces answered with one summary per trace.
func (a *API) v3Summaries(w http.ResponseWriter, r *http.Request) {
	q, err := parseV3Search(r.URL.Query())
	if err != nil {
		v3Error(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := a.engine.Search(r.Context(), q)
	if err != nil {
		a.v3Failed(w, r, err)
		return
	}
	out := make([]v3Summary, 0, len(res))
	for _, t := range res {
		s := t.Summary
		sum := v3Summary{
			TraceID:              s.TraceID.String(),
			RootServiceName:      s.RootService,
			RootOperationName:    s.RootName,
			MinStartTimeUnixNano: strconv.FormatInt(s.Start, 10),
			MaxEndTimeUnixNano:   strconv.FormatInt(s.Start+s.Duration, 10),
			SpanCount:            s.SpanCount,
			ErrorSpanCount:       s.ErrorCount,
			OrphanSpanCount:      orphans(t.Spans),
		}
		for _, sc := range s.Services {
			sum.Services = append(sum.Services, v3ServiceSummary{Name: sc.Name, SpanCount: sc.Spans, ErrorSpanCount: sc.Errors})
		}
		out = append(out, sum)
	}
	v3JSON(w, map[string]any{"summaries": out})
}
