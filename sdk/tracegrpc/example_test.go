package tracegrpc_test

import (
	"context"
	"fmt"
	"net"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ariadne-tracing/ariadne/sdk/tracegrpc"
)

// Trace both ends of a gRPC call. With sdk.Setup the options are not
// needed; here an in-memory exporter shows the two spans of one call.
func ExampleServerOption() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))

	srv := grpc.NewServer(tracegrpc.ServerOption(otelgrpc.WithTracerProvider(tp)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(ln)
	defer srv.Stop()

	conn, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		tracegrpc.DialOption(otelgrpc.WithTracerProvider(tp)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		fmt.Println(err)
		return
	}
	conn.Close()
	srv.GracefulStop()
	kinds := map[string]bool{}
	for _, s := range exp.GetSpans() {
		kinds[s.SpanKind.String()+" "+s.Name] = true
	}
	fmt.Println(kinds["client grpc.health.v1.Health/Check"], kinds["server grpc.health.v1.Health/Check"])
	// Output: true true
}
