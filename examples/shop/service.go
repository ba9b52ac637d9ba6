package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/ariadne-tracing/ariadne/sdk"
	"github.com/ariadne-tracing/ariadne/sdk/tracehttp"
)

// Baggage members the frontend sets and every service copies onto its
// spans.
const (
	bagUser   = "user.id"
	bagTenant = "tenant.id"
)

// service is what every shop service has: its own tracer provider and
// propagator, a traced HTTP client, a logger that adds trace IDs, and one
// listener.
type service struct {
	name   string
	faults Faults
	tp     *sdktrace.TracerProvider
	prop   propagation.TextMapPropagator
	tr     trace.Tracer
	log    *slog.Logger
	client *http.Client

	ln   net.Listener
	addr string
	http *http.Server
	grpc *grpc.Server
}

func newService(ctx context.Context, name string, o Options) (*service, error) {
	sampler := sdk.ParentRatio(1)
	if o.SamplingURL != "" {
		rs := sdk.Remote(sdk.RemoteConfig{URL: o.SamplingURL, ServiceName: name,
			PollInterval: 5 * time.Second, Fallback: sdk.ParentRatio(1), Logger: o.Logger})
		// Fetch now, so that the strategy applies from the first request
		// (if the server answers; otherwise the fallback does).
		uctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = rs.Update(uctx)
		cancel()
		sampler = rs
	}
	tp, prop, err := sdk.NewProvider(ctx, sdk.Config{
		ServiceName:       name,
		ServiceVersion:    "1.0.0",
		Environment:       "demo",
		Endpoint:          o.Endpoint,
		Protocol:          "grpc",
		Sampler:           sampler,
		BatchTimeout:      o.BatchTimeout,
		BaggageAttributes: []string{bagUser, bagTenant},
		MaxSpansPerTrace:  2000,
		Logger:            o.Logger.With("service", name),
	})
	if err != nil {
		if rs, ok := sampler.(*sdk.RemoteSampler); ok {
			_ = rs.Shutdown(ctx)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &service{
		name: name, faults: o.Faults, tp: tp, prop: prop,
		tr:  tp.Tracer("github.com/ariadne-tracing/ariadne/examples/shop/" + name),
		log: slog.New(sdk.NewLogHandler(o.Logger.Handler(), sdk.LogOptions{SpanEvents: true, SpanEventLevel: slog.LevelWarn})).With("service", name),
	}
	s.client = &http.Client{
		Timeout:   5 * time.Second,
		Transport: tracehttp.Transport(http.DefaultTransport, tracehttp.WithTracerProvider(tp), tracehttp.WithPropagator(prop)),
	}
	return s, nil
}

func (s *service) listen() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("%s: listen: %w", s.name, err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	return nil
}

func (s *service) url() string { return "http://" + s.addr }

// serveHTTP serves mux, traced and with the service's injected faults.
func (s *service) serveHTTP(mux *http.ServeMux) error {
	if err := s.listen(); err != nil {
		return err
	}
	h := &faultHandler{s: s, mux: mux}
	s.http = &http.Server{Handler: tracehttp.Middleware(h, tracehttp.WithTracerProvider(s.tp), tracehttp.WithPropagator(s.prop)),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.http.Serve(s.ln) }()
	return nil
}

// faultHandler injects the service's faults in front of its mux. It is a
// tracehttp.Router, so the middleware names spans by route before they
// start (and remote per-operation sampling sees the route).
type faultHandler struct {
	s   *service
	mux *http.ServeMux
}

func (h *faultHandler) Handler(r *http.Request) (http.Handler, string) { return h.mux.Handler(r) }

func (h *faultHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.s.injectFault(r.Context()); err != nil {
		writeError(w, r, http.StatusInternalServerError, err)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (s *service) stopServing(ctx context.Context) error {
	if s.http != nil {
		return s.http.Shutdown(ctx)
	}
	if s.grpc != nil {
		s.grpc.GracefulStop()
	}
	return nil
}

var errInjected = errors.New("injected failure")

// injectFault sleeps for a latency spike and fails a request, at the
// configured rates.
func (s *service) injectFault(ctx context.Context) error {
	if s.faults.SpikeRate > 0 && rand.Float64() < s.faults.SpikeRate {
		trace.SpanFromContext(ctx).SetAttributes(attribute.Bool("demo.latency_spike", true))
		sleep(ctx, s.faults.Spike)
	}
	if rate := s.faults.ErrorRate[s.name]; rate > 0 && rand.Float64() < rate {
		err := fmt.Errorf("%s: %w", s.name, errInjected)
		s.log.WarnContext(ctx, "failing request on purpose", "err", err)
		return sdk.Error(ctx, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// work sleeps a random time between min and max, to stand for real work.
func work(ctx context.Context, min, max time.Duration) {
	sleep(ctx, min+time.Duration(rand.Int64N(int64(max-min)+1)))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code >= 500 {
		_ = sdk.Error(r.Context(), err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// httpError is a non-2xx answer from another service.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

// getJSON GETs url (route is its template, for the client span's name)
// and decodes the JSON answer into v. Headers are copied from hdr.
func (s *service) getJSON(ctx context.Context, route, url string, hdr http.Header, v any) error {
	req, err := http.NewRequestWithContext(tracehttp.WithRoute(ctx, route), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return &httpError{status: resp.StatusCode, body: e.Error}
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// statusOf maps a downstream error to the status to answer with.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) && he.status < 500 {
		return he.status
	}
	return http.StatusBadGateway
}
