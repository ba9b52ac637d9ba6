// Package tracegrpc traces gRPC servers and clients with the OpenTelemetry
// gRPC stats handlers: every RPC gets a span named after its full method
// ("shop.Inventory/Reserve"), the trace context and baggage travel in the
// request metadata, and a non-OK status marks the span as an error.
//
// Both use the global TracerProvider and propagator (sdk.Setup installs
// them). Stats handlers see every RPC, unary and streaming, which is why
// they are used rather than interceptors.
package tracegrpc

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
)

// ServerOption traces every RPC the server handles:
//
//	srv := grpc.NewServer(tracegrpc.ServerOption())
func ServerOption(opts ...otelgrpc.Option) grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(opts...))
}

// DialOption traces every RPC made on the connection:
//
//	conn, err := grpc.NewClient(addr, creds, tracegrpc.DialOption())
func DialOption(opts ...otelgrpc.Option) grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(opts...))
}
