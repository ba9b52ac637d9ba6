// Package zipkin serves the Zipkin v2 HTTP API on its own port: span
// ingest (POST /api/v2/spans, see internal/ingest/zipkin) and the query
// API. Every search compiles to a query.Query and runs on query.Engine.
package zipkin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/api"
	"github.com/ariadne-tracing/ariadne/internal/ingest/zipkin"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// Server is the Zipkin API listener.
type Server struct {
	addr   string
	store  api.Store
	engine *query.Engine
	log    *slog.Logger
	wrap   func(name string, h http.HandlerFunc) http.HandlerFunc
	http   *http.Server
	mux    *http.ServeMux

	mu sync.Mutex
	ln net.Listener
}

// New returns the Zipkin server for addr; recv handles span ingest. wrap
// decorates each query handler (timeout, latency metric; name labels it)
// and may be nil.
func New(addr string, s api.Store, recv http.Handler, wrap func(name string, h http.HandlerFunc) http.HandlerFunc, log *slog.Logger) *Server {
	if wrap == nil {
		wrap = func(_ string, h http.HandlerFunc) http.HandlerFunc { return h }
	}
	z := &Server{addr: addr, store: s, engine: &query.Engine{Storage: s}, log: log, wrap: wrap}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v2/spans", recv)
	mux.HandleFunc("GET /api/v2/services", z.wrap("zipkin_services", z.services))
	mux.HandleFunc("GET /api/v2/spans", z.wrap("zipkin_spans", z.spanNames))
	mux.HandleFunc("GET /api/v2/remoteServices", z.wrap("zipkin_remote_services", z.remoteServices))
	mux.HandleFunc("GET /api/v2/traces", z.wrap("zipkin_traces", z.traces))
	mux.HandleFunc("GET /api/v2/trace/{traceID}", z.wrap("zipkin_trace", z.trace))
	mux.HandleFunc("GET /api/v2/traceMany", z.wrap("zipkin_trace_many", z.traceMany))
	mux.HandleFunc("GET /api/v2/autocompleteKeys", z.wrap("zipkin_autocomplete_keys", z.autocompleteKeys))
	mux.HandleFunc("GET /api/v2/autocompleteValues", z.wrap("zipkin_autocomplete_values", z.autocompleteValues))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"status": "UP", "zipkin": map[string]string{"status": "UP"}})
	})
	z.mux = mux
	z.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	return z
}

// Handle adds a route served by another package (the dependency links of
// package api/metrics). Call it before Start.
func (z *Server) Handle(pattern string, h http.Handler) { z.mux.Handle(pattern, h) }

// Start binds the listener and serves in the background.
func (z *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", z.addr)
	if err != nil {
		return fmt.Errorf("zipkin listen: %w", err)
	}
	z.mu.Lock()
	z.ln = ln
	z.mu.Unlock()
	go func() {
		if err := z.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			z.log.Error("zipkin API stopped", "err", err)
		}
	}()
	return nil
}

// Addr returns the bound address (nil before Start).
func (z *Server) Addr() net.Addr {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.ln == nil {
		return nil
	}
	return z.ln.Addr()
}

// Shutdown stops accepting and waits for requests in flight. Safe without
// Start.
func (z *Server) Shutdown(ctx context.Context) error {
	z.mu.Lock()
	started := z.ln != nil
	z.mu.Unlock()
	if !started {
		return nil
	}
	return z.http.Shutdown(ctx)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// badRequest answers 400 with a plain-text message, as Zipkin does.
func badRequest(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, msg+"\n")
}

