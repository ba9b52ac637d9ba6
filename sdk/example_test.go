package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ariadne-tracing/ariadne/sdk"
)

// Setup once in main; defer the shutdown so that buffered spans are sent.
// Without Exporter it sends OTLP/gRPC to localhost:4317 or wherever the
// OTEL_EXPORTER_OTLP_* variables point; an in-memory exporter is used here
// so the example can print what was recorded.
func ExampleSetup() {
	shutdown, err := sdk.Setup(context.Background(), sdk.Config{
		ServiceName:    "checkout",
		ServiceVersion: "1.4.0",
		Environment:    "staging",
		Exporter:       printExporter{}, // omit to export over OTLP
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, span := otel.Tracer("checkout").Start(context.Background(), "place order")
	_, child := otel.Tracer("checkout").Start(ctx, "charge card")
	child.End()
	span.End()
	if err := shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// checkout charge card
	// checkout place order
}

// printExporter prints the service and name of each span it exports.
type printExporter struct{}

func (printExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		name, _ := s.Resource().Set().Value("service.name")
		fmt.Println(name.AsString(), s.Name())
	}
	return nil
}

func (printExporter) Shutdown(context.Context) error { return nil }

// Sample one new trace in ten; requests from callers keep their caller's
// decision, so traces stay whole.
func ExampleParentRatio() {
	s := sdk.ParentRatio(0.1)
	fmt.Println(s.Description())
	// Output: ParentBased{root:TraceIDRatioBased{0.1},remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}
}

// At most 100 new traces per second, whatever the traffic: a burst of
// 1000 requests gets the bucket's 100 (plus what refills meanwhile).
func ExampleRateLimited() {
	tp, _, _ := sdk.NewProvider(context.Background(), sdk.Config{
		Exporter: tracetest.NewInMemoryExporter(),
		Sampler:  sdk.RateLimited(100),
	})
	defer tp.Shutdown(context.Background())
	sampled := 0
	for range 1000 {
		_, span := tp.Tracer("search").Start(context.Background(), "GET /search")
		if span.SpanContext().IsSampled() {
			sampled++
		}
		span.End()
	}
	fmt.Println("about 100 sampled:", sampled >= 100 && sampled < 200)
	// Output: about 100 sampled: true
}

// Interop with services that speak B3 (Zipkin) or Jaeger headers: list the
// formats in Config.Propagators (or OTEL_PROPAGATORS). Each is injected;
// any of them is accepted on the way in.
func ExamplePropagator() {
	prop, err := sdk.Propagator("tracecontext", "baggage", "b3", "jaeger")
	if err != nil {
		fmt.Println(err)
		return
	}
	tp, _, _ := sdk.NewProvider(context.Background(), sdk.Config{Exporter: tracetest.NewInMemoryExporter()})
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("edge").Start(context.Background(), "GET /")
	defer span.End()
	h := http.Header{}
	prop.Inject(ctx, propagation.HeaderCarrier(h))
	for _, k := range []string{"Traceparent", "B3", "Uber-Trace-Id"} {
		fmt.Println(k, len(h.Get(k)) > 0)
	}
	// Output:
	// Traceparent true
	// B3 true
	// Uber-Trace-Id true
}

// The remote sampler asks the server (ariadne serve on port 5778) for this
// service's strategy every PollInterval. Until it gets one, it uses the
// fallback.
func ExampleRemote() {
	// A stand-in for ariadne serve's /sampling endpoint.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":20}}`)
	}))
	defer srv.Close()

	sampler := sdk.Remote(sdk.RemoteConfig{
		URL:          srv.URL + "/sampling", // default http://localhost:5778/sampling
		ServiceName:  "cart",
		PollInterval: time.Minute,
		Fallback:     sdk.ParentRatio(0.01),
	})
	defer sampler.Shutdown(context.Background())
	_ = sampler.Update(context.Background()) // fetch now rather than wait for the poller
	fmt.Println(sampler.Description())
	// Pass it to Setup: sdk.Config{Sampler: sampler}; the shutdown function
	// then stops the poller too.

	// Output: Remote{RateLimited{20/s}}
}

