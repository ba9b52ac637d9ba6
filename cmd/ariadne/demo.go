package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ariadne-tracing/ariadne/examples/shop"
	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/server"
)

// runDemo starts the server (unless --endpoint points elsewhere), the demo
// shop and its traffic, and runs until interrupted or --duration passes.
func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	def := config.Default()
	endpoint := fs.String("endpoint", "", "send the shop's spans to this OTLP/gRPC endpoint (host:port, or a URL) instead of starting a server; any OTLP backend works")
	dataDir := fs.String("data-dir", "", "data directory of the embedded server (default: a temporary directory removed on exit)")
	grpcPort := fs.Int("otlp-grpc-port", def.Ports.OTLPGRPC, "OTLP/gRPC port of the embedded server")
	httpPort := fs.Int("otlp-http-port", def.Ports.OTLPHTTP, "OTLP/HTTP port of the embedded server")
	queryPort := fs.Int("query-port", def.Ports.Query, "query API port of the embedded server")
	samplingPort := fs.Int("sampling-port", def.Ports.Sampling, "remote sampling port of the embedded server")
	strategies := fs.String("sampling-strategies-file", "", "sampling strategies (Jaeger format) for the embedded server; the shop's services poll them, so edits apply within seconds")
	rate := fs.Float64("rate", 5, "user sessions started per second (each makes 2-3 requests)")
	duration := fs.Duration("duration", 0, "stop after this long (0: run until interrupted)")
	faults := fs.Bool("faults", true, "inject faults: errors, latency spikes, an N+1 query, a retry storm, a slow dependency")
	errorRates := fs.String("error-rate", "", "override injected error rates, e.g. products=0.2,pricing=0 (services: auth, stores, products, inventory, pricing, frontend)")
	logLevel := fs.String("log-level", "warn", "log level of the embedded server: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	if *rate <= 0 {
		return fmt.Errorf("demo: --rate: must be greater than zero, got %g", *rate)
	}
	if *endpoint != "" && *strategies != "" {
		return fmt.Errorf("demo: --sampling-strategies-file needs the embedded server (drop --endpoint)")
	}
	f := shop.DefaultFaults()
	if !*faults {
		f = shop.Faults{}
	}
	if err := parseErrorRates(*errorRates, &f); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	var srv *server.Server
	cfg := def
	target := *endpoint
	samplingURL := ""
	if target == "" {
		cfg.DataDir = *dataDir
		if cfg.DataDir == "" {
			dir, err := os.MkdirTemp("", "ariadne-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg.DataDir = dir
		}
		cfg.Ports = config.Ports{OTLPGRPC: *grpcPort, OTLPHTTP: *httpPort, Query: *queryPort, Sampling: *samplingPort}
		cfg.Log.Level = *logLevel
		cfg.Sampling.StrategiesFile = *strategies
		if err := cfg.Validate(); err != nil {
			return err
		}
		log := newLogger(cfg.Log)
		var err error
		if srv, err = server.New(cfg, log); err != nil {
			return err
		}
		if err := srv.Start(ctx); err != nil {
			_ = srv.Shutdown(context.Background())
			return err
		}
		target = cfg.Addr(cfg.Ports.OTLPGRPC)
		samplingURL = "http://" + cfg.Addr(cfg.Ports.Sampling) + "/sampling"
	}
	sh, err := shop.Start(ctx, shop.Options{Endpoint: target, SamplingURL: samplingURL, Faults: f})
	if err == nil {
		fmt.Fprintf(os.Stderr, "ariadne demo: shop frontend at %s (services: %v), sending spans to %s\n", sh.URL(), sh.Services(), target)
		if srv != nil {
			q := "http://" + cfg.Addr(cfg.Ports.Query)
			fmt.Fprintf(os.Stderr, "ariadne demo: traces at %s, for example:\n", q)
			fmt.Fprintf(os.Stderr, "  curl -s '%s/api/v1/search?service=frontend&limit=5'\n", q)
			fmt.Fprintf(os.Stderr, "  curl -s '%s/api/v1/search?status=error&limit=5'\n", q)
			fmt.Fprintf(os.Stderr, "  curl -s '%s/api/v1/traces/TRACE_ID'\n", q)
			fmt.Fprintf(os.Stderr, "  curl -s '%s/api/v1/metrics/services'   # rate, errors, latency per service\n", q)
			fmt.Fprintf(os.Stderr, "  curl -s '%s/api/v1/metrics/graph'      # the service map\n", q)
		}
		fmt.Fprintf(os.Stderr, "ariadne demo: %g user sessions per second; Ctrl-C stops\n", *rate)
		var stats shop.TrafficStats
		shop.Traffic(ctx, sh.URL(), shop.TrafficOptions{Rate: *rate}, &stats)
		fmt.Fprintf(os.Stderr, "ariadne demo: stopping after %s\n", stats.String())
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if sh != nil {
		if serr := sh.Shutdown(shutdownCtx); serr != nil && err == nil {
			err = fmt.Errorf("shop shutdown: %w", serr)
		}
	}
	if srv != nil {
		if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
			err = fmt.Errorf("server shutdown: %w", serr)
		}
	}
	return err
}

// parseErrorRates applies "service=rate,..." over f.ErrorRate.
func parseErrorRates(s string, f *shop.Faults) error {
	if s == "" {
		return nil
	}
	if f.ErrorRate == nil {
		f.ErrorRate = map[string]float64{}
	}
	known := map[string]bool{"frontend": true, "auth": true, "stores": true, "products": true, "inventory": true, "pricing": true}
	for _, kv := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || !known[name] {
			return fmt.Errorf("demo: --error-rate: %q: expected SERVICE=RATE with a shop service (frontend, auth, stores, products, inventory, pricing)", kv)
		}
		rate, err := strconv.ParseFloat(val, 64)
		if err != nil || rate < 0 || rate > 1 {
			return fmt.Errorf("demo: --error-rate: %q: the rate must be a number between 0 and 1", kv)
		}
		f.ErrorRate[name] = rate
	}
	return nil
}
