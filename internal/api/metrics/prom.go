package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Histogram bounds: the spanmetrics connector's default buckets (in
// milliseconds) and the same bounds in seconds for the service graph.
var bucketsMs = []float64{2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000}

var (
	spanLabels  = []string{"service_name", "span_name", "span_kind", "status_code"}
	edgeLabels  = []string{"client", "server", "connection_type"}
	descCalls   = prometheus.NewDesc("traces_span_metrics_calls_total", "Number of spans, per service, span name, kind and status.", spanLabels, nil)
	descDur     = prometheus.NewDesc("traces_span_metrics_duration_milliseconds", "Span durations in milliseconds.", spanLabels, nil)
	descReq     = prometheus.NewDesc("traces_service_graph_request_total", "Requests between two nodes of the service graph.", edgeLabels, nil)
	descFailed  = prometheus.NewDesc("traces_service_graph_request_failed_total", "Failed requests between two nodes of the service graph.", edgeLabels, nil)
	descServerS = prometheus.NewDesc("traces_service_graph_request_server_seconds", "Request durations seen by the server side, in seconds.", edgeLabels, nil)
	descClientS = prometheus.NewDesc("traces_service_graph_request_client_seconds", "Request durations seen by the client side, in seconds.", edgeLabels, nil)
)

type collector struct{ a *API }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descDur, descReq, descFailed, descServerS, descClientS} {
		ch <- d
	}
}

var kindLabel = map[int8]string{
	model.KindUnspecified: "SPAN_KIND_UNSPECIFIED", model.KindInternal: "SPAN_KIND_INTERNAL", model.KindServer: "SPAN_KIND_SERVER",
	model.KindClient: "SPAN_KIND_CLIENT", model.KindProducer: "SPAN_KIND_PRODUCER", model.KindConsumer: "SPAN_KIND_CONSUMER",
}

var statusLabel = map[int8]string{model.StatusUnset: "STATUS_CODE_UNSET", model.StatusOK: "STATUS_CODE_OK", model.StatusError: "STATUS_CODE_ERROR"}

func histogram(s interface {
	CountAtMost(float64) uint64
}, scale float64) map[float64]uint64 {
	out := make(map[float64]uint64, len(bucketsMs))
	for _, b := range bucketsMs {
		out[b*scale] = s.CountAtMost(b * 1e6) // bounds in ns
	}
	return out
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	spans, edges := c.a.p.Totals()
	for k, s := range spans {
		lv := []string{k.Service, k.Name, kindLabel[k.Kind], statusLabel[k.Status]}
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(s.Calls), lv...)
		ch <- prometheus.MustNewConstHistogram(descDur, s.Latency.Count, s.Latency.Sum/1e6, histogram(&s.Latency, 1), lv...)
	}
	for k, e := range edges {
		lv := []string{k.Client, k.Server, k.ConnType}
		ch <- prometheus.MustNewConstMetric(descReq, prometheus.CounterValue, float64(e.Calls), lv...)
		ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(e.Errors), lv...)
		ch <- prometheus.MustNewConstHistogram(descServerS, e.Server.Count, e.Server.Sum/1e9, histogram(&e.Server, 1e-3), lv...)
		ch <- prometheus.MustNewConstHistogram(descClientS, e.Client.Count, e.Client.Sum/1e9, histogram(&e.Client, 1e-3), lv...)
	}
}

// Prometheus returns the handler of the span-metrics and service-graph
// exposition (GET /metrics/spans).
func (a *API) Prometheus() http.Handler {
	if a.p == nil {
		return http.HandlerFunc(disabled)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{a})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
