// Package tracehttp traces HTTP servers and clients: Middleware starts a
// server span per request, continuing the caller's trace, and names it
// after the route template that matched ("GET /stores/{id}"), not the raw
// path, so that operations stay few; Transport starts a client span per
// request and injects the trace headers.
//
// Both use the global TracerProvider and propagator (sdk.Setup installs
// them) unless options say otherwise.
package tracehttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const scope = "github.com/ariadne-tracing/ariadne/sdk/tracehttp"

// Option configures Middleware and Transport.
type Option func(*options)

type options struct {
	tp   trace.TracerProvider
	prop propagation.TextMapPropagator
}

// WithTracerProvider uses tp instead of the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithPropagator uses p instead of the global propagator.
func WithPropagator(p propagation.TextMapPropagator) Option { return func(o *options) { o.prop = p } }

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.prop == nil {
		o.prop = otel.GetTextMapPropagator()
	}
	return o
}

// Middleware traces next. Each request gets a server span that continues
// the trace in the request headers. The span is named "METHOD ROUTE" where
// ROUTE is the http.ServeMux pattern that matched (Go 1.22 patterns such
// as "GET /stores/{id}" included); when no pattern matched, it is named
// after the method alone. When next is a *http.ServeMux (or anything with
// its Handler method) the route is known before the span starts, so
// samplers, including per-operation remote strategies, see the final name;
// otherwise the span is renamed once the handler has run. Status 5xx marks
// the span as an error; 4xx does not (the server did its job), as the
// OpenTelemetry conventions say.
func Middleware(next http.Handler, opts ...Option) http.Handler {
	o := newOptions(opts)
	tr := o.tp.Tracer(scope)
	router, _ := next.(Router)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := o.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		name, route := r.Method, ""
		if router != nil {
			_, pattern := router.Handler(r)
			if route = Route(&http.Request{Pattern: pattern}); route != "" {
				name = r.Method + " " + route
			}
		}
		attrs := serverAttrs(r)
		if route != "" {
			attrs = append(attrs, attribute.String("http.route", route))
		}
		ctx, span := tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		rw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(ctx)
		next.ServeHTTP(rw, r)
		if late := Route(r); route == "" && late != "" {
			span.SetName(r.Method + " " + late)
			span.SetAttributes(attribute.String("http.route", late))
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// Router is implemented by *http.ServeMux: Handler returns the pattern that
// a request matches without serving it. A handler given to Middleware that
// implements it gets its spans named before they start.
type Router interface {
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// Route returns the route template of the ServeMux pattern that matched r,
// without its method and host ("GET example.com/stores/{id}" gives
// "/stores/{id}"), or "" if none matched.
func Route(r *http.Request) string {
	p := r.Pattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = strings.TrimLeft(p[i+1:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i > 0 {
		p = p[i:]
	}
	return p
}

func serverAttrs(r *http.Request) []attribute.KeyValue {
	kv := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
		attribute.String("url.scheme", scheme(r)),
		attribute.String("network.protocol.version", fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)),
	}
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		kv = append(kv, attribute.String("server.address", host))
		if p, err := strconv.Atoi(port); err == nil {
			kv = append(kv, attribute.Int("server.port", p))
		}
	} else if r.Host != "" {
		kv = append(kv, attribute.String("server.address", r.Host))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		kv = append(kv, attribute.String("client.address", host))
	}
	if ua := r.UserAgent(); ua != "" {
		kv = append(kv, attribute.String("user_agent.original", ua))
	}
	return kv
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through to the underlying writer when it can flush.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack passes through to the underlying writer (for WebSockets and
// other protocol upgrades).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("tracehttp: the underlying ResponseWriter cannot hijack")
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type routeKey struct{}

// WithRoute returns a context under which Transport names the client span
// "METHOD route" (for example "GET /stores/{id}") instead of "METHOD", so
// that the client side of a call carries the same low-cardinality name as
// the server side.
func WithRoute(ctx context.Context, route string) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

// Transport returns a RoundTripper that traces each request made through
// base (http.DefaultTransport if nil): a client span, child of the span in
// the request's context, whose trace headers are injected into the
// request. Status 4xx and 5xx mark the span as an error, as does a failed
// round trip.
func Transport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	o := newOptions(opts)
	return &transport{base: base, tr: o.tp.Tracer(scope), prop: o.prop}
}

type transport struct {
	base http.RoundTripper
	tr   trace.Tracer
	prop propagation.TextMapPropagator
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	name := r.Method
	route, _ := r.Context().Value(routeKey{}).(string)
	if route != "" {
		name += " " + route
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("url.full", redactedURL(r)),
		attribute.String("server.address", r.URL.Hostname()),
	}
	if p, err := strconv.Atoi(r.URL.Port()); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	if route != "" {
		attrs = append(attrs, attribute.String("url.template", route))
	}
	ctx, span := t.tr.Start(r.Context(), name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	r = r.Clone(ctx) // RoundTrippers must not modify the caller's request
	t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	span.End()
	return resp, nil
}

// redactedURL is the request URL without user info or query (which may
// hold credentials).
func redactedURL(r *http.Request) string {
	u := *r.URL
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	return u.String()
}
