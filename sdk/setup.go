package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Config configures Setup. The zero value is usable: it exports over OTLP
// gRPC to localhost:4317 (or wherever the OTEL_* environment variables
// point), samples every trace that has no sampled parent, and propagates W3C
// trace context and baggage.
type Config struct {
	// ServiceName, ServiceVersion and Environment become the resource
	// attributes service.name, service.version and
	// deployment.environment.name. OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES override them, so operators can rename a
	// service without a rebuild.
	ServiceName    string
	ServiceVersion string
	Environment    string
	// Attributes are extra resource attributes.
	Attributes []attribute.KeyValue

	// Endpoint is where spans go. "host:port" means plain-text (no TLS);
	// a URL ("http://host:4318", "https://collector:4317") chooses TLS by
	// its scheme. Empty: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317 (gRPC) or
	// localhost:4318 (HTTP), plain-text.
	Endpoint string
	// Protocol is "grpc" or "http/protobuf". Empty:
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL,
	// else "grpc".
	Protocol string
	// Exporter replaces the OTLP exporter entirely (Endpoint and Protocol
	// are then ignored).
	Exporter sdktrace.SpanExporter

	// Sampler decides which new traces are recorded. Nil: the
	// OTEL_TRACES_SAMPLER environment variable if set, else
	// ParentRatio(1) (every root sampled, children follow their parent).
	Sampler sdktrace.Sampler

	// Propagators lists the header formats to inject and extract:
	// "tracecontext", "baggage", "b3" (single header), "b3multi", "jaeger"
	// (uber-trace-id). Empty: OTEL_PROPAGATORS, else tracecontext and
	// baggage.
	Propagators []string

	// MaxQueueSize bounds the spans waiting for export; past it, spans are
	// dropped (and counted by the OTel SDK) rather than blocking the
	// caller. Zero: OTEL_BSP_MAX_QUEUE_SIZE, else 2048.
	MaxQueueSize int
	// BatchTimeout is the longest a span waits before export. Zero:
	// OTEL_BSP_SCHEDULE_DELAY, else 5s.
	BatchTimeout time.Duration

	// MaxSpansPerTrace bounds the spans one trace may record in this
	// process; past it, further spans of that trace are dropped and one
	// warning names the trace. Zero means no limit.
	MaxSpansPerTrace int
	// UnendedSpanTimeout turns on the leak guard: a span still open after
	// this long is reported once, with the file and line that started it.
	// Zero turns the guard off (it costs a stack walk per span).
	UnendedSpanTimeout time.Duration

	// BaggageAttributes copies these baggage members, when present, onto
	// every span started in this process as attributes of the same name,
	// so that a user or tenant ID set once at the edge is searchable on
	// every span of every service.
	BaggageAttributes []string

	// Logger receives the guards' reports and export errors. Nil:
	// slog.Default().
	Logger *slog.Logger
}

// Setup installs a global TracerProvider and propagator built from cfg and
// returns a function that flushes pending spans and stops everything
// Setup started; call it before the program exits. On error nothing is
// installed.
func Setup(ctx context.Context, cfg Config) (shutdown func(context.Context) error, err error) {
	tp, prop, err := NewProvider(ctx, cfg)
	if err != nil {
		return nil, err
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	log := cfg.logger()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("opentelemetry", "err", err) }))
	return tp.Shutdown, nil
}

