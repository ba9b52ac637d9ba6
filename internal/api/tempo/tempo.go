// Package tempo serves the Grafana Tempo HTTP query API (Tempo's paths and
// response shapes, default port 3200) on Ariadne's query engine, so that
// Grafana's Tempo data source and Tempo clients work unchanged.
package tempo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// Store is what the Tempo API needs from storage.
type Store interface {
	query.Storage
	AttributeKeys(ctx context.Context) ([]string, error)
	AttributeValues(ctx context.Context, key string, limit int) ([]store.ValueCount, error)
}

// API serves the Tempo HTTP API.
type API struct {
	store   Store
	engine  *query.Engine
	log     *slog.Logger
	timeout time.Duration
	ready   func() bool
}

// New returns the Tempo API. ready reports readiness for /ready (nil =
// always ready); timeout bounds each request (0 = none).
func New(s Store, log *slog.Logger, timeout time.Duration, ready func() bool) *API {
	if ready == nil {
		ready = func() bool { return true }
	}
	return &API{store: s, engine: &query.Engine{Storage: s}, log: log, timeout: timeout, ready: ready}
}

// Register adds Tempo's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/echo", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("echo")) })
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if !a.ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready"))
	})
	mux.HandleFunc("GET /api/status/buildinfo", a.buildInfo)
	mux.HandleFunc("GET /api/traces/{traceID}", a.timed(a.traceV1))
	mux.HandleFunc("GET /api/v2/traces/{traceID}", a.timed(a.traceV2))
	mux.HandleFunc("GET /api/search", a.timed(a.search))
	mux.HandleFunc("GET /api/search/tags", a.timed(a.tagsV1))
	mux.HandleFunc("GET /api/v2/search/tags", a.timed(a.tagsV2))
	mux.HandleFunc("GET /api/search/tag/{tag}/values", a.timed(a.tagValuesV1))
	mux.HandleFunc("GET /api/v2/search/tag/{tag}/values", a.timed(a.tagValuesV2))
	mux.HandleFunc("GET /api/metrics/query_range", a.timed(a.metricsRange))
	mux.HandleFunc("GET /api/metrics/query", a.timed(a.metricsInstant))
}

func (a *API) timed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		h(w, r)
	}
}

// badRequest writes a 400 with a plain-text message, as Tempo does.
func badRequest(w http.ResponseWriter, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest)
}

func (a *API) internalError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		http.Error(w, "query timed out; narrow the time range or add filters", http.StatusGatewayTimeout)
	case errors.Is(err, context.Canceled):
	case errors.Is(err, query.ErrTooManyCandidates):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
	default:
		a.log.Error("tempo API query failed", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error: "+err.Error(), http.StatusInternalServerError)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// BuildInfo is the /api/status/buildinfo response.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// TempoVersion is the Tempo API version Ariadne reports in buildinfo:
// Grafana enables data source features (TraceQL, v2 tags, metrics) by it.
const TempoVersion = "2.6.0"

func (a *API) buildInfo(w http.ResponseWriter, r *http.Request) {
	bi := BuildInfo{Version: TempoVersion, Branch: "ariadne", GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Revision = s.Value
			case "vcs.time":
				bi.BuildDate = s.Value
			}
		}
	}
	writeJSON(w, bi)
}

// ---- trace by ID ----

func parseTraceID(raw string) (model.TraceID, error) {
	s := strings.TrimLeft(raw, "0")
	if len(s)%2 == 1 {
		s = "0" + s
	}
	if s == "" || len(raw) > 32 {
		return model.TraceID{}, fmt.Errorf("traceID: %q is not a trace ID (up to 32 hex characters, not all zero)", raw)
	}
	id, err := model.ParseTraceID(s)
	if err != nil {
		return id, fmt.Errorf("traceID: %q is not a trace ID (up to 32 hex characters, not all zero)", raw)
	}
	return id, nil
}

// wantsProto reports whether the client asked for protobuf.
func wantsProto(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/protobuf")
}

// getTrace reads the trace named in the path and returns it as OTLP
// protobuf (and, unless the client wants protobuf, as Tempo's JSON); it has
// written the response when ok is false.
func (a *API) getTrace(w http.ResponseWriter, r *http.Request) (pb []byte, js json.RawMessage, ok bool) {
	id, err := parseTraceID(r.PathValue("traceID"))
	if err != nil {
		badRequest(w, "%v", err)
		return nil, nil, false
	}
	if _, _, err := timeRange(r.URL.Query()); err != nil {
		badRequest(w, "%v", err)
		return nil, nil, false
	}
	spans, err := a.store.Trace(r.Context(), id)
	if err != nil {
		a.internalError(w, r, err)
		return nil, nil, false
	}
	if len(spans) == 0 {
		http.Error(w, "trace not found", http.StatusNotFound)
		return nil, nil, false
	}
	if pb, err = traceProto(spans); err == nil && !wantsProto(r) {
		js, err = traceJSON(pb)
	}
	if err != nil {
		a.internalError(w, r, err)
		return nil, nil, false
	}
	return pb, js, true
}

// traceProto encodes spans as OTLP TracesData, which has the same wire
// format as Tempo's tempopb.Trace.
func traceProto(spans []model.Span) ([]byte, error) {
	return (&ptrace.ProtoMarshaler{}).MarshalTraces(model.ToTraces(spans))
}

// traceJSON encodes the trace as Tempo does: protobuf JSON of tempopb.Trace
// (camelCase fields, IDs in base64, enums by name, 64-bit numbers as
// strings).
func traceJSON(pb []byte) (json.RawMessage, error) {
	var td tracepb.TracesData
	if err := proto.Unmarshal(pb, &td); err != nil {
		return nil, err
	}
	return protojson.Marshal(&td)
}

func (a *API) traceV1(w http.ResponseWriter, r *http.Request) {
	pb, js, ok := a.getTrace(w, r)
	if !ok {
		return
	}
	if wantsProto(r) {
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(pb)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(js)
}

func (a *API) traceV2(w http.ResponseWriter, r *http.Request) {
	pb, js, ok := a.getTrace(w, r)
	if !ok {
		return
	}
	if wantsProto(r) {
		// tempopb.TraceByIDResponse{trace: 1, metrics: 2}
		b := protowire.AppendTag(nil, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, pb)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, nil)
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(b)
		return
	}
	writeJSON(w, struct {
		Trace   json.RawMessage `json:"trace"`
		Metrics struct{}        `json:"metrics"`
	}{Trace: js})
}

// ---- parameters ----

// parseTime parses unix seconds, unix nanoseconds (more than 12 digits) or
// RFC 3339.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if len(strings.TrimLeft(s, "-")) > 12 {
			return time.Unix(0, n), nil
		}
		return time.Unix(n, 0), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*1e9)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s: %q is not a time (unix epoch seconds, unix nanoseconds or RFC 3339)", name, s)
}

func timeRange(v map[string][]string) (start, end time.Time, err error) {
	get := func(k string) string {
		if len(v[k]) > 0 {
			return v[k][0]
		}
		return ""
	}
	if start, err = parseTime("start", get("start")); err != nil {
		return
	}
	if end, err = parseTime("end", get("end")); err != nil {
		return
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		err = fmt.Errorf("end: %s is before start %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	return
}

func positiveInt(name, s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: must be a positive integer, got %q", name, s)
	}
	return min(n, max), nil
}
