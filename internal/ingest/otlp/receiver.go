// Package otlp receives traces over OTLP/gRPC and OTLP/HTTP, validates and
// limits them (package ingest) and hands them to a Consumer. The
// client-facing behaviour (status codes, partial success, limits) is
// documented in docs/ingest.md.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// Consumer takes the spans of one request. The store implements it.
type Consumer interface {
	// Append stores spans. It returns nil only once they are durable
	// (in the WAL); only then does the receiver acknowledge them. An error
	// matching store.ErrOverloaded (errors.Is) means nothing was stored
	// and the client should retry later; the receiver treats every other
	// error as retryable too. Receivers call Append concurrently, once
	// per request. The consumer may keep spans; neither side modifies
	// them after the call.
	Append(ctx context.Context, spans []model.Span) error
}

// Config configures a Receiver. Zero fields take the defaults below.
type Config struct {
	// GRPCAddr is the OTLP/gRPC listen address. Default "127.0.0.1:4317".
	GRPCAddr string
	// HTTPAddr is the OTLP/HTTP listen address. Default "127.0.0.1:4318".
	HTTPAddr string
	// Limits bounds requests and spans (ingest.Limits defaults apply).
	Limits ingest.Limits
	// MaxConcurrentRequests bounds the requests being decoded or stored
	// at once, gRPC and HTTP together; past it requests are refused as
	// overloaded. Default 64: with 16 MiB requests, the receivers then
	// hold at most about 64 × 3 × 16 MiB in memory.
	MaxConcurrentRequests int
	// RetryAfter is the delay suggested to clients refused as overloaded
	// (HTTP Retry-After, gRPC RetryInfo). Default 1s.
	RetryAfter time.Duration
}

// Defaults for Config.
const (
	DefaultGRPCAddr              = "127.0.0.1:4317"
	DefaultHTTPAddr              = "127.0.0.1:4318"
	DefaultMaxConcurrentRequests = 64
	DefaultRetryAfter            = time.Second
)

// Timeouts of the HTTP server (slow clients must not hold a request slot
// for ever).
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = time.Minute
	httpIdleTimeout       = 2 * time.Minute
)

// Receiver serves OTLP/gRPC and OTLP/HTTP trace export.
type Receiver struct {
	cfg      Config
	consumer Consumer
	log      *slog.Logger
	conv     *ingest.Converter
	m        *metrics
	sem      chan struct{} // request slots
	decomp   *decompressor
	bufs     sync.Pool // *[]byte for HTTP bodies

	mu         sync.Mutex
	started    bool
	stopped    bool
	grpcServer *grpc.Server
	httpServer *http.Server
	grpcLis    net.Listener
	httpLis    net.Listener
	serving    sync.WaitGroup
}

// New returns a Receiver that sends what it receives to c and registers
// its metrics on reg (nil: not registered). It does not listen yet.
func New(cfg Config, c Consumer, reg prometheus.Registerer, log *slog.Logger) (*Receiver, error) {
	if c == nil {
		return nil, errors.New("otlp receiver: nil consumer")
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = DefaultGRPCAddr
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultHTTPAddr
	}
	if cfg.MaxConcurrentRequests <= 0 {
		cfg.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	if cfg.Limits.MaxRequestBytes > 1<<31-1 {
		return nil, fmt.Errorf("otlp receiver: max request bytes %d over 2 GiB", cfg.Limits.MaxRequestBytes)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	d, err := newDecompressor(cfg.Limits.MaxRequestBytes)
	if err != nil {
		return nil, err
	}
	return &Receiver{
		cfg:      cfg,
		consumer: c,
		log:      log.With("component", "otlp"),
		conv:     ingest.NewConverter(cfg.Limits),
		m:        m,
		sem:      make(chan struct{}, cfg.MaxConcurrentRequests),
		decomp:   d,
	}, nil
}

// Limits returns the limits in force, defaults filled in.
func (r *Receiver) Limits() ingest.Limits { return r.cfg.Limits }

// Start binds both listeners and starts serving. It returns an error,
// and listens on nothing, if either address cannot be bound.
func (r *Receiver) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return errors.New("otlp receiver: already started or shut down")
	}
	var lc net.ListenConfig
	gl, err := lc.Listen(ctx, "tcp", r.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("otlp grpc listen: %w", err)
	}
	hl, err := lc.Listen(ctx, "tcp", r.cfg.HTTPAddr)
	if err != nil {
		gl.Close()
		return fmt.Errorf("otlp http listen: %w", err)
	}
	r.started = true
	r.grpcLis, r.httpLis = gl, hl
	r.grpcServer = r.newGRPCServer()
	r.httpServer = &http.Server{
		Handler:           r.httpHandler(),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
	}
	r.serving.Add(2)
	go func() {
		defer r.serving.Done()
		if err := r.grpcServer.Serve(gl); err != nil {
			r.log.Error("otlp grpc server stopped", "err", err)
		}
	}()
	go func() {
		defer r.serving.Done()
		if err := r.httpServer.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("otlp http server stopped", "err", err)
		}
	}()
	r.log.Info("otlp receiver listening", "grpc", gl.Addr().String(), "http", hl.Addr().String())
	return nil
}

