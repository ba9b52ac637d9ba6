package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/loadgen"
)

func runLoadgen(args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var cfg loadgen.Config
	fs.StringVar(&cfg.Protocol, "protocol", "grpc", "grpc or http/protobuf")
	fs.StringVar(&cfg.Endpoint, "endpoint", "", "gRPC host:port (default 127.0.0.1:4317) or OTLP/HTTP URL (default http://127.0.0.1:4318/v1/traces)")
	fs.StringVar(&cfg.Compression, "compression", "", "request compression: none or gzip")
	fs.Float64Var(&cfg.Rate, "rate", 10000, "target spans per second (0 = as fast as possible)")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "how long to send (0 = until -spans are sent or interrupted)")
	fs.Int64Var(&cfg.TotalSpans, "spans", 0, "stop after this many spans (0 = no limit)")
	fs.IntVar(&cfg.Workers, "workers", 8, "concurrent senders")
	fs.IntVar(&cfg.BatchSpans, "batch", 0, "spans per request, whole traces (default 500)")
	fs.IntVar(&cfg.MaxRetries, "retries", 0, "retries of a refused request (0 = count it as refused)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "random seed (same seed, same traffic)")
	fs.IntVar(&cfg.Gen.MinSpans, "min-spans", 5, "fewest spans per trace")
	fs.IntVar(&cfg.Gen.MaxSpans, "max-spans", 50, "most spans per trace")
	fs.Float64Var(&cfg.Gen.ErrorRate, "error-rate", 0.05, "fraction of traces with an error (negative: none)")
	headers := fs.String("headers", "", "extra headers, comma separated key=value pairs (e.g. X-Scope-OrgID=bench)")
	idsOut := fs.String("trace-ids-out", "", "write each accepted trace ID and its span count to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadgen: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Compression == "none" {
		cfg.Compression = ""
	}
	if *headers != "" {
		cfg.Headers = map[string]string{}
		for _, kv := range strings.Split(*headers, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("loadgen: -headers: %q is not key=value", kv)
			}
			cfg.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if *idsOut != "" {
		f, err := os.Create(*idsOut)
		if err != nil {
			return err
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		defer w.Flush()
		cfg.TraceIDsOut = w
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := loadgen.Run(ctx, cfg, os.Stdout)
	return err
}
