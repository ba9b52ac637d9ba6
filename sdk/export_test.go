package sdk_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/servertest"
	"github.com/ariadne-tracing/ariadne/sdk"
	"github.com/ariadne-tracing/ariadne/sdk/tracegrpc"
	"github.com/ariadne-tracing/ariadne/sdk/tracehttp"
)

func attr(sp *model.Span, key string) (string, bool) {
	for _, a := range sp.Attrs {
		if a.Key == key {
			if a.Type == model.TypeInt {
				return strconv.FormatInt(int64(a.Num), 10), true
			}
			return a.Str, true
		}
	}
	return "", false
}

func resAttr(sp *model.Span, key string) string {
	for _, a := range sp.Resource.Attrs {
		if a.Key == key {
			return a.Str
		}
	}
	return ""
}

// provider builds a provider for one service exporting to srv.
func provider(t *testing.T, srv *servertest.Server, service string, cfg sdk.Config) (*sdktrace.TracerProvider, propagation.TextMapPropagator) {
	t.Helper()
	cfg.ServiceName = service
	if cfg.Endpoint == "" {
		cfg.Endpoint = srv.GRPCAddr
	}
	tp, prop, err := sdk.NewProvider(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, prop
}

// TestExportToServer sends spans with both exporters to a real in-process
// server and reads them back with their resource.
func TestExportToServer(t *testing.T) {
	srv := servertest.Start(t, nil)
	for _, c := range []struct{ proto, endpoint string }{
		{"grpc", srv.GRPCAddr},
		{"http/protobuf", srv.HTTPAddr},
		{"http/protobuf", "http://" + srv.HTTPAddr},
	} {
		t.Run(c.proto+" "+c.endpoint, func(t *testing.T) {
			tp, _, err := sdk.NewProvider(context.Background(), sdk.Config{
				ServiceName: "export-test", ServiceVersion: "1.2.3", Environment: "test",
				Endpoint: c.endpoint, Protocol: c.proto,
			})
			require.NoError(t, err)
			ctx, root := tp.Tracer("t").Start(context.Background(), "root")
			_, child := tp.Tracer("t").Start(ctx, "child")
			child.End()
			root.End()
			require.NoError(t, tp.Shutdown(context.Background()))

			spans := srv.Trace(t, root.SpanContext().TraceID().String())
			require.Len(t, spans, 2)
			for i := range spans {
				sp := &spans[i]
				require.Equal(t, "export-test", sp.Service())
				require.Equal(t, "1.2.3", resAttr(sp, "service.version"))
				require.Equal(t, "test", resAttr(sp, "deployment.environment.name"))
				require.NotEmpty(t, resAttr(sp, "host.name"))
				require.Equal(t, "go", resAttr(sp, "process.runtime.name"))
				if sp.Name == "child" {
					require.Equal(t, root.SpanContext().SpanID(), trace.SpanID(sp.ParentID))
				}
			}
		})
	}
}

func TestSetupInstallsGlobals(t *testing.T) {
	srv := servertest.Start(t, nil)
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	shutdown, err := sdk.Setup(context.Background(), sdk.Config{ServiceName: "from-code", Endpoint: srv.GRPCAddr})
	require.NoError(t, err)
	ctx, span := otel.Tracer("t").Start(context.Background(), "global")
	require.True(t, span.SpanContext().IsSampled())
	span.End()
	// W3C trace context and baggage are the default propagators.
	h := http.Header{}
	m, _ := baggage.NewMember("user", "42")
	b, _ := baggage.New(m)
	otel.GetTextMapPropagator().Inject(baggage.ContextWithBaggage(ctx, b), propagation.HeaderCarrier(h))
	require.NotEmpty(t, h.Get("traceparent"))
	require.Equal(t, "user=42", h.Get("baggage"))
	require.NoError(t, shutdown(context.Background()))
	spans := srv.Trace(t, span.SpanContext().TraceID().String())
	require.Len(t, spans, 1)
	require.Equal(t, "from-env", spans[0].Service(), "OTEL_SERVICE_NAME overrides the code")
}

func TestUnknownSettings(t *testing.T) {
	_, _, err := sdk.NewProvider(context.Background(), sdk.Config{Propagators: []string{"tracecontext", "xray"}})
	require.ErrorContains(t, err, `propagator "xray"`)
	_, _, err = sdk.NewProvider(context.Background(), sdk.Config{Protocol: "thrift"})
	require.ErrorContains(t, err, `protocol "thrift"`)
}

// healthServer is a real gRPC service (the standard health service) whose
// handler records what arrived in its context.
type healthServer struct {
	healthpb.UnimplementedHealthServer
	got chan context.Context
}

func (h *healthServer) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.got <- ctx
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &http.Server{Handler: h}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return "http://" + ln.Addr().String()
}

