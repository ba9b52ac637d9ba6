// Command bench produces the numbers of docs/benchmarks.md: it starts the
// real ariadne binary on free loopback ports, drives it, samples the
// process from /proc and prints a Markdown report with the command line and
// the machine it ran on.
//
//	go run ./tools/bench ingest [flags]   sustained ingest: CPU, RSS, bytes on disk per span
//	go run ./tools/bench idle   [flags]   RSS of an idle server over a loaded data dir
//	go run ./tools/bench query  [flags]   trace-by-ID and search latency over a loaded store
//
// The report goes to stdout; progress and the load generator's per-second
// lines go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	mode, args := os.Args[1], os.Args[2:]
	var err error
	switch mode {
	case "ingest":
		err = runIngest(ctx, args)
	case "idle":
		err = runIdle(ctx, args)
	case "query":
		err = runQuery(ctx, args)
	case "help", "-h", "--help":
		usage(os.Stdout)
		return
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown mode %q\n\n", mode)
		usage(os.Stderr)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: go run ./tools/bench <mode> [flags]

Modes:
  ingest   sustained OTLP ingest at a fixed rate: accepted/refused spans, server
           CPU per span, RSS, bytes on disk per span (after flush and after merges)
  idle     start the server over an existing data dir and report its idle RSS
  query    load spans (or reuse a data dir), then time trace-by-ID and searches

Run 'go run ./tools/bench <mode> -h' for the flags of a mode. See tools/bench/README.md.
`)
}

// logf writes a progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
