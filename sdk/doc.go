// Package sdk is Ariadne's Go instrumentation: a thin layer over the
// OpenTelemetry Go API and SDK. Services keep writing
//
//	ctx, span := otel.Tracer("shop/cart").Start(ctx, "load cart")
//	defer span.End()
//
// and this package adds what every service needs around it:
//
//   - Setup: one call that builds and installs the tracer provider (service
//     name, version and environment; host, process and runtime resource
//     attributes; an OTLP gRPC or HTTP exporter that honours the OTEL_*
//     environment variables; a batch processor with a bounded queue) and
//     the propagators (W3C trace context and baggage by default; B3 and
//     Jaeger for interop), and returns the shutdown function.
//   - Samplers: Always, Never, ParentRatio, RateLimited and Remote (polls
//     the Jaeger remote sampling endpoint of ariadne serve, port 5778).
//   - Helpers: Go (a goroutine that keeps the trace), Error (record an
//     error and set the status), NewLogHandler (trace_id/span_id on
//     log/slog records, optionally records as span events), and the
//     subpackages tracehttp (server middleware, client transport), tracegrpc
//     (server and client stats handlers) and tracesql (database/sql).
//   - Guards against the classic pitfalls: Config.UnendedSpanTimeout
//     reports spans never ended, with the line that started them;
//     Config.MaxSpansPerTrace stops a runaway loop from exploding a trace.
//
// docs/sdk.md in the repository walks through a complete service.
package sdk