// TestPropagationHTTPAndGRPC runs three services on loopback, each with its
// own provider: edge (HTTP) calls orders over HTTP, orders calls stock over
// gRPC. The stored trace must be one tree with the right parents, and the
// baggage set at the edge must reach stock.
func TestPropagationHTTPAndGRPC(t *testing.T) {
	srv := servertest.Start(t, nil)
	edgeTP, edgeProp := provider(t, srv, "edge", sdk.Config{})
	ordersTP, ordersProp := provider(t, srv, "orders", sdk.Config{})
	stockTP, stockProp := provider(t, srv, "stock", sdk.Config{BaggageAttributes: []string{"tenant.id", "user.id"}})

	// stock: gRPC server.
	hs := &healthServer{got: make(chan context.Context, 1)}
	gs := grpc.NewServer(tracegrpc.ServerOption(otelgrpc.WithTracerProvider(stockTP), otelgrpc.WithPropagators(stockProp)))
	healthpb.RegisterHealthServer(gs, hs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)

	// orders: HTTP server calling stock over gRPC.
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		tracegrpc.DialOption(otelgrpc.WithTracerProvider(ordersTP), otelgrpc.WithPropagators(ordersProp)))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ordersMux := http.NewServeMux()
	ordersMux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := healthpb.NewHealthClient(conn).Check(r.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	ordersURL := serve(t, tracehttp.Middleware(ordersMux, tracehttp.WithTracerProvider(ordersTP), tracehttp.WithPropagator(ordersProp)))

	// edge: the client side of the first hop.
	client := &http.Client{Transport: tracehttp.Transport(nil, tracehttp.WithTracerProvider(edgeTP), tracehttp.WithPropagator(edgeProp))}
	m, _ := baggage.NewMember("tenant.id", "acme")
	bag, _ := baggage.New(m)
	ctx, root := edgeTP.Tracer("edge").Start(baggage.ContextWithBaggage(context.Background(), bag), "checkout", trace.WithSpanKind(trace.SpanKindServer))
	req, _ := http.NewRequestWithContext(tracehttp.WithRoute(ctx, "/orders/{id}"), "GET", ordersURL+"/orders/17", nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	root.End()

	got := <-hs.got
	require.Equal(t, "acme", baggage.FromContext(got).Member("tenant.id").Value(), "baggage at the last hop")
	require.Equal(t, root.SpanContext().TraceID(), trace.SpanContextFromContext(got).TraceID())

	for _, tp := range []*sdktrace.TracerProvider{edgeTP, ordersTP, stockTP} {
		require.NoError(t, tp.ForceFlush(context.Background()))
	}
	spans := srv.Trace(t, root.SpanContext().TraceID().String())
	byName := map[string]*model.Span{}
	for i := range spans {
		byName[spans[i].Service()+" "+spans[i].Name] = &spans[i]
	}
	require.Len(t, spans, 5, "spans: %v", keys(byName))
	chain := []string{
		"edge checkout",
		"edge GET /orders/{id}",
		"orders GET /orders/{id}",
		"orders grpc.health.v1.Health/Check",
		"stock grpc.health.v1.Health/Check",
	}
	for i, name := range chain {
		sp := byName[name]
		require.NotNil(t, sp, "missing %q in %v", name, keys(byName))
		if i == 0 {
			require.True(t, sp.ParentID.IsZero())
			continue
		}
		require.Equal(t, byName[chain[i-1]].SpanID, sp.ParentID, "parent of %q", name)
	}
	tenant, ok := attr(byName["stock grpc.health.v1.Health/Check"], "tenant.id")
	require.True(t, ok)
	require.Equal(t, "acme", tenant, "BaggageAttributes copies baggage onto spans")
	_, ok = attr(byName["stock grpc.health.v1.Health/Check"], "user.id")
	require.False(t, ok, "absent members are not set")
	_, ok = attr(byName["orders GET /orders/{id}"], "tenant.id")
	require.False(t, ok, "only where configured")
	route, _ := attr(byName["orders GET /orders/{id}"], "http.route")
	require.Equal(t, "/orders/{id}", route)
	status, _ := attr(byName["orders GET /orders/{id}"], "http.response.status_code")
	require.Equal(t, "202", status)
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestB3AndJaegerHeadersContinueTraces sends requests carrying only B3 or
// only uber-trace-id headers to a service configured for them.
func TestB3AndJaegerHeadersContinueTraces(t *testing.T) {
	srv := servertest.Start(t, nil)
	tp, prop := provider(t, srv, "interop", sdk.Config{Propagators: []string{"tracecontext", "baggage", "b3", "jaeger"}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	base := serve(t, tracehttp.Middleware(mux, tracehttp.WithTracerProvider(tp), tracehttp.WithPropagator(prop)))

	cases := []struct {
		name, traceID, parentID string
		headers                 map[string]string
	}{
		{"b3 single", "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1",
			map[string]string{"b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"}},
		{"b3 multi", "463ac35c9f6413ad48485a3953bb6124", "0020000000000001",
			map[string]string{"X-B3-TraceId": "463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId": "0020000000000001", "X-B3-Sampled": "1"}},
		{"jaeger", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331",
			map[string]string{"uber-trace-id": "0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331:0:1"}},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", base+"/items/9", nil)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err, c.name)
		resp.Body.Close()
	}
	require.NoError(t, tp.ForceFlush(context.Background()))
	for _, c := range cases {
		spans := srv.Trace(t, c.traceID)
		require.Len(t, spans, 1, c.name)
		require.Equal(t, c.parentID, spans[0].ParentID.String(), c.name)
		require.Equal(t, "GET /items/{id}", spans[0].Name, c.name)
	}
}
