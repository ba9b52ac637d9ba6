// Package metrics serves the series that package pipeline derives from
// spans: the native API under /api/v1/metrics, Jaeger's /api/dependencies
// and monitor endpoints (/api/metrics/{calls,errors,latencies}), Zipkin's
// /api/v2/dependencies, and a Prometheus exposition under the names and
// labels of the OpenTelemetry Collector's spanmetrics and servicegraph
// connectors. docs/metrics.md documents all of them.
package metrics

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/api"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/pipeline"
)

// Wrap decorates a handler (query timeout, latency metric labelled name).
type Wrap func(name string, h http.HandlerFunc) http.HandlerFunc

// API serves the derived metrics.
type API struct {
	p    *pipeline.Pipeline
	wrap Wrap
	now  func() time.Time
}

// New returns the API over p; wrap may be nil. With p nil (derivation
// turned off) every route answers 404 saying so.
func New(p *pipeline.Pipeline, wrap Wrap) *API {
	if wrap == nil {
		wrap = func(_ string, h http.HandlerFunc) http.HandlerFunc { return h }
	}
	if p == nil {
		wrap = func(string, http.HandlerFunc) http.HandlerFunc { return disabled }
	}
	return &API{p: p, wrap: wrap, now: time.Now}
}

// Register adds the native and Jaeger routes (the query port) to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/metrics/services", a.wrap("metrics_services", a.services))
	mux.HandleFunc("GET /api/v1/metrics/series", a.wrap("metrics_series", a.series))
	mux.HandleFunc("GET /api/v1/metrics/operations", a.wrap("metrics_operations", a.operations))
	mux.HandleFunc("GET /api/v1/metrics/graph", a.wrap("metrics_graph", a.graph))
	mux.HandleFunc("GET /api/dependencies", a.wrap("jaeger_dependencies", a.jaegerDependencies))
	mux.HandleFunc("GET /api/metrics/calls", a.wrap("jaeger_metrics_calls", a.jaegerMetrics("calls")))
	mux.HandleFunc("GET /api/metrics/errors", a.wrap("jaeger_metrics_errors", a.jaegerMetrics("errors")))
	mux.HandleFunc("GET /api/metrics/latencies", a.wrap("jaeger_metrics_latencies", a.jaegerMetrics("latencies")))
	mux.HandleFunc("GET /api/metrics/minstep", a.wrap("jaeger_metrics_minstep", a.jaegerMinStep))
	mux.Handle("GET /metrics/spans", a.Prometheus())
}

func disabled(w http.ResponseWriter, _ *http.Request) {
	api.WriteError(w, http.StatusNotFound, "service metrics are turned off on this server (metrics.enabled: false)")
}

// ZipkinDependencies is Zipkin's GET /api/v2/dependencies, for the Zipkin
// port.
func (a *API) ZipkinDependencies() http.HandlerFunc {
	return a.wrap("zipkin_dependencies", a.zipkinDependencies)
}

// window parses start and end (RFC 3339 or Unix time; default the last
// hour up to now).
func (a *API) window(v url.Values) (time.Time, time.Time, error) {
	end, err := api.ParseTime("end", v.Get("end"))
	if err != nil {
		return end, end, err
	}
	if end.IsZero() {
		end = a.now()
	}
	start, err := api.ParseTime("start", v.Get("start"))
	if err != nil {
		return start, end, err
	}
	if start.IsZero() {
		start = end.Add(-time.Hour)
	}
	if !start.Before(end) {
		return start, end, fmt.Errorf("start: must be before end")
	}
	if end.Sub(start) > 366*24*time.Hour {
		return start, end, fmt.Errorf("start: the window may span at most 366 days")
	}
	return start, end, nil
}

// parseKinds parses a comma-separated list of span kinds; "" gives def.
func parseKinds(name, s string, def []int8) ([]int8, error) {
	if s == "" {
		return def, nil
	}
	if s == "all" {
		return nil, nil
	}
	var out []int8
	for _, k := range strings.Split(s, ",") {
		v, ok := model.ParseKind(strings.TrimSpace(strings.ToLower(k)))
		if !ok {
			return nil, fmt.Errorf("%s: %q is not a span kind (server, client, producer, consumer, internal, unspecified or all)", name, k)
		}
		out = append(out, v)
	}
	return out, nil
}

var entryKinds = []int8{model.KindServer, model.KindConsumer}

// ms converts nanoseconds to milliseconds.
func ms(ns float64) float64 { return ns / 1e6 }

