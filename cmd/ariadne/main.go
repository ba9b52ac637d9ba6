// Command ariadne is the Ariadne tracing server and its tools.
//
//	ariadne [serve] [flags]   run the all-in-one server (default)
//	ariadne loadgen [flags]   send realistic OTLP traffic to an endpoint
//	ariadne trace ID          print a trace as a waterfall
//	ariadne search [flags]    print matching traces as a table
//	ariadne demo [flags]      run the server with a traced demo shop
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/cli"
	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/server"
)

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "loadgen":
		err = runLoadgen(args)
	case "trace":
		err = cli.Trace(context.Background(), args, os.Stdout, os.Stderr)
	case "search":
		err = cli.Search(context.Background(), args, os.Stdout, os.Stderr)
	case "demo":
		err = runDemo(args)
	case "help":
		usage(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "ariadne: unknown command %q\n\n", cmd)
		usage(os.Stderr)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ariadne:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  ariadne [serve] [flags]   run the all-in-one server (OTLP in, embedded store, query API)
  ariadne loadgen [flags]   send realistic OTLP traffic at a given rate to any OTLP endpoint
  ariadne trace ID          print a trace as a waterfall (--json for OTLP JSON; --server URL)
  ariadne search [flags]    print the traces matching a search as a table (--server URL)
  ariadne demo [flags]      run the server, a traced demo shop and its users: real traces in one command
  ariadne help              show this help

Run 'ariadne serve -h' or 'ariadne loadgen -h' for the flags of each.
`)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML configuration file (unknown keys are an error); flags override it")
	// Flag values are applied over the file, but only for flags given on
	// the command line; their defaults shown here are the built-in ones.
	def := config.Default()
	dataDir := fs.String("data-dir", def.DataDir, "directory for the WAL and parts")
	listenHost := fs.String("listen-host", def.ListenHost, "interface to listen on; 0.0.0.0 listens on all interfaces")
	grpcPort := fs.Int("otlp-grpc-port", def.Ports.OTLPGRPC, "OTLP/gRPC port")
	httpPort := fs.Int("otlp-http-port", def.Ports.OTLPHTTP, "OTLP/HTTP port")
	queryPort := fs.Int("query-port", def.Ports.Query, "query API and UI port")
	zipkinPort := fs.Int("zipkin-port", def.Ports.Zipkin, "Zipkin API port (span ingest and queries)")
	samplingPort := fs.Int("sampling-port", def.Ports.Sampling, "Jaeger remote sampling port (GET /sampling?service=NAME)")
	strategiesFile := fs.String("sampling-strategies-file", def.Sampling.StrategiesFile, "sampling strategies file in Jaeger's format, reloaded when it changes")
	tempoPort := fs.Int("tempo-port", def.Ports.Tempo, "Tempo-compatible query API port (Grafana's Tempo data source)")
	walSync := fs.String("wal-sync", def.Storage.WALSync, "WAL fsync policy: always (acknowledge after fsync), interval, never")
	retention := def.Storage.Retention
	fs.Var(&retention, "retention", "drop data older than this (e.g. 7d, 36h); 0 keeps data forever")
	maxDisk := def.Storage.MaxDiskBytes
	fs.Var(&maxDisk, "max-disk-bytes", "drop the oldest partitions past this size (e.g. 50GiB); 0 = unlimited")
	memLimit := def.Storage.MemoryLimit
	fs.Var(&memLimit, "memory-limit", "soft memory limit for the Go runtime (e.g. 1GiB); GOMEMLIMIT in the environment wins; 0 = none")
	logLevel := fs.String("log-level", def.Log.Level, "debug, info, warn or error")
	logFormat := fs.String("log-format", def.Log.Format, "text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg := def
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			return err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.DataDir = *dataDir
		case "listen-host":
			cfg.ListenHost = *listenHost
		case "otlp-grpc-port":
			cfg.Ports.OTLPGRPC = *grpcPort
		case "otlp-http-port":
			cfg.Ports.OTLPHTTP = *httpPort
		case "query-port":
			cfg.Ports.Query = *queryPort
		case "zipkin-port":
			cfg.Ports.Zipkin = *zipkinPort
		case "sampling-port":
			cfg.Ports.Sampling = *samplingPort
		case "sampling-strategies-file":
			cfg.Sampling.StrategiesFile = *strategiesFile
		case "tempo-port":
			cfg.Ports.Tempo = *tempoPort
		case "wal-sync":
			cfg.Storage.WALSync = *walSync
		case "retention":
			cfg.Storage.Retention = retention
		case "max-disk-bytes":
			cfg.Storage.MaxDiskBytes = maxDisk
		case "memory-limit":
			cfg.Storage.MemoryLimit = memLimit
		case "log-level":
			cfg.Log.Level = *logLevel
		case "log-format":
			cfg.Log.Format = *logFormat
		}
	})
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg.Log)
	slog.SetDefault(log)

	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(ctx); err != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		return err
	}
	<-ctx.Done()
	stop()
	log.Info("shutting down; flushing data (send the signal again to abort)")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}

func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
