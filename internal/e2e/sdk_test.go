package e2e

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// TestOTelSDKExporters sends traces with the OpenTelemetry Go SDK's OTLP
// gRPC and HTTP exporters to the real binary and reads them back.
func TestOTelSDKExporters(t *testing.T) {
	srv := startServer(t, "")
	ctx := context.Background()
	exporters := map[string]func() (*otlptrace.Exporter, error){
		"grpc": func() (*otlptrace.Exporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(srv.grpcAddr), otlptracegrpc.WithInsecure())
		},
		"http": func() (*otlptrace.Exporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(srv.httpAddr), otlptracehttp.WithInsecure())
		},
	}
	for proto, newExp := range exporters {
		t.Run(proto, func(t *testing.T) {
			exp, err := newExp()
			require.NoError(t, err)
			service := "sdk-" + proto
			tp := sdktrace.NewTracerProvider(
				sdktrace.WithBatcher(exp),
				sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL,
					semconv.ServiceName(service), attribute.String("deployment.environment", "test"))),
			)
			tr := tp.Tracer("e2e", trace.WithInstrumentationVersion("1.2.3"))
			rootCtx, root := tr.Start(ctx, "GET /orders/{id}", trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.route", "/orders/{id}"), attribute.Int("http.response.status_code", 500)))
			_, child := tr.Start(rootCtx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("db.system", "postgresql")))
			time.Sleep(2 * time.Millisecond)
			child.RecordError(errors.New("connection reset"))
			child.SetStatus(codes.Error, "connection reset")
			child.End()
			root.End()
			require.NoError(t, tp.Shutdown(ctx)) // flushes and waits for the export
			id := root.SpanContext().TraceID().String()

			td := srv.trace(id)
			require.Equal(t, 2, td.SpanCount())
			rs := td.ResourceSpans().At(0)
			name, _ := rs.Resource().Attributes().Get("service.name")
			require.Equal(t, service, name.Str())
			require.Equal(t, "1.2.3", rs.ScopeSpans().At(0).Scope().Version())
			var sawChild bool
			for _, sp := range rs.ScopeSpans().At(0).Spans().All() {
				if sp.Name() == "SELECT orders" {
					sawChild = true
					require.Equal(t, root.SpanContext().SpanID().String(), sp.ParentSpanID().String())
					require.Equal(t, "Error", sp.Status().Code().String())
					require.Equal(t, 1, sp.Events().Len())
					require.Equal(t, "exception", sp.Events().At(0).Name())
				}
			}
			require.True(t, sawChild)

			res, code := srv.search(url.Values{"service": {service}, "attr": {"http.response.status_code>=500"}})
			require.Equal(t, 200, code, res.Error)
			require.Len(t, res.Traces, 1)
			got := res.Traces[0]
			require.Equal(t, id, got.TraceID)
			require.Equal(t, "GET /orders/{id}", got.RootSpanName)
			require.Equal(t, service, got.RootServiceName)
			require.Equal(t, 2, got.SpanCount)
			require.Equal(t, 1, got.ErrorCount)

			var svcs struct{ Services []string }
			require.Equal(t, 200, srv.getJSON("/api/v1/services", &svcs))
			require.Contains(t, svcs.Services, service)
			var ops struct {
				Operations []struct{ Name, Kind string }
			}
			require.Equal(t, 200, srv.getJSON("/api/v1/services/"+service+"/operations", &ops))
			require.Contains(t, ops.Operations, struct{ Name, Kind string }{"SELECT orders", "client"})
			var vals struct {
				Values []struct {
					Value string
					Count int64
				}
			}
			require.Equal(t, 200, srv.getJSON("/api/v1/attributes/db.system/values", &vals))
			require.NotEmpty(t, vals.Values)
			require.Equal(t, "postgresql", vals.Values[0].Value)
		})
	}
}