// Go keeps the trace: the span started in the goroutine is a child of the
// request's span, even after the request's context is canceled.
func ExampleGo() {
	exp := tracetest.NewInMemoryExporter()
	tp, _, _ := sdk.NewProvider(context.Background(), sdk.Config{Exporter: exp})
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("orders")
	ctx, cancel := context.WithCancel(context.Background())
	ctx, req := tr.Start(ctx, "POST /orders")
	done := make(chan struct{})
	sdk.Go(ctx, func(ctx context.Context) {
		defer close(done)
		_, span := tr.Start(ctx, "send confirmation email")
		defer span.End()
		fmt.Println("context canceled:", ctx.Err() != nil)
	})
	cancel()
	req.End()
	<-done
	_ = tp.ForceFlush(context.Background())
	for _, s := range exp.GetSpans() {
		if s.Name == "send confirmation email" {
			fmt.Println("same parent:", s.Parent.SpanID() == req.SpanContext().SpanID())
		}
	}
	// Output:
	// context canceled: false
	// same parent: true
}

// Error records the error on the current span and marks it failed.
func ExampleError() {
	exp := tracetest.NewInMemoryExporter()
	tp, _, _ := sdk.NewProvider(context.Background(), sdk.Config{Exporter: exp})
	defer tp.Shutdown(context.Background())
	reserve := func(ctx context.Context) error {
		ctx, span := tp.Tracer("inventory").Start(ctx, "reserve")
		defer span.End()
		return sdk.Error(ctx, errors.New("out of stock"))
	}
	fmt.Println(reserve(context.Background()))
	_ = tp.ForceFlush(context.Background())
	s := exp.GetSpans()[0]
	fmt.Println(s.Status.Code, s.Status.Description, s.Events[0].Name)
	// Output:
	// out of stock
	// Error out of stock exception
}

// Log lines written with a context that holds a span carry its trace_id and
// span_id; with SpanEvents, warnings also appear on the span itself.
func ExampleNewLogHandler() {
	base := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey:
				return slog.Attr{} // keep the output stable for this example
			case "trace_id", "span_id":
				return slog.String(a.Key, fmt.Sprintf("<%d hex digits>", len(a.Value.String())))
			}
			return a
		}})
	log := slog.New(sdk.NewLogHandler(base, sdk.LogOptions{SpanEvents: true, SpanEventLevel: slog.LevelWarn}))
	tp, _, _ := sdk.NewProvider(context.Background(), sdk.Config{Exporter: tracetest.NewInMemoryExporter(), Sampler: sdk.Always()})
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("cart").Start(context.Background(), "add item")
	defer span.End()
	log.InfoContext(ctx, "added", "sku", "A-1")
	// Output: level=INFO msg=added sku=A-1 trace_id="<32 hex digits>" span_id="<16 hex digits>"
}

// The guards find the two classic mistakes: a span that is never ended
// (reported with the line that started it) and a loop that creates
// thousands of spans in one trace.
func ExampleConfig_guards() {
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey || a.Key == "limit" {
				return a
			}
			return slog.Attr{} // the message names the (random) trace ID

		}}))
	tp, _, _ := sdk.NewProvider(context.Background(), sdk.Config{
		Exporter:           tracetest.NewInMemoryExporter(),
		MaxSpansPerTrace:   3,
		UnendedSpanTimeout: 30 * time.Second,
		Logger:             log,
	})
	defer tp.Shutdown(context.Background())
	ctx, root := tp.Tracer("batch").Start(context.Background(), "import")
	for range 5 {
		_, s := tp.Tracer("batch").Start(ctx, "row")
		s.End()
	}
	root.End()
	// The log line reads: trace 4bf9... exceeded the limit of 3 spans per
	// trace; its further spans are dropped (first dropped: "row").

	// Output: level=WARN limit=3
}