// quantiles are the latency percentiles every summary carries.
type quantiles struct {
	P50 float64 `json:"p50Ms"`
	P90 float64 `json:"p90Ms"`
	P95 float64 `json:"p95Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

func quantilesOf(s *pipeline.Sketch) quantiles {
	return quantiles{P50: ms(s.Quantile(0.5)), P90: ms(s.Quantile(0.9)), P95: ms(s.Quantile(0.95)), P99: ms(s.Quantile(0.99)), Max: ms(float64(s.Max))}
}

type exemplarJSON struct {
	TraceID    string  `json:"traceID"`
	SpanID     string  `json:"spanID"`
	Start      string  `json:"start"`
	DurationMs float64 `json:"durationMs"`
	Error      bool    `json:"error"`
}

func exemplarsJSON(list []pipeline.Exemplar) []exemplarJSON {
	out := make([]exemplarJSON, 0, len(list))
	for _, e := range list {
		out = append(out, exemplarJSON{TraceID: e.TraceID.String(), SpanID: e.SpanID.String(),
			Start: time.Unix(0, e.Start).UTC().Format(time.RFC3339Nano), DurationMs: ms(float64(e.Duration)), Error: e.Error})
	}
	return out
}

// red is a rate/errors/duration summary over an interval.
type red struct {
	Calls     uint64  `json:"calls"`
	Errors    uint64  `json:"errors"`
	Rate      float64 `json:"rate"`      // calls per second
	ErrorRate float64 `json:"errorRate"` // errors / calls; 0 without calls
	quantiles
}

func redOf(st *pipeline.Stats, seconds float64) red {
	r := red{Calls: st.Calls, Errors: st.Errors, Rate: float64(st.Calls) / seconds, quantiles: quantilesOf(&st.Latency)}
	if st.Calls > 0 {
		r.ErrorRate = float64(st.Errors) / float64(st.Calls)
	}
	return r
}

// seconds is the length of [start, end) rounded out to whole minutes, the
// resolution of the data.
func seconds(start, end time.Time) float64 {
	f := start.Truncate(time.Minute)
	t := end.Truncate(time.Minute)
	if t.Before(end) {
		t = t.Add(time.Minute)
	}
	return math.Max(t.Sub(f).Seconds(), 60)
}

func badRequest(w http.ResponseWriter, err error) {
	api.WriteError(w, http.StatusBadRequest, err.Error())
}

type serviceJSON struct {
	Service string `json:"service"`
	Kinds   string `json:"kinds"` // "server,consumer" or "all"
	red
}

// services: GET /api/v1/metrics/services?start&end&kind
func (a *API) services(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	start, end, err := a.window(v)
	if err != nil {
		badRequest(w, err)
		return
	}
	kinds, err := parseKinds("kind", v.Get("kind"), nil)
	if err != nil {
		badRequest(w, err)
		return
	}
	ops := a.p.Operations(start, end, pipeline.Filter{})
	type acc struct{ entry, all pipeline.Stats }
	per := map[string]*acc{}
	var names []string
	for i := range ops {
		o := &ops[i]
		x := per[o.Service]
		if x == nil {
			x = &acc{}
			per[o.Service] = x
			names = append(names, o.Service)
		}
		add := func(st *pipeline.Stats) {
			st.Calls += o.Calls
			st.Errors += o.Errors
			st.Latency.Merge(&o.Latency)
		}
		if v.Get("kind") == "" {
			add(&x.all)
			if o.Kind == model.KindServer || o.Kind == model.KindConsumer {
				add(&x.entry)
			}
		} else if len(kinds) == 0 || containsKind(kinds, o.Kind) {
			add(&x.all)
		}
	}
	secs := seconds(start, end)
	out := []serviceJSON{}
	sortStrings(names)
	for _, n := range names {
		x := per[n]
		switch {
		case v.Get("kind") != "":
			if x.all.Calls > 0 {
				out = append(out, serviceJSON{Service: n, Kinds: v.Get("kind"), red: redOf(&x.all, secs)})
			}
		case x.entry.Calls > 0:
			out = append(out, serviceJSON{Service: n, Kinds: "server,consumer", red: redOf(&x.entry, secs)})
		default:
			out = append(out, serviceJSON{Service: n, Kinds: "all", red: redOf(&x.all, secs)})
		}
	}
	api.WriteJSON(w, map[string]any{"start": start.UTC(), "end": end.UTC(), "services": out})
}

func containsKind(ks []int8, k int8) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

type pointJSON struct {
	Time string `json:"time"`
	red
	Exemplars []exemplarJSON `json:"exemplars"`
}

// series: GET /api/v1/metrics/series?service&operation&kind&start&end&step
func (a *API) series(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	start, end, err := a.window(v)
	if err != nil {
		badRequest(w, err)
		return
	}
	svc := v.Get("service")
	if svc == "" {
		badRequest(w, fmt.Errorf("service: required"))
		return
	}
	kinds, err := parseKinds("kind", v.Get("kind"), nil)
	if err != nil {
		badRequest(w, err)
		return
	}
	step := time.Minute
	if s := v.Get("step"); s != "" {
		step, err = time.ParseDuration(s)
		if err != nil || step <= 0 {
			badRequest(w, fmt.Errorf("step: %q is not a positive duration (examples: 1m, 5m, 1h)", s))
			return
		}
	}
	if step < time.Minute {
		step = time.Minute
	}
	step = step.Truncate(time.Minute)
	if n := end.Sub(start) / step; n > 11_000 {
		badRequest(w, fmt.Errorf("step: %s gives %d points over the window; at most 11000 (use a larger step)", step, n))
		return
	}
	pts := a.p.Series(start, end, step, pipeline.Filter{Service: svc, Name: v.Get("operation"), Kinds: kinds})
	out := make([]pointJSON, 0, len(pts))
	for i := range pts {
		pt := &pts[i]
		out = append(out, pointJSON{Time: pt.Start.Format(time.RFC3339), red: redOf(&pt.Stats, step.Seconds()), Exemplars: exemplarsJSON(pt.Exemplars)})
	}
	api.WriteJSON(w, map[string]any{"service": svc, "operation": v.Get("operation"), "step": step.String(), "points": out})
}

type operationJSON struct {
	Service   string `json:"service"`
	Operation string `json:"operation"`
	Kind      string `json:"kind"`
	red
	Exemplars []exemplarJSON `json:"exemplars"`
}

// operations: GET /api/v1/metrics/operations?service&kind&start&end&limit&sort
func (a *API) operations(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	start, end, err := a.window(v)
	if err != nil {
		badRequest(w, err)
		return
	}
	kinds, err := parseKinds("kind", v.Get("kind"), nil)
	if err != nil {
		badRequest(w, err)
		return
	}
	limit := 100
	if s := v.Get("limit"); s != "" {
		limit, err = strconv.Atoi(s)
		if err != nil || limit < 1 || limit > 10_000 {
			badRequest(w, fmt.Errorf("limit: %q is not a number from 1 to 10000", s))
			return
		}
	}
	ops := a.p.Operations(start, end, pipeline.Filter{Service: v.Get("service"), Kinds: kinds})
	secs := seconds(start, end)
	out := make([]operationJSON, 0, len(ops))
	for i := range ops {
		o := &ops[i]
		out = append(out, operationJSON{Service: o.Service, Operation: o.Name, Kind: model.KindName(o.Kind),
			red: redOf(&o.Stats, secs), Exemplars: exemplarsJSON(o.Exemplars)})
	}
	switch v.Get("sort") {
	case "", "calls":
	case "errors":
		sortBy(out, func(o operationJSON) float64 { return float64(o.Errors) })
	case "errorRate":
		sortBy(out, func(o operationJSON) float64 { return o.ErrorRate })
	case "p95":
		sortBy(out, func(o operationJSON) float64 { return o.P95 })
	case "p99":
		sortBy(out, func(o operationJSON) float64 { return o.P99 })
	default:
		badRequest(w, fmt.Errorf("sort: %q is not one of calls, errors, errorRate, p95, p99", v.Get("sort")))
		return
	}
	if len(out) > limit {
		out = out[:limit]
	}
	api.WriteJSON(w, map[string]any{"operations": out})
}

type nodeJSON struct {
	Name    string `json:"name"`
	Virtual bool   `json:"virtual"`
}

type edgeJSON struct {
	Client         string         `json:"client"`
	Server         string         `json:"server"`
	ConnectionType string         `json:"connectionType"`
	Calls          uint64         `json:"calls"`
	Errors         uint64         `json:"errors"`
	Rate           float64        `json:"rate"`
	ErrorRate      float64        `json:"errorRate"`
	ClientLatency  quantiles      `json:"clientLatency"`
	ServerLatency  quantiles      `json:"serverLatency"`
	Exemplars      []exemplarJSON `json:"exemplars"`
}

// graph: GET /api/v1/metrics/graph?start&end&service
func (a *API) graph(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	start, end, err := a.window(v)
	if err != nil {
		badRequest(w, err)
		return
	}
	nodes, edges := a.p.Graph(start, end)
	svc := v.Get("service")
	secs := seconds(start, end)
	outE := []edgeJSON{}
	keep := map[string]bool{}
	for i := range edges {
		e := &edges[i]
		if svc != "" && e.Client != svc && e.Server != svc {
			continue
		}
		keep[e.Client], keep[e.Server] = true, true
		ej := edgeJSON{Client: e.Client, Server: e.Server, ConnectionType: e.ConnType, Calls: e.Calls, Errors: e.Errors,
			Rate: float64(e.Calls) / secs, ClientLatency: quantilesOf(&e.ClientLatency), ServerLatency: quantilesOf(&e.ServerLatency),
			Exemplars: exemplarsJSON(e.Exemplars)}
		if e.Calls > 0 {
			ej.ErrorRate = float64(e.Errors) / float64(e.Calls)
		}
		outE = append(outE, ej)
	}
	outN := []nodeJSON{}
	for _, n := range nodes {
		if svc == "" || keep[n.Name] {
			outN = append(outN, nodeJSON{Name: n.Name, Virtual: n.Virtual})
		}
	}
	api.WriteJSON(w, map[string]any{"start": start.UTC(), "end": end.UTC(), "nodes": outN, "edges": outE})
}