func (z *Server) failed(w http.ResponseWriter, r *http.Request, err error) {
	msg, code := "", http.StatusInternalServerError
	switch {
	case errors.Is(err, context.Canceled):
		return
	case errors.Is(err, context.DeadlineExceeded):
		msg, code = "query timed out; narrow the time range or add filters", http.StatusServiceUnavailable
	case errors.Is(err, query.ErrTooManyCandidates):
		msg, code = err.Error(), http.StatusUnprocessableEntity
	default:
		z.log.Error("zipkin query failed", "path", r.URL.Path, "err", err)
		msg = "internal error: " + err.Error()
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func (z *Server) services(w http.ResponseWriter, r *http.Request) {
	s, err := z.store.Services(r.Context())
	if err != nil {
		z.failed(w, r, err)
		return
	}
	out := make([]string, 0, len(s))
	for _, name := range s {
		if name != "" {
			out = append(out, name)
		}
	}
	writeJSON(w, out)
}

func required(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		badRequest(w, name+" is required")
		return "", false
	}
	return v, true
}

func (z *Server) spanNames(w http.ResponseWriter, r *http.Request) {
	service, ok := required(w, r, "serviceName")
	if !ok {
		return
	}
	ops, err := z.store.Operations(r.Context(), service)
	if err != nil {
		z.failed(w, r, err)
		return
	}
	out := []string{}
	for _, o := range ops {
		if o.Name != "" && (len(out) == 0 || out[len(out)-1] != o.Name) {
			out = append(out, o.Name)
		}
	}
	writeJSON(w, out)
}

// remoteTraces bounds the traces remoteServices looks at.
const remoteTraces = 1000

func (z *Server) remoteServices(w http.ResponseWriter, r *http.Request) {
	service, ok := required(w, r, "serviceName")
	if !ok {
		return
	}
	q := query.New()
	q.Service = service
	q.Conds = []query.Cond{{Scope: query.ScopeSpan, Key: zipkin.AttrPeerSvc, Op: query.OpRe, Value: ".+"}}
	q.Limit = remoteTraces
	if err := q.Validate(); err != nil {
		z.failed(w, r, err)
		return
	}
	res, err := z.engine.Search(r.Context(), q)
	if err != nil {
		z.failed(w, r, err)
		return
	}
	out := []string{}
	for _, t := range res {
		for i := range t.Spans {
			s := &t.Spans[i]
			if s.Service() != service {
				continue
			}
			for _, a := range s.Attrs {
				if a.Key == zipkin.AttrPeerSvc && a.Type == model.TypeStr && a.Str != "" && !slices.Contains(out, a.Str) {
					out = append(out, a.Str)
				}
			}
		}
	}
	slices.Sort(out)
	writeJSON(w, out)
}

// Defaults of GET /api/v2/traces, as in Zipkin.
const (
	defaultLimit    = 10
	defaultLookback = 24 * time.Hour
)

// parseTraces turns /api/v2/traces parameters into a query.
func parseTraces(v map[string][]string, now time.Time) (*query.Query, error) {
	get := func(k string) string {
		if len(v[k]) > 0 {
			return v[k][0]
		}
		return ""
	}
	q := query.New()
	q.Service = get("serviceName")
	if n := get("spanName"); n != "all" {
		q.SpanName = n
	}
	if rs := get("remoteServiceName"); rs != "" {
		q.Conds = append(q.Conds, query.Cond{Scope: query.ScopeSpan, Key: zipkin.AttrPeerSvc, Op: query.OpEq, Value: rs})
	}
	if aq := strings.TrimSpace(get("annotationQuery")); aq != "" {
		for _, term := range strings.Split(aq, " and ") {
			term = strings.TrimSpace(term)
			k, val, hasVal := strings.Cut(term, "=")
			switch {
			case term == "":
				return nil, fmt.Errorf("annotationQuery: empty term in %q (terms are joined by \" and \")", aq)
			case term == "error":
				q.Status = model.StatusError
			case hasVal && k != "":
				q.Conds = append(q.Conds, query.Cond{Scope: query.ScopeAny, Key: k, Op: query.OpEq, Value: val})
			case !hasVal:
				q.Conds = append(q.Conds, query.Cond{Scope: query.ScopeAny, Key: k, Op: query.OpRe, Value: "(?s).*"})
			default:
				return nil, fmt.Errorf("annotationQuery: term %q has no key", term)
			}
		}
	}
	micros := func(name string) (time.Duration, error) {
		s := get(name)
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: %q is not a non-negative number of microseconds", name, s)
		}
		return time.Duration(n) * time.Microsecond, nil
	}
	var err error
	if q.MinDuration, err = micros("minDuration"); err != nil {
		return nil, err
	}
	if q.MaxDuration, err = micros("maxDuration"); err != nil {
		return nil, err
	}
	end, lookback := now, defaultLookback
	if s := get("endTs"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("endTs: %q is not a positive Unix time in milliseconds", s)
		}
		end = time.UnixMilli(n)
	}
	if s := get("lookback"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("lookback: %q is not a positive number of milliseconds", s)
		}
		lookback = time.Duration(n) * time.Millisecond
	}
	q.End, q.Start = end, end.Add(-lookback)
	q.Limit = defaultLimit
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > query.MaxLimit {
			return nil, fmt.Errorf("limit: must be an integer between 1 and %d, got %q", query.MaxLimit, s)
		}
		q.Limit = n
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return q, nil
}

