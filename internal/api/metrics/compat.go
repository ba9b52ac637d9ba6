package metrics

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/pipeline"
)

// dependencyLink is one edge as Jaeger and Zipkin return it.
type dependencyLink struct {
	Parent     string `json:"parent"`
	Child      string `json:"child"`
	CallCount  uint64 `json:"callCount"`
	ErrorCount uint64 `json:"errorCount,omitempty"` // Zipkin only
}

// dependencies sums the graph's edges per (caller, callee) over the
// window, leaving out the virtual "user" caller of root spans (neither
// Jaeger nor Zipkin has it). Sorted by parent, then child.
func (a *API) dependencies(start, end time.Time) []dependencyLink {
	_, edges := a.p.Graph(start, end)
	acc := map[[2]string]*dependencyLink{}
	for _, e := range edges {
		if e.Client == pipeline.UserNode && e.ConnType == pipeline.ConnVirtual {
			continue
		}
		k := [2]string{e.Client, e.Server}
		l := acc[k]
		if l == nil {
			l = &dependencyLink{Parent: e.Client, Child: e.Server}
			acc[k] = l
		}
		l.CallCount += e.Calls
		l.ErrorCount += e.Errors
	}
	out := make([]dependencyLink, 0, len(acc))
	for _, l := range acc {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b dependencyLink) int {
		return cmp.Or(cmp.Compare(a.Parent, b.Parent), cmp.Compare(a.Child, b.Child))
	})
	return out
}

// msParam parses a Unix-milliseconds parameter; def when absent.
func msParam(v url.Values, name string, def int64) (int64, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a non-negative integer of milliseconds", name, s)
	}
	return n, nil
}

// jaegerEnvelope is Jaeger's structured response.
type jaegerEnvelope struct {
	Data   any           `json:"data"`
	Total  int           `json:"total"`
	Limit  int           `json:"limit"`
	Offset int           `json:"offset"`
	Errors []jaegerError `json:"errors"`
}

