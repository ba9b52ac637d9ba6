package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/sampling"
)

// samplingEndpoint serves the Jaeger remote sampling protocol on its own
// port (5778 by default), at "/" and "/sampling" as Jaeger does; the query
// API serves the same at /api/sampling.
type samplingEndpoint struct {
	listen   string
	provider *sampling.Provider
	http     *http.Server
	ln       net.Listener
}

func newSamplingEndpoint(cfg config.Config, log *slog.Logger) (*samplingEndpoint, error) {
	p, err := sampling.NewProvider(sampling.Options{
		File:               cfg.Sampling.StrategiesFile,
		DefaultProbability: cfg.Sampling.DefaultProbability,
		ReloadInterval:     time.Duration(cfg.Sampling.ReloadInterval),
		Logger:             log.With("component", "sampling"),
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/sampling", p)
	mux.Handle("/{$}", p)
	return &samplingEndpoint{listen: cfg.Addr(cfg.Ports.Sampling), provider: p,
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
	return errors.Join(errs...)
}