func (z *Server) traces(w http.ResponseWriter, r *http.Request) {
	q, err := parseTraces(r.URL.Query(), time.Now())
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	res, err := z.engine.Search(r.Context(), q)
	if err != nil {
		z.failed(w, r, err)
		return
	}
	out := make([][]Span, 0, len(res))
	for _, t := range res {
		out = append(out, FromSpans(t.Spans))
	}
	writeJSON(w, out)
}

func parseID(s string) (model.TraceID, error) {
	id, err := model.ParseTraceID(strings.ToLower(s))
	if err != nil || id.IsZero() || (len(s) != 16 && len(s) != 32) {
		return id, fmt.Errorf("%q is not a trace ID (16 or 32 hex characters)", s)
	}
	return id, nil
}

func (z *Server) trace(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("traceID"))
	if err != nil {
		badRequest(w, "traceId: "+err.Error())
		return
	}
	spans, err := z.store.Trace(r.Context(), id)
	if err != nil {
		z.failed(w, r, err)
		return
	}
	if len(spans) == 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "trace "+TraceIDString(id)+" not found\n")
		return
	}
	writeJSON(w, FromSpans(spans))
}

// maxTraceMany bounds the IDs of one traceMany request.
const maxTraceMany = 1000

func (z *Server) traceMany(w http.ResponseWriter, r *http.Request) {
	raw, ok := required(w, r, "traceIds")
	if !ok {
		return
	}
	parts := strings.Split(raw, ",")
	if len(parts) > maxTraceMany {
		badRequest(w, fmt.Sprintf("traceIds: at most %d IDs, got %d", maxTraceMany, len(parts)))
		return
	}
	var ids []model.TraceID
	for _, p := range parts {
		id, err := parseID(strings.TrimSpace(p))
		if err != nil {
			badRequest(w, "traceIds: "+err.Error())
			return
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	out := [][]Span{}
	for _, id := range ids {
		spans, err := z.store.Trace(r.Context(), id)
		if err != nil {
			z.failed(w, r, err)
			return
		}
		if len(spans) > 0 {
			out = append(out, FromSpans(spans))
		}
	}
	writeJSON(w, out)
}

func (z *Server) autocompleteKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := z.store.AttributeKeys(r.Context())
	if err != nil {
		z.failed(w, r, err)
		return
	}
	if keys == nil {
		keys = []string{}
	}
	writeJSON(w, keys)
}

// maxValues bounds the values autocompleteValues returns.
const maxValues = 1000

func (z *Server) autocompleteValues(w http.ResponseWriter, r *http.Request) {
	key, ok := required(w, r, "key")
	if !ok {
		return
	}
	vals, err := z.store.AttributeValues(r.Context(), key, maxValues)
	if err != nil {
		z.failed(w, r, err)
		return
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		out = append(out, v.Value)
	}
	slices.Sort(out)
	writeJSON(w, out)
}
