// Package api serves Ariadne's HTTP query APIs.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// Store is what the native API needs from storage.
type Store interface {
	query.Storage
	Services(ctx context.Context) ([]string, error)
	Operations(ctx context.Context, service string) ([]store.Operation, error)
	AttributeKeys(ctx context.Context) ([]string, error)
	AttributeValues(ctx context.Context, key string, limit int) ([]store.ValueCount, error)
}

// Native serves the native JSON API under /api/v1.
type Native struct {
	store   Store
	engine  *query.Engine
	log     *slog.Logger
	latency *prometheus.HistogramVec
	timeout time.Duration
}

// NewNative returns the native API. reg may be nil.
func NewNative(s Store, reg prometheus.Registerer, log *slog.Logger, timeout time.Duration) *Native {
	n := &Native{
		store:  s,
		engine: &query.Engine{Storage: s},
		log:    log,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ariadne_query_duration_seconds",
			Help:    "Query API latency by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"endpoint"}),
		timeout: timeout,
	}
	if reg != nil {
		reg.MustRegister(n.latency)
	}
	return n
}

// Register adds the native routes to mux.
func (n *Native) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/traces/{traceID}", n.timed("trace", n.trace))
	mux.HandleFunc("GET /api/v1/search", n.timed("search", n.search))
	mux.HandleFunc("GET /api/v1/traceql", n.timed("traceql", n.traceql))
	mux.HandleFunc("GET /api/v1/services", n.timed("services", n.services))
	mux.HandleFunc("GET /api/v1/services/{service}/operations", n.timed("operations", n.operations))
	mux.HandleFunc("GET /api/v1/attributes", n.timed("attributes", n.attributeKeys))
	mux.HandleFunc("GET /api/v1/attributes/{key}/values", n.timed("attribute_values", n.attributeValues))
}

// Wrap applies the query timeout and the latency metric (labelled name) to
// a handler of another API on the same port.
func (n *Native) Wrap(name string, h http.HandlerFunc) http.HandlerFunc { return n.timed(name, h) }

func (n *Native) timed(name string, h http.HandlerFunc) http.HandlerFunc {
	obs := n.latency.WithLabelValues(name)
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if n.timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), n.timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		h(w, r)
		obs.Observe(time.Since(start).Seconds())
	}
}

// WriteError writes {"error": msg} with the status code.
func WriteError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// WriteJSON writes v as JSON with status 200.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (n *Native) internalError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		WriteError(w, http.StatusServiceUnavailable, "query timed out; narrow the time range or add filters")
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	if errors.Is(err, query.ErrTooManyCandidates) {
		WriteError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	n.log.Error("query failed", "path", r.URL.Path, "err", err)
	WriteError(w, http.StatusInternalServerError, "internal error: "+err.Error())
}

var otlpJSON = &ptrace.JSONMarshaler{}

func (n *Native) trace(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("traceID")
	id, err := model.ParseTraceID(raw)
	if err != nil || len(raw) != 32 && len(raw) != 16 {
		WriteError(w, http.StatusBadRequest, "traceID: "+strconv.Quote(raw)+" is not a trace ID (32 hex characters)")
		return
	}
	spans, err := n.store.Trace(r.Context(), id)
	if err != nil {
		n.internalError(w, r, err)
		return
	}
	if len(spans) == 0 {
		WriteError(w, http.StatusNotFound, "trace "+id.String()+" not found")
		return
	}
	b, err := otlpJSON.MarshalTraces(model.ToTraces(spans))
	if err != nil {
		n.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// TraceSummary is a search result in the native API.
type TraceSummary struct {
	TraceID           string               `json:"traceID"`
	RootServiceName   string               `json:"rootServiceName"`
	RootSpanName      string               `json:"rootSpanName"`
	RootMissing       bool                 `json:"rootMissing,omitempty"`
	StartTime         time.Time            `json:"startTime"`
	StartTimeUnixNano string               `json:"startTimeUnixNano"`
	DurationNanos     int64                `json:"durationNanos"`
	SpanCount         int                  `json:"spanCount"`
	ErrorCount        int                  `json:"errorCount"`
	Services          []query.ServiceCount `json:"services"`
}

// SummaryJSON converts a summary for the native API.
func SummaryJSON(s query.Summary) TraceSummary {
	return TraceSummary{
		TraceID:           s.TraceID.String(),
		RootServiceName:   s.RootService,
		RootSpanName:      s.RootName,
		RootMissing:       s.RootMissing,
		StartTime:         time.Unix(0, s.Start).UTC(),
		StartTimeUnixNano: strconv.FormatInt(s.Start, 10),
		DurationNanos:     s.Duration,
		SpanCount:         s.SpanCount,
		ErrorCount:        s.ErrorCount,
		Services:          s.Services,
	}
}

func (n *Native) search(w http.ResponseWriter, r *http.Request) {
	q, err := ParseSearch(r.URL.Query())
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	q.SummariesOnly = true
	res, err := n.engine.Search(r.Context(), q)
	if err != nil {
		n.internalError(w, r, err)
		return
	}
	out := struct {
		Traces []TraceSummary `json:"traces"`
		Limit  int            `json:"limit"`
	}{Traces: make([]TraceSummary, 0, len(res)), Limit: q.Limit}
	for _, t := range res {
		out.Traces = append(out.Traces, SummaryJSON(t.Summary))
	}
	WriteJSON(w, out)
}

func (n *Native) services(w http.ResponseWriter, r *http.Request) {
	s, err := n.store.Services(r.Context())
	if err != nil {
		n.internalError(w, r, err)
		return
	}
	if s == nil {
		s = []string{}
	}
	WriteJSON(w, map[string]any{"services": s})
}

func (n *Native) operations(w http.ResponseWriter, r *http.Request) {
	ops, err := n.store.Operations(r.Context(), r.PathValue("service"))
	if err != nil {
		n.internalError(w, r, err)
		return
	}
	type op struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	}
	out := make([]op, 0, len(ops))
	for _, o := range ops {
		out = append(out, op{o.Name, model.KindName(o.Kind)})
	}
	WriteJSON(w, map[string]any{"operations": out})
}

func (n *Native) attributeKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := n.store.AttributeKeys(r.Context())
	if err != nil {
		n.internalError(w, r, err)
		return
	}
	if keys == nil {
		keys = []string{}
	}
	WriteJSON(w, map[string]any{"keys": keys})
}

func (n *Native) attributeValues(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 || v > 1000 {
			WriteError(w, http.StatusBadRequest, "limit: must be an integer between 1 and 1000, got "+strconv.Quote(s))
			return
		}
		limit = v
	}
	vals, err := n.store.AttributeValues(r.Context(), r.PathValue("key"), limit)
	if err != nil {
		n.internalError(w, r, err)
		return
	}
	type vc struct {
		Value string `json:"value"`
		Count int64  `json:"count"`
	}
	out := make([]vc, 0, len(vals))
	for _, v := range vals {
		out = append(out, vc{v.Value, v.Count})
	}
	WriteJSON(w, map[string]any{"values": out})
}
