package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// TestSDKExporters sends spans with the OpenTelemetry Go SDK's own OTLP
// exporters, gRPC and HTTP, plain and gzip-compressed.
func TestSDKExporters(t *testing.T) {
	e := start(t, Config{})
	ctx := context.Background()
	grpcAddr, httpAddr := e.r.GRPCAddr().String(), e.r.HTTPAddr().String()
	exporters := map[string]func() (sdktrace.SpanExporter, error){
		"grpc": func() (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
		},
		"grpc gzip": func() (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithCompressor("gzip"))
		},
		"http": func() (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure())
		},
		"http gzip": func() (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure(),
				otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		},
	}
	for name, newExp := range exporters {
		t.Run(name, func(t *testing.T) {
			exp, err := newExp()
			require.NoError(t, err)
			tp := sdktrace.NewTracerProvider(
				sdktrace.WithSyncer(exp),
				sdktrace.WithResource(resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
					attribute.String("service.name", "checkout"), attribute.String("host.name", "h1"))),
			)
			tr := tp.Tracer("shop/cart", trace.WithInstrumentationVersion("1.2.3"))
			pctx, parent := tr.Start(ctx, "POST /cart", trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.Int("http.response.status_code", 500),
					attribute.StringSlice("tags", []string{"a", "b"}), attribute.Bool("retry", true), attribute.Float64("ratio", 0.25)))
			_, child := tr.Start(pctx, "SELECT carts", trace.WithSpanKind(trace.SpanKindClient),
				trace.WithLinks(trace.Link{SpanContext: parent.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("why", "x")}}))
			child.AddEvent("rows", trace.WithAttributes(attribute.Int("count", 3)))
			child.End()
			parent.SetStatus(codes.Error, "boom")
			parent.End()
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, tp.Shutdown(sctx))

			spans := e.c.take()
			require.Len(t, spans, 2)
			byName := map[string]model.Span{}
			for _, s := range spans {
				byName[s.Name] = s
			}
			p, c := byName["POST /cart"], byName["SELECT carts"]
			require.Equal(t, model.TraceID(parent.SpanContext().TraceID()), p.TraceID)
			require.Equal(t, model.SpanID(parent.SpanContext().SpanID()), p.SpanID)
			require.Equal(t, p.TraceID, c.TraceID)
			require.Equal(t, model.SpanID(child.SpanContext().SpanID()), c.SpanID)
			require.Equal(t, p.SpanID, c.ParentID)
			require.Equal(t, model.KindServer, p.Kind)
			require.Equal(t, model.KindClient, c.Kind)
			require.Equal(t, model.StatusError, p.StatusCode)
			require.Equal(t, "boom", p.StatusMessage)
			require.Positive(t, p.Start)
			require.GreaterOrEqual(t, p.End, p.Start)

			attrs := map[string]string{}
			for _, a := range p.Attrs {
				attrs[a.Key] = a.String()
			}
			require.Equal(t, map[string]string{"http.request.method": "POST", "http.response.status_code": "500",
				"tags": `["a","b"]`, "retry": "true", "ratio": "0.25"}, attrs)
			require.Len(t, c.Events, 1)
			require.Equal(t, "rows", c.Events[0].Name)
			require.Equal(t, "3", c.Events[0].Attrs[0].String())
			require.Len(t, c.Links, 1)
			require.Equal(t, p.SpanID, c.Links[0].SpanID)

			require.Equal(t, "checkout", p.Service())
			require.Equal(t, "https://opentelemetry.io/schemas/1.26.0", p.Resource.SchemaURL)
			require.Equal(t, p.Resource, c.Resource) // sent in separate requests by WithSyncer
			require.Equal(t, "shop/cart", p.Scope.Name)
			require.Equal(t, "1.2.3", p.Scope.Version)
		})
	}
}
