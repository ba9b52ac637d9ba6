// Package jaeger serves Jaeger's query APIs on top of Ariadne's store and
// query engine: the classic JSON API under /api (what the Jaeger UI and
// Grafana's Jaeger data source use) and the api_v3 HTTP gateway under
// /api/v3. Every search compiles to a query.Query and runs on
// query.Engine.
package jaeger

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"github.com/ariadne-tracing/ariadne/internal/api"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// Wrap decorates a handler (timeout, latency metric); name labels it.
type Wrap func(name string, h http.HandlerFunc) http.HandlerFunc

// API serves the Jaeger-compatible endpoints.
type API struct {
	store  api.Store
	engine *query.Engine
	log    *slog.Logger
	wrap   Wrap
}

// New returns the Jaeger API over s. wrap may be nil.
func New(s api.Store, wrap Wrap, log *slog.Logger) *API {
	if wrap == nil {
		wrap = func(_ string, h http.HandlerFunc) http.HandlerFunc { return h }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{store: s, engine: &query.Engine{Storage: s}, log: log, wrap: wrap}
}

// Register adds the routes to mux. /api/dependencies and /api/metrics/*
// are served by package api/metrics, from the metrics derived at ingest.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/services", a.wrap("jaeger_services", a.services))
	mux.HandleFunc("GET /api/services/{service}/operations", a.wrap("jaeger_service_operations", a.serviceOperations))
	mux.HandleFunc("GET /api/operations", a.wrap("jaeger_operations", a.operations))
	mux.HandleFunc("GET /api/traces", a.wrap("jaeger_search", a.search))
	mux.HandleFunc("GET /api/traces/{traceID}", a.wrap("jaeger_trace", a.trace))
	a.registerV3(mux)
}

// envelope is Jaeger's structured response.
type envelope struct {
	Data   any         `json:"data"`
	Total  int         `json:"total"`
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
	Errors []respError `json:"errors"`
}

type respError struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

func writeEnvelope(w http.ResponseWriter, code int, e envelope) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(e)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeEnvelope(w, code, envelope{Errors: []respError{{Code: code, Msg: msg}}})
}

// failure maps a storage or engine error to a status code and message;
// code 0 means the client went away and nothing should be written.
func (a *API) failure(r *http.Request, err error) (int, string) {
	switch {
	case errors.Is(err, context.Canceled):
		return 0, ""
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "query timed out; narrow the time range or add filters"
	case errors.Is(err, query.ErrTooManyCandidates):
		return http.StatusUnprocessableEntity, err.Error()
	}
	a.log.Error("jaeger query failed", "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "internal error: " + err.Error()
}

// failed reports a storage or engine error in the envelope.
func (a *API) failed(w http.ResponseWriter, r *http.Request, err error) {
	if code, msg := a.failure(r, err); code != 0 {
		writeError(w, code, msg)
	}
}

func (a *API) services(w http.ResponseWriter, r *http.Request) {
	s, err := a.store.Services(r.Context())
	if err != nil {
		a.failed(w, r, err)
		return
	}
	s = serviceNames(s)
	writeEnvelope(w, http.StatusOK, envelope{Data: s, Total: len(s)})
}

func (a *API) serviceOperations(w http.ResponseWriter, r *http.Request) {
	ops, err := a.store.Operations(r.Context(), storeService(r.PathValue("service")))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	names := make([]string, 0, len(ops))
	for _, o := range ops {
		if len(names) == 0 || names[len(names)-1] != o.Name {
			names = append(names, o.Name)
		}
	}
	writeEnvelope(w, http.StatusOK, envelope{Data: names, Total: len(names)})
}

// serviceNames returns the service list as Jaeger shows it: spans without
// service.name are under noServiceName.
func serviceNames(s []string) []string {
	out := make([]string, 0, len(s))
	for _, name := range s {
		if name == "" {
			name = noServiceName
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// storeService maps a service name from a request to the stored one.
func storeService(s string) string {
	if s == noServiceName {
		return ""
	}
	return s
}

// Operation is an operation with its span kind ("" for unspecified).
type Operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// operationList returns the operations of service ("" = all) with span
// kind kind ("" = any), failing with a message naming the parameter.
func (a *API) operationList(ctx context.Context, service, kind string) ([]Operation, error) {
	want := int8(-1)
	if kind != "" {
		k, ok := model.ParseKind(kind)
		if !ok {
			return nil, &paramError{"spanKind", "unknown span kind " + strconv.Quote(kind) + " (use server, client, producer, consumer, internal or unspecified)"}
		}
		want = k
	}
	ops, err := a.store.Operations(ctx, storeService(service))
	if err != nil {
		return nil, err
	}
	out := make([]Operation, 0, len(ops))
	for _, o := range ops {
		if want < 0 || o.Kind == want {
			out = append(out, Operation{Name: o.Name, SpanKind: kindTag(o.Kind)})
		}
	}
	return out, nil
}

func (a *API) operations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out, err := a.operationList(r.Context(), q.Get("service"), q.Get("spanKind"))
	if pe := (*paramError)(nil); errors.As(err, &pe) {
		writeError(w, http.StatusBadRequest, pe.Error())
		return
	}
	if err != nil {
		a.failed(w, r, err)
		return
	}
	writeEnvelope(w, http.StatusOK, envelope{Data: out, Total: len(out)})
}

func parseTraceID(name, raw string) (model.TraceID, error) {
	id, err := model.ParseTraceID(raw)
	if err != nil || id.IsZero() {
		return id, &paramError{name, strconv.Quote(raw) + " is not a trace ID (1 to 32 hex digits)"}
	}
	return id, nil
}

// parseLooseTraceID is parseTraceID that also accepts an odd number of
// hex digits, as Jaeger does.
func parseLooseTraceID(name, raw string) (model.TraceID, error) {
	if len(raw)%2 == 1 && len(raw) < 32 {
		raw = "0" + raw
	}
	return parseTraceID(name, raw)
}

func (a *API) trace(w http.ResponseWriter, r *http.Request) {
	id, err := parseLooseTraceID("traceID", r.PathValue("traceID"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	spans, err := a.store.Trace(r.Context(), id)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if len(spans) == 0 {
		writeError(w, http.StatusNotFound, "trace not found")
		return
	}
	writeEnvelope(w, http.StatusOK, envelope{Data: []Trace{ToTrace(spans)}})
}

func (a *API) search(w http.ResponseWriter, r *http.Request) {
	p, err := parseSearch(r.URL.Query(), now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var out envelope
	traces := []Trace{}
	if len(p.traceIDs) > 0 {
		for _, id := range p.traceIDs {
			spans, err := a.store.Trace(r.Context(), id)
			if err != nil {
				a.failed(w, r, err)
				return
			}
			if len(spans) == 0 {
				out.Errors = append(out.Errors, respError{Code: http.StatusNotFound, Msg: "trace not found", TraceID: TraceIDString(id)})
				continue
			}
			traces = append(traces, ToTrace(spans))
		}
	} else {
		res, err := a.engine.Search(r.Context(), p.q)
		if err != nil {
			a.failed(w, r, err)
			return
		}
		for _, t := range res {
			traces = append(traces, ToTrace(t.Spans))
		}
	}
	out.Data = traces
	writeEnvelope(w, http.StatusOK, out)
}
