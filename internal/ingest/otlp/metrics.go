package otlp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
)

// Protocol label values.
const (
	protoGRPC = "grpc"
	protoHTTP = "http"
)

// Refusal reasons (ariadne_spans_refused_total).
const (
	refusedOverloaded = "store_overloaded"
	refusedTooMany    = "too_many_requests"
	refusedStoreError = "store_error"
)

type protoMetrics struct {
	received, accepted, bytes prometheus.Counter
}

type metrics struct {
	grpc, http protoMetrics
	rejected   [ingest.NumReasons]prometheus.Counter
	refused    *prometheus.CounterVec // reason
	errors     *prometheus.CounterVec // protocol, code
}

func (m *metrics) proto(p string) *protoMetrics {
	if p == protoGRPC {
		return &m.grpc
	}
	return &m.http
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ariadne_spans_received_total",
		Help: "Spans in successfully decoded OTLP requests.",
	}, []string{"protocol"})
	accepted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ariadne_spans_accepted_total",
		Help: "Spans stored and acknowledged.",
	}, []string{"protocol"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ariadne_spans_rejected_total",
		Help: "Spans rejected as invalid (reported to the client as OTLP partial success), by reason.",
	}, []string{"reason"})
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ariadne_spans_refused_total",
		Help: "Spans of decoded requests refused with a retryable error, by reason.",
	}, []string{"reason"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ariadne_received_bytes_total",
		Help: "Request bytes received as sent on the wire (before decompression).",
	}, []string{"protocol"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ariadne_request_errors_total",
		Help: "OTLP requests answered with an error, by protocol and status (HTTP status code or gRPC code name).",
	}, []string{"protocol", "code"})
	if reg != nil {
		for _, c := range []prometheus.Collector{received, accepted, rejected, refused, bytes, errs} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register otlp receiver metrics: %w", err)
			}
		}
	}
	m := &metrics{refused: refused, errors: errs}
	for _, p := range []string{protoGRPC, protoHTTP} {
		pm := m.proto(p)
		pm.received = received.WithLabelValues(p)
		pm.accepted = accepted.WithLabelValues(p)
		pm.bytes = bytes.WithLabelValues(p)
	}
	for r := range ingest.NumReasons {
		m.rejected[r] = rejected.WithLabelValues(ingest.Reason(r).String())
	}
	for _, r := range []string{refusedOverloaded, refusedTooMany, refusedStoreError} {
		refused.WithLabelValues(r)
	}
	return m, nil
}
