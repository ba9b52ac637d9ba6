package tracehttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ariadne-tracing/ariadne/sdk/tracehttp"
)

// Wrap the whole mux: each span is named after the pattern that matched,
// so /stores/1 and /stores/2 are one operation. (With sdk.Setup, the
// options are not needed: the global provider and propagator are used.)
func ExampleMiddleware() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stores/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "store %s", r.PathValue("id"))
	})
	srv := httptest.NewServer(tracehttp.Middleware(mux, tracehttp.WithTracerProvider(tp)))
	defer srv.Close()
	for _, id := range []string{"1", "2"} {
		resp, err := http.Get(srv.URL + "/stores/" + id)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	for _, s := range exp.GetSpans() {
		fmt.Println(s.SpanKind, s.Name)
	}
	// Output:
	// server GET /stores/{id}
	// server GET /stores/{id}
}

// An http.Client whose requests carry the trace: each gets a client span,
// and the trace headers are injected. WithRoute gives the client span the
// same low-cardinality name as the server's.
func ExampleTransport() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("traceparent received:", r.Header.Get("traceparent") != "")
	}))
	defer srv.Close()

	client := &http.Client{Transport: tracehttp.Transport(http.DefaultTransport,
		tracehttp.WithTracerProvider(tp), tracehttp.WithPropagator(propagation.TraceContext{}))}
	ctx, parent := tp.Tracer("frontend").Start(context.Background(), "GET /")
	req, _ := http.NewRequestWithContext(tracehttp.WithRoute(ctx, "/stores/{id}"), "GET", srv.URL+"/stores/7", nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	parent.End()
	fmt.Println(exp.GetSpans()[0].SpanKind, exp.GetSpans()[0].Name)
	// Output:
	// traceparent received: true
	// client GET /stores/{id}
}