// GRPCAddr returns the bound gRPC address (nil before Start).
func (r *Receiver) GRPCAddr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.grpcLis == nil {
		return nil
	}
	return r.grpcLis.Addr()
}

// HTTPAddr returns the bound HTTP address (nil before Start).
func (r *Receiver) HTTPAddr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.httpLis == nil {
		return nil
	}
	return r.httpLis.Addr()
}

// Shutdown stops accepting connections and waits for in-flight requests
// to finish (their spans stored and answered). If ctx ends first it
// closes the remaining connections and returns ctx's error. It is safe to
// call without Start and more than once.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	gs, hs := r.grpcServer, r.httpServer
	r.mu.Unlock()

	var errs []error
	if hs != nil {
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
			errs = append(errs, fmt.Errorf("otlp http shutdown: %w", err))
		}
	}
	if gs != nil {
		done := make(chan struct{})
		go func() {
			gs.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			gs.Stop()
			<-done
			errs = append(errs, fmt.Errorf("otlp grpc shutdown: %w", ctx.Err()))
		}
	}
	r.serving.Wait()
	if len(errs) == 0 {
		// No handler can run any more: release the shared zstd decoder.
		r.decomp.close()
	}
	return errors.Join(errs...)
}

// acquire takes a request slot without waiting.
func (r *Receiver) acquire() bool {
	select {
	case r.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (r *Receiver) release() { <-r.sem }

// errTooManyRequests is the refusal when all request slots are taken.
var errTooManyRequests = fmt.Errorf("too many concurrent requests: %w", store.ErrOverloaded)

// export admits the spans of a decoded request and hands the accepted
// ones to the consumer. It returns the partial-success counts, or the
// consumer's error.
func (r *Receiver) export(ctx context.Context, protocol string, batch *ingest.Batch) (rejected int, msg string, err error) {
	res := r.conv.Admit(batch)
	for reason, n := range res.ByReason {
		if n > 0 {
			r.m.rejected[reason].Add(float64(n))
		}
	}
	if n := len(res.Spans); n > 0 {
		if err := r.consumer.Append(ctx, res.Spans); err != nil {
			r.conv.Forget(res.Spans)
			reason := refusedStoreError
			switch {
			case errors.Is(err, store.ErrOverloaded):
				reason = refusedOverloaded
			case errors.Is(err, store.ErrClosed), ctx.Err() != nil:
				// Shutting down, or the client gave up: nothing to log.
			default:
				r.log.Error("storing spans failed", "protocol", protocol, "spans", n, "err", err)
			}
			r.m.refused.WithLabelValues(reason).Add(float64(n))
			return 0, "", err
		}
		r.m.proto(protocol).accepted.Add(float64(n))
	}
	if res.Rejected > 0 {
		r.log.Debug("spans rejected", "protocol", protocol, "rejected", res.Rejected, "msg", res.Message)
	}
	return res.Rejected, res.Message, nil
}

// retryAfterSeconds is RetryAfter rounded up to whole seconds (HTTP).
func (r *Receiver) retryAfterSeconds() int {
	s := int((r.cfg.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}
