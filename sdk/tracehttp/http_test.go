package tracehttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ariadne-tracing/ariadne/sdk/tracehttp"
)

func TestStatusMappingAndNames(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	opts := []tracehttp.Option{tracehttp.WithTracerProvider(tp), tracehttp.WithPropagator(propagation.TraceContext{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stores/{id}/products", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "bad":
			http.Error(w, "no such store", http.StatusNotFound)
		case "boom":
			http.Error(w, "db down", http.StatusServiceUnavailable)
		}
	})
	srv := httptest.NewServer(tracehttp.Middleware(mux, opts...))
	defer srv.Close()
	client := &http.Client{Transport: tracehttp.Transport(nil, opts...)}

	for _, path := range []string{"/stores/1/products", "/stores/bad/products", "/stores/boom/products", "/nowhere"} {
		ctx, root := tp.Tracer("t").Start(context.Background(), "client "+path)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path+"?token=secret", nil)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		root.End()
	}
	type want struct {
		name   string
		kind   trace.SpanKind
		status codes.Code
	}
	var got []want
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindInternal {
			continue
		}
		got = append(got, want{s.Name, s.SpanKind, s.Status.Code})
		for _, a := range s.Attributes {
			require.NotContains(t, a.Value.Emit(), "secret", "query strings are not recorded")
		}
	}
	require.ElementsMatch(t, []want{
		{"GET /stores/{id}/products", trace.SpanKindServer, codes.Unset},
		{"GET", trace.SpanKindClient, codes.Unset},
		{"GET /stores/{id}/products", trace.SpanKindServer, codes.Unset}, // 404 is not a server error
		{"GET", trace.SpanKindClient, codes.Error},                       // but it is one for the client
		{"GET /stores/{id}/products", trace.SpanKindServer, codes.Error},
		{"GET", trace.SpanKindClient, codes.Error},
		{"GET", trace.SpanKindServer, codes.Unset}, // no pattern matched: method only
		{"GET", trace.SpanKindClient, codes.Error},
	}, got)
}

func TestRoute(t *testing.T) {
	for pattern, want := range map[string]string{
		"GET /a/{id}": "/a/{id}", "/a/": "/a/", "GET example.com/x": "/x", "": "",
	} {
		r := &http.Request{Pattern: pattern}
		require.Equal(t, want, tracehttp.Route(r), pattern)
	}
}

func TestTransportError(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	client := &http.Client{Transport: tracehttp.Transport(nil, tracehttp.WithTracerProvider(tp))}
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	req, _ := http.NewRequestWithContext(tracehttp.WithRoute(context.Background(), "/items/{id}"), "POST", url+"/items/1", nil)
	_, err := client.Do(req)
	require.Error(t, err)
	s := exp.GetSpans()[0]
	require.Equal(t, "POST /items/{id}", s.Name)
	require.Equal(t, codes.Error, s.Status.Code)
}

// TestHijack checks that a handler behind the middleware can take over the
// connection, as WebSocket servers do.
func TestHijack(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	srv := httptest.NewServer(tracehttp.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: demo\r\nConnection: Upgrade\r\n\r\n")
		_ = buf.Flush()
	}), tracehttp.WithTracerProvider(tp)))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "demo")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	// The handler returns (and the span ends) just after the client has
	// read the answer.
	require.Eventually(t, func() bool { return len(exp.GetSpans()) == 1 }, 5*time.Second, 5*time.Millisecond)
	status := ""
	for _, a := range exp.GetSpans()[0].Attributes {
		if a.Key == "http.response.status_code" {
			status = a.Value.Emit()
		}
	}
	require.Equal(t, "101", status)
}

// nameRecorder is a sampler that remembers the span names it was asked
// about.
type nameRecorder struct {
	mu    sync.Mutex
	names []string
}

func (n *nameRecorder) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names = append(n.names, p.Name)
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}

func (n *nameRecorder) Description() string { return "nameRecorder" }

// TestRouteKnownAtSampling checks that with a ServeMux the sampler sees
// the route template, which per-operation sampling strategies need.
func TestRouteKnownAtSampling(t *testing.T) {
	rec := &nameRecorder{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(rec))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stores/{id}", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(tracehttp.Middleware(mux, tracehttp.WithTracerProvider(tp)))
	defer srv.Close()
	for _, p := range []string{"/stores/1", "/elsewhere"} {
		resp, err := http.Get(srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, []string{"GET /stores/{id}", "GET"}, rec.names)
}
