// Package shop is the demo behind `ariadne demo`: an online shop made of six
// small services, each a real server on its own loopback port and each
// instrumented with the sdk package, plus a traffic generator that behaves
// like users. A user lists the stores of their tenant, opens one and lists
// its products, and looks at a product:
//
//	traffic ──HTTP──▶ frontend ──HTTP──▶ auth            (token cache)
//	                     │    ──HTTP──▶ stores          (SQLite, cache)
//	                     └────HTTP──▶ products          (SQLite, N+1 query)
//	                                    ├──gRPC──▶ inventory (slow warehouse lookups)
//	                                    └──HTTP──▶ pricing   (overload bursts, retried)
//
// The frontend puts the user and tenant IDs in W3C baggage; every service
// copies them onto its spans. Faults are configurable: an error rate per
// service, latency spikes, an N+1 query pattern, a retry storm and a slow
// dependency.
//
// All six services run in one process here so that the demo is one
// command, but each has its own tracer provider, service name, listener and
// database, exactly as it would in its own process. A real service would
// call sdk.Setup once in main instead of sdk.NewProvider.
package shop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Faults are the problems the shop injects so that traces show them.
type Faults struct {
	// ErrorRate is the fraction of requests each service fails (HTTP 500
	// or gRPC UNAVAILABLE), by service name.
	ErrorRate map[string]float64
	// SpikeRate is the fraction of requests, in any service, delayed by
	// Spike.
	SpikeRate float64
	Spike     time.Duration
	// NPlusOne makes products load a store's products with one query for
	// the IDs and one more per product, instead of a single query.
	NPlusOne bool
	// RetryStorm makes pricing shed load in bursts (503) and products
	// retry each failed call immediately, up to three times.
	RetryStorm bool
	// OverloadShare is the fraction of two-second windows in which
	// pricing, with RetryStorm, sheds half of its requests.
	OverloadShare float64
	// SlowDependency is the latency of inventory's warehouse lookup, which
	// one call in four needs.
	SlowDependency time.Duration
}

// DefaultFaults are mild enough to look like a real shop on a bad day.
func DefaultFaults() Faults {
	return Faults{
		ErrorRate:      map[string]float64{"auth": 0.01, "stores": 0.02, "products": 0.02, "inventory": 0.03, "pricing": 0.02},
		SpikeRate:      0.02,
		Spike:          250 * time.Millisecond,
		NPlusOne:       true,
		RetryStorm:     true,
		OverloadShare:  0.3,
		SlowDependency: 60 * time.Millisecond,
	}
}

// Options configures Start.
type Options struct {
	// Endpoint is the OTLP/gRPC endpoint the services export to
	// ("host:port", plain-text; or a URL).
	Endpoint string
	// SamplingURL, if set, is a Jaeger remote sampling endpoint
	// (http://host:5778/sampling) that every service polls for its
	// strategy (sdk.Remote, falling back to sampling everything).
	// Empty: every trace is sampled.
	SamplingURL string
	Faults      Faults
	// Logger receives the services' logs (with trace_id and span_id).
	// Default: discarded.
	Logger *slog.Logger
	// BatchTimeout is how long spans wait before export. Default 500ms,
	// so that the demo shows traces quickly.
	BatchTimeout time.Duration
}

// Shop is a running shop.
type Shop struct {
	services []*service
	frontend *service
	closers  []func(context.Context) error
}

// Start starts the six services on free loopback ports. Stop them with
// Shutdown, which also flushes their spans.
func Start(ctx context.Context, o Options) (*Shop, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = 500 * time.Millisecond
	}
	sh := &Shop{}
	fail := func(err error) (*Shop, error) {
		_ = sh.Shutdown(context.Background())
		return nil, err
	}
	started := map[string]*service{}
	noClose := func(err error) (func(context.Context) error, error) { return nil, err }
	// From the leaves up, so that callers know their dependencies'
	// addresses.
	steps := []struct {
		name  string
		start func(*service) (func(context.Context) error, error)
	}{
		{"inventory", func(s *service) (func(context.Context) error, error) { return noClose(startInventory(s)) }},
		{"pricing", func(s *service) (func(context.Context) error, error) { return noClose(startPricing(s)) }},
		{"products", func(s *service) (func(context.Context) error, error) {
			return startProducts(s, started["inventory"].addr, started["pricing"].url())
		}},
		{"stores", startStores},
		{"auth", func(s *service) (func(context.Context) error, error) { return noClose(startAuth(s)) }},
		{"frontend", func(s *service) (func(context.Context) error, error) {
			return noClose(startFrontend(s, started["auth"].url(), started["stores"].url(), started["products"].url()))
		}},
	}
	for _, step := range steps {
		s, err := newService(ctx, step.name, o)
		if err != nil {
			return fail(err)
		}
		sh.services = append(sh.services, s)
		closer, err := step.start(s)
		if err != nil {
			return fail(err)
		}
		if closer != nil {
			sh.closers = append(sh.closers, closer)
		}
		started[step.name] = s
	}
	sh.frontend = started["frontend"]
	return sh, nil
}

// URL is the frontend's base URL (http://127.0.0.1:port).
func (sh *Shop) URL() string { return sh.frontend.url() }

// Services returns the names of the shop's services.
func (sh *Shop) Services() []string {
	var names []string
	for _, s := range sh.services {
		names = append(names, s.name)
	}
	return names
}

// Shutdown stops the services (callers first), closes their databases and
// flushes their spans. Safe on a partly started shop.
func (sh *Shop) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(sh.services) - 1; i >= 0; i-- {
		errs = append(errs, sh.services[i].stopServing(ctx))
	}
	for _, c := range sh.closers {
		errs = append(errs, c(ctx))
	}
	for _, s := range sh.services {
		if err := s.tp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: flush spans: %w", s.name, err))
		}
	}
	return errors.Join(errs...)
}
