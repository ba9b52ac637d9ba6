package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/sampling"
	"github.com/ariadne-tracing/ariadne/internal/sampling/adaptive"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// samplingEndpoint serves the Jaeger remote sampling protocol on its own
// port (5778 by default), at "/" and "/sampling" as Jaeger does; the query
// API serves the same at /api/sampling.
type samplingEndpoint struct {
	listen   string
	provider *sampling.Provider
	adaptive *adaptive.Calculator // nil unless sampling.adaptive.enabled
	http     *http.Server
	ln       net.Listener
}

// newAdaptive builds the adaptive sampling calculator when it is enabled
// (nil otherwise); its state lives in <data_dir>/sampling/adaptive.json.
func newAdaptive(cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*adaptive.Calculator, error) {
	a := cfg.Sampling.Adaptive
	if !a.Enabled {
		return nil, nil
	}
	c, err := adaptive.New(adaptive.Config{
		Interval: time.Duration(a.Interval), TargetTracesPerSecond: a.TargetTracesPerSecond,
		ErrorTargetTracesPerSecond: a.ErrorTargetTracesPerSecond, MinProbability: a.MinProbability,
		MaxProbability: a.MaxProbability, InitialProbability: a.InitialProbability,
		LowerBoundTracesPerSecond: a.LowerBoundTracesPerSecond, MaxIncrease: a.MaxIncrease,
		Smoothing: a.Smoothing, MaxOperations: a.MaxOperations,
		StateFile: filepath.Join(cfg.DataDir, "sampling", "adaptive.json"),
		Logger:    log.With("component", "adaptive-sampling"),
	})
	if err != nil {
		return nil, fmt.Errorf("sampling.adaptive: %w", err)
	}
	reg.MustRegister(c)
	return c, nil
}

// observers feeds the store's batches to the metrics pipeline and to the
// adaptive sampling calculator (which only counts root spans and has no
// part in the store's durability protocol).
type observers struct {
	store.Observer
	adaptive *adaptive.Calculator
}

func withAdaptive(o store.Observer, a *adaptive.Calculator) store.Observer {
	if a == nil {
		return o
	}
	if o == nil { // metrics.enabled: false
		o = noObserver{}
	}
	return observers{o, a}
}

// noObserver stands in for the metrics pipeline when derivation is off.
type noObserver struct{}

func (noObserver) Recover(func(uint64) bool) error { return nil }
func (noObserver) Observe([]model.Span)            {}
func (noObserver) Seal()                           {}
func (noObserver) Prepare(uint64) error            { return nil }
func (noObserver) Commit(uint64) error             { return nil }

func (o observers) Observe(spans []model.Span) {
	o.Observer.Observe(spans)
	o.adaptive.Observe(spans)
}

// adaptiveHandler answers GET /api/v1/sampling/adaptive with the last
// calculation (docs/adaptive-sampling.md).
func adaptiveHandler(a *adaptive.Calculator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if a == nil {
			_, _ = w.Write([]byte(`{"enabled":false}` + "\n"))
			return
		}
		_ = json.NewEncoder(w).Encode(struct {
			Enabled bool `json:"enabled"`
			adaptive.Snapshot
		}{true, a.Snapshot()})
	})
}

func newSamplingEndpoint(cfg config.Config, log *slog.Logger, a *adaptive.Calculator) (*samplingEndpoint, error) {
	opts := sampling.Options{
		File:               cfg.Sampling.StrategiesFile,
		DefaultProbability: cfg.Sampling.DefaultProbability,
		ReloadInterval:     time.Duration(cfg.Sampling.ReloadInterval),
		Logger:             log.With("component", "sampling"),
	}
	if a != nil {
		opts.Adaptive = a
	}
	p, err := sampling.NewProvider(opts)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/sampling", p)
	mux.Handle("/{$}", p)
	return &samplingEndpoint{listen: cfg.Addr(cfg.Ports.Sampling), provider: p, adaptive: a,
		http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

func (e *samplingEndpoint) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", e.listen)
	if err != nil {
		return fmt.Errorf("remote sampling listen: %w", err)
	}
	if err := e.provider.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	if e.adaptive != nil {
		if err := e.adaptive.Start(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	e.ln = ln
	go func() {
		if err := e.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("remote sampling endpoint stopped", "err", err)
		}
	}()
	return nil
}

func (e *samplingEndpoint) addr() string {
	if e.ln == nil {
		return ""
	}
	return e.ln.Addr().String()
}

// Shutdown is safe without Start.
func (e *samplingEndpoint) Shutdown(ctx context.Context) error {
	var errs []error
	if e.ln != nil {
		errs = append(errs, e.http.Shutdown(ctx))
	}
	errs = append(errs, e.provider.Shutdown(ctx))
	if e.adaptive != nil {
		errs = append(errs, e.adaptive.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