type jaegerError struct {
	Code int    `json:"code,omitempty"`
	Msg  string `json:"msg"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func jaegerBadRequest(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, jaegerEnvelope{Errors: []jaegerError{{Code: http.StatusBadRequest, Msg: err.Error()}}})
}

// jaegerMinStep: GET /api/metrics/minstep, the smallest step the monitor
// endpoints resolve (the series are per minute), in milliseconds, in
// Jaeger's envelope.
func (a *API) jaegerMinStep(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jaegerEnvelope{Data: time.Minute.Milliseconds()})
}

// jaegerDependencies: GET /api/dependencies?endTs=<ms>&lookback=<ms>
// (defaults: now, 24h)&service= (optional: links touching it), in
// Jaeger's envelope.
func (a *API) jaegerDependencies(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	end, err := msParam(v, "endTs", a.now().UnixMilli())
	if err != nil {
		jaegerBadRequest(w, err)
		return
	}
	lookback, err := msParam(v, "lookback", (24 * time.Hour).Milliseconds())
	if err != nil {
		jaegerBadRequest(w, err)
		return
	}
	deps := a.dependencies(time.UnixMilli(end-lookback), time.UnixMilli(end))
	if svc := v.Get("service"); svc != "" {
		deps = slices.DeleteFunc(deps, func(l dependencyLink) bool { return l.Parent != svc && l.Child != svc })
	}
	for i := range deps {
		deps[i].ErrorCount = 0
	}
	writeJSON(w, http.StatusOK, jaegerEnvelope{Data: deps, Total: len(deps)})
}

// zipkinDependencies: GET /api/v2/dependencies?endTs=<ms>&lookback=<ms>
// (endTs required; lookback default one day).
func (a *API) zipkinDependencies(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if v.Get("endTs") == "" {
		writeText(w, http.StatusBadRequest, "endTs: required (Unix milliseconds)")
		return
	}
	end, err := msParam(v, "endTs", 0)
	if err == nil && end == 0 {
		err = fmt.Errorf("endTs: must be greater than zero")
	}
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	lookback, err := msParam(v, "lookback", (24 * time.Hour).Milliseconds())
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, a.dependencies(time.UnixMilli(end-lookback), time.UnixMilli(end)))
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// Jaeger's monitor (SPM) response: an OpenMetrics-style MetricFamily.
type metricFamily struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Help    string   `json:"help"`
	Metrics []metric `json:"metrics"`
}

type metric struct {
	Labels       []label       `json:"labels"`
	MetricPoints []metricPoint `json:"metricPoints"`
}

type label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type metricPoint struct {
	GaugeValue gaugeValue `json:"gaugeValue"`
	Timestamp  string     `json:"timestamp"`
}

type gaugeValue struct {
	DoubleValue float64 `json:"doubleValue"`
}

func parseBool(name, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a boolean (true or false)", name, s)
	}
	return b, nil
}

// jaegerMetrics serves /api/metrics/{calls,errors,latencies} with Jaeger's
// parameters: service (repeated, required), groupByOperation, quantile
// (latencies only, (0,1]), endTs, lookback, step, ratePer (milliseconds;
// defaults now, 1h, 5s, 10m) and spanKind (repeated, default server).
// Each point at time t summarises the ratePer window before t; points
// without calls are left out, as Prometheus leaves them out.
func (a *API) jaegerMetrics(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		services := v["service"]
		if len(services) == 0 || slices.Contains(services, "") {
			jaegerBadRequest(w, fmt.Errorf("service: please provide at least one service name"))
			return
		}
		group, err := parseBool("groupByOperation", v.Get("groupByOperation"))
		if err != nil {
			jaegerBadRequest(w, err)
			return
		}
		var q float64
		if kind == "latencies" {
			q, err = strconv.ParseFloat(v.Get("quantile"), 64)
			if err != nil || q <= 0 || q > 1 {
				jaegerBadRequest(w, fmt.Errorf("quantile: %q must be a number in (0, 1]", v.Get("quantile")))
				return
			}
		}
		end, err := msParam(v, "endTs", a.now().UnixMilli())
		if err != nil {
			jaegerBadRequest(w, err)
			return
		}
		var lookback, step, ratePer int64
		for _, p := range []struct {
			name string
			dst  *int64
			def  time.Duration
		}{{"lookback", &lookback, time.Hour}, {"step", &step, 5 * time.Second}, {"ratePer", &ratePer, 10 * time.Minute}} {
			if *p.dst, err = msParam(v, p.name, p.def.Milliseconds()); err == nil && *p.dst == 0 {
				err = fmt.Errorf("%s: must be greater than zero", p.name)
			}
			if err != nil {
				jaegerBadRequest(w, err)
				return
			}
		}
		if lookback/step > 11_000 {
			jaegerBadRequest(w, fmt.Errorf("step: %dms gives more than 11000 points over lookback %dms", step, lookback))
			return
		}
		// Each point sums the minutes of its ratePer window: bound the work.
		if (lookback/step+1)*(ratePer/60_000+1) > 500_000 {
			jaegerBadRequest(w, fmt.Errorf("ratePer: a %dms window at each of %d points is too much work; use a larger step or a shorter ratePer", ratePer, lookback/step+1))
			return
		}
		var kinds []int8
		for _, s := range v["spanKind"] {
			k, ok := model.ParseKind(strings.ToLower(s))
			if !ok {
				k, ok = model.ParseKind(s)
			}
			if !ok {
				jaegerBadRequest(w, fmt.Errorf("spanKind: %q is not one of unspecified, internal, server, client, producer, consumer", s))
				return
			}
			kinds = append(kinds, k)
		}
		if len(kinds) == 0 {
			kinds = []int8{model.KindServer}
		}
		writeJSON(w, http.StatusOK, a.monitor(kind, services, group, q, kinds,
			time.UnixMilli(end-lookback), time.UnixMilli(end), time.Duration(step)*time.Millisecond, time.Duration(ratePer)*time.Millisecond))
	}
}

func (a *API) monitor(kind string, services []string, group bool, q float64, kinds []int8, start, end time.Time, step, ratePer time.Duration) metricFamily {
	type gk struct{ svc, op string }
	per := map[gk]map[int64]*pipeline.Stats{}
	data := a.p.View(start.Add(-ratePer), end)
	for m, x := range data {
		for k, s := range x.Spans {
			if !slices.Contains(services, k.Service) || !slices.Contains(kinds, k.Kind) {
				continue
			}
			g := gk{svc: k.Service}
			if group {
				g.op = k.Name
			}
			mm := per[g]
			if mm == nil {
				mm = map[int64]*pipeline.Stats{}
				per[g] = mm
			}
			st := mm[m]
			if st == nil {
				st = &pipeline.Stats{}
				mm[m] = st
			}
			st.Calls += s.Calls
			st.Errors += s.Errors
			st.Latency.Merge(&s.Latency)
		}
	}
	fam := metricFamily{Type: "GAUGE", Metrics: []metric{}}
	scope, by := "service", "service"
	if group {
		scope, by = "service_operation", "service & operation"
	}
	switch kind {
	case "calls":
		fam.Name, fam.Help = scope+"_call_rate", "calls/sec, grouped by "+by
	case "errors":
		fam.Name, fam.Help = scope+"_error_rate", "error rate, computed as a fraction of errors/sec over calls/sec, grouped by "+by
	case "latencies":
		fam.Name, fam.Help = scope+"_latencies", fmt.Sprintf("%.2fth quantile latency, grouped by %s", q, by)
	}
	keys := make([]gk, 0, len(per))
	for k := range per {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b gk) int { return cmp.Or(cmp.Compare(a.svc, b.svc), cmp.Compare(a.op, b.op)) })
	for _, k := range keys {
		mm := per[k]
		var labels []label
		if group {
			labels = append(labels, label{Name: "operation", Value: k.op})
		}
		labels = append(labels, label{Name: "service_name", Value: k.svc})
		met := metric{Labels: labels, MetricPoints: []metricPoint{}}
		for t := start; !t.After(end); t = t.Add(step) {
			var st pipeline.Stats
			from := t.Add(-ratePer).Unix()
			for m := from / 60; m*60 < t.Unix(); m++ {
				if m*60 < from {
					continue
				}
				if x := mm[m]; x != nil {
					st.Calls += x.Calls
					st.Errors += x.Errors
					st.Latency.Merge(&x.Latency)
				}
			}
			if st.Calls == 0 {
				continue
			}
			var val float64
			switch kind {
			case "calls":
				val = float64(st.Calls) / ratePer.Seconds()
			case "errors":
				val = float64(st.Errors) / float64(st.Calls)
			case "latencies":
				val = ms(st.Latency.Quantile(q))
			}
			met.MetricPoints = append(met.MetricPoints, metricPoint{GaugeValue: gaugeValue{DoubleValue: val}, Timestamp: t.UTC().Format(time.RFC3339)})
		}
		fam.Metrics = append(fam.Metrics, met)
	}
	return fam
}