// NewProvider builds what Setup installs without installing it globally:
// the TracerProvider (its Shutdown flushes and stops everything, including
// a remote sampler's poller) and the propagator.
func NewProvider(ctx context.Context, cfg Config) (*sdktrace.TracerProvider, propagation.TextMapPropagator, error) {
	prop, err := Propagator(cfg.propagatorNames()...)
	if err != nil {
		return nil, nil, err
	}
	res, err := cfg.resource(ctx)
	if err != nil {
		return nil, nil, err
	}
	exp := cfg.Exporter
	if exp == nil {
		if exp, err = cfg.exporter(ctx); err != nil {
			return nil, nil, err
		}
	}
	var bopts []sdktrace.BatchSpanProcessorOption
	if cfg.MaxQueueSize > 0 {
		bopts = append(bopts, sdktrace.WithMaxQueueSize(cfg.MaxQueueSize))
	}
	if cfg.BatchTimeout > 0 {
		bopts = append(bopts, sdktrace.WithBatchTimeout(cfg.BatchTimeout))
	}
	var proc sdktrace.SpanProcessor = sdktrace.NewBatchSpanProcessor(exp, bopts...)
	if cfg.MaxSpansPerTrace > 0 || cfg.UnendedSpanTimeout > 0 {
		proc = newGuard(proc, cfg.MaxSpansPerTrace, cfg.UnendedSpanTimeout, cfg.logger())
	}
	if rs, ok := cfg.Sampler.(*RemoteSampler); ok {
		if name, ok := res.Set().Value("service.name"); ok {
			rs.adopt(name.AsString())
		}
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if len(cfg.BaggageAttributes) > 0 {
		opts = append(opts, sdktrace.WithSpanProcessor(baggageCopier(cfg.BaggageAttributes)))
	}
	opts = append(opts, sdktrace.WithSpanProcessor(proc))
	if cfg.Sampler != nil {
		opts = append(opts, sdktrace.WithSampler(cfg.Sampler))
		if c, ok := cfg.Sampler.(interface{ Shutdown(context.Context) error }); ok {
			// The provider calls Shutdown on every processor; this one
			// only stops the sampler.
			opts = append(opts, sdktrace.WithSpanProcessor(samplerStopper{c}))
		}
	}
	return sdktrace.NewTracerProvider(opts...), prop, nil
}

func (cfg *Config) logger() *slog.Logger {
	if cfg.Logger != nil {
		return cfg.Logger
	}
	return slog.Default()
}

func (cfg *Config) propagatorNames() []string {
	if len(cfg.Propagators) > 0 {
		return cfg.Propagators
	}
	if env := os.Getenv("OTEL_PROPAGATORS"); env != "" {
		return strings.Split(env, ",")
	}
	return []string{"tracecontext", "baggage"}
}

// Propagator returns a composite propagator of the named formats:
// "tracecontext", "baggage", "b3" (single b3 header), "b3multi" (X-B3-*
// headers), "jaeger" (uber-trace-id) and "none". Both b3 forms extract
// either encoding.
func Propagator(names ...string) (propagation.TextMapPropagator, error) {
	var ps []propagation.TextMapPropagator
	for _, n := range names {
		switch strings.TrimSpace(strings.ToLower(n)) {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "b3":
			ps = append(ps, b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)))
		case "b3multi":
			ps = append(ps, b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)))
		case "jaeger":
			ps = append(ps, jaeger.Jaeger{})
		case "none", "":
		default:
			return nil, fmt.Errorf("propagator %q: unknown (use tracecontext, baggage, b3, b3multi, jaeger or none)", n)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}

func (cfg *Config) resource(ctx context.Context) (*resource.Resource, error) {
	attrs := append([]attribute.KeyValue(nil), cfg.Attributes...)
	if cfg.ServiceName != "" {
		attrs = append(attrs, attribute.String("service.name", cfg.ServiceName))
	}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	if cfg.Environment != "" {
		attrs = append(attrs, attribute.String("deployment.environment.name", cfg.Environment))
	}
	// Later options win: code first, then the environment. Process
	// command-line arguments are left out on purpose (they may hold
	// secrets).
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithOSType(),
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithProcessRuntimeDescription(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("resource: %w", err)
	}
	if _, ok := res.Set().Value("service.name"); !ok {
		res, _ = resource.Merge(resource.Default(), res)
	}
	return res, nil
}

func (cfg *Config) protocol() (string, error) {
	p := cfg.Protocol
	for _, env := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p == "" {
			p = os.Getenv(env)
		}
	}
	switch p {
	case "", "grpc":
		return "grpc", nil
	case "http/protobuf", "http":
		return "http/protobuf", nil
	default:
		return "", fmt.Errorf("protocol %q: use grpc or http/protobuf", p)
	}
}

func (cfg *Config) exporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	proto, err := cfg.protocol()
	if err != nil {
		return nil, err
	}
	endpoint := cfg.Endpoint
	envSet := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
	if endpoint == "" && !envSet {
		endpoint = map[string]string{"grpc": "localhost:4317", "http/protobuf": "localhost:4318"}[proto]
	}
	isURL, hasPath := false, false
	if endpoint != "" {
		if u, err := url.Parse(endpoint); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			isURL, hasPath = true, strings.Trim(u.Path, "/") != ""
		}
	}
	if proto == "grpc" {
		var opts []otlptracegrpc.Option
		switch {
		case isURL:
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		case endpoint != "":
			opts = append(opts, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	var opts []otlptracehttp.Option
	switch {
	case isURL && hasPath:
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	case isURL:
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
	case endpoint != "":
		opts = append(opts, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	}
	return otlptracehttp.New(ctx, opts...)
}

// baggageCopier sets the named baggage members as span attributes when a
// span starts.
type baggageCopier []string

func (b baggageCopier) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	bag := baggage.FromContext(ctx)
	for _, k := range b {
		if m := bag.Member(k); m.Key() != "" {
			s.SetAttributes(attribute.String(k, m.Value()))
		}
	}
}
func (baggageCopier) OnEnd(sdktrace.ReadOnlySpan)      {}
func (baggageCopier) ForceFlush(context.Context) error { return nil }
func (baggageCopier) Shutdown(context.Context) error   { return nil }

// samplerStopper is a no-op span processor whose Shutdown stops a sampler's
// background work, so that the provider's Shutdown stops it too.
type samplerStopper struct {
	s interface{ Shutdown(context.Context) error }
}

func (samplerStopper) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (samplerStopper) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (samplerStopper) ForceFlush(context.Context) error                { return nil }
func (p samplerStopper) Shutdown(ctx context.Context) error            { return p.s.Shutdown(ctx) }
