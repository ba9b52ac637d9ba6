package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/loadgen"
)

type ingestFlags struct {
	commonFlags
	rate       float64
	duration   time.Duration
	protocol   string
	walSync    string
	config     string
	minSpans   int
	maxSpans   int
	workers    int
	batch      int
	loader     string
	tgBin      string
	mergeWait  time.Duration
	sampleTick time.Duration
}

func (f *ingestFlags) serverFlags() []string {
	out := []string{"--wal-sync", f.walSync}
	if f.config != "" {
		out = append(out, "--config", f.config)
	}
	return out
}

// loadResult is what the client side saw of one load.
type loadResult struct {
	elapsed   time.Duration
	offered   int64         // spans generated and sent
	clientCPU time.Duration // CPU time of the load generator
	// Request latency, only known for the built-in load generator.
	p50, p99 time.Duration
	haveLat  bool
}

func runIngest(ctx context.Context, args []string) error {
	var f ingestFlags
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	f.register(fs, "data dir to ingest into (default: a fresh temp dir per run); bytes/span then counts only the growth")
	fs.Float64Var(&f.rate, "rate", 100000, "offered load, spans per second")
	fs.DurationVar(&f.duration, "duration", 5*time.Minute, "how long to send")
	fs.StringVar(&f.protocol, "protocol", "grpc", "grpc or http/protobuf (built-in load generator only)")
	fs.StringVar(&f.walSync, "wal-sync", "always", "server WAL sync policy: always, interval or never")
	fs.StringVar(&f.config, "server-config", "", "YAML config file for the server (its --config); flags above override it")
	fs.IntVar(&f.minSpans, "min-spans", 5, "fewest spans per trace (built-in load generator)")
	fs.IntVar(&f.maxSpans, "max-spans", 50, "most spans per trace (built-in load generator)")
	fs.IntVar(&f.workers, "workers", 8, "concurrent senders (telemetrygen: --workers)")
	fs.IntVar(&f.batch, "batch", 0, "spans per request, built-in load generator (0 = its default, 500)")
	fs.StringVar(&f.loader, "loadgen", "ariadne", "load generator: ariadne (in-process internal/loadgen) or telemetrygen (subprocess)")
	fs.StringVar(&f.tgBin, "telemetrygen", "", "telemetrygen binary (default: from PATH or $(go env GOPATH)/bin)")
	fs.DurationVar(&f.mergeWait, "merge-wait", time.Minute, "after the load, restart the server and let it merge parts this long, then measure disk again")
	fs.DurationVar(&f.sampleTick, "sample-every", time.Second, "how often to sample the server's CPU and RSS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("ingest: unexpected argument %q", fs.Arg(0))
	}
	if f.rate <= 0 || f.duration <= 0 {
		return errors.New("ingest: --rate and --duration must be positive")
	}
	var tg string
	switch f.loader {
	case "ariadne":
	case "telemetrygen":
		var err error
		if tg, err = findTelemetrygen(f.tgBin); err != nil {
			return err
		}
	default:
		return fmt.Errorf("ingest: --loadgen %q: want ariadne or telemetrygen", f.loader)
	}

	ws, err := newWorkspace(ctx, &f.commonFlags)
	if err != nil {
		return err
	}
	defer ws.close()

	var res results
	for run := 1; run <= f.runs; run++ {
		logf("ingest run %d of %d", run, f.runs)
		ms, err := ingestOnce(ctx, ws, &f, tg, run)
		if err != nil {
			return fmt.Errorf("run %d: %w", run, err)
		}
		res.addRun(ms)
	}
	notes := []string{fmt.Sprintf("load generator: %s, on the same machine as the server (its CPU use is in the table)", loaderDesc(&f))}
	res.write(os.Stdout, header{mode: "ingest", args: args, fs: fs, binary: ws.bin, built: ws.built, runs: f.runs, notes: notes})
	return nil
}

func loaderDesc(f *ingestFlags) string {
	if f.loader == "telemetrygen" {
		return fmt.Sprintf("telemetrygen, %d workers, 10-span traces (1 parent + 9 children)", f.workers)
	}
	return fmt.Sprintf("ariadne internal/loadgen, %s, %d workers, %d–%d spans per trace, no retries", f.protocol, f.workers, f.minSpans, f.maxSpans)
}

func ingestOnce(ctx context.Context, ws *workspace, f *ingestFlags, tg string, run int) ([]metric, error) {
	dataDir := f.dataDir
	if dataDir == "" {
		var err error
		if dataDir, err = ws.tempDataDir(fmt.Sprintf("data-%d", run)); err != nil {
			return nil, err
		}
		if !ws.keep {
			defer os.RemoveAll(dataDir)
		}
	} else if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	disk0, err := measureDisk(dataDir)
	if err != nil {
		return nil, err
	}
	srv, err := ws.start(ctx, dataDir, f.serverFlags()...)
	if err != nil {
		return nil, err
	}
	defer srv.kill()

	m0, err := srv.metrics()
	if err != nil {
		return nil, err
	}
	p0, err := readProc(srv.pid())
	if err != nil {
		return nil, err
	}
	sm := startSampler(srv.pid(), f.sampleTick)
	var lr loadResult
	if f.loader == "telemetrygen" {
		lr, err = runTelemetrygen(ctx, tg, srv.grpcAddr, f)
	} else {
		lr, err = runLoadgen(ctx, srv, f)
	}
	samples, serr := sm.stop()
	if err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("sample server: %w", serr)
	}
	p1, err := readProc(srv.pid())
	if err != nil {
		return nil, err
	}
	m1, err := srv.metrics()
	if err != nil {
		return nil, err
	}
	logf("load done; stopping the server (SIGTERM flushes the head)")
	flushTook, cpuTotal, err := srv.stop()
	if err != nil {
		return nil, err
	}
	disk1, err := measureDisk(dataDir)
	if err != nil {
		return nil, err
	}

	logf("restarting the server for %s of merges", f.mergeWait)
	srv2, err := ws.start(ctx, dataDir, f.serverFlags()...)
	if err != nil {
		return nil, err
	}
	defer srv2.kill()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(f.mergeWait):
	}
	m2, err := srv2.metrics()
	if err != nil {
		return nil, err
	}
	if _, _, err := srv2.stop(); err != nil {
		return nil, err
	}
	disk2, err := measureDisk(dataDir)
	if err != nil {
		return nil, err
	}

	secs := lr.elapsed.Seconds()
	accepted := m1["ariadne_spans_accepted_total"] - m0["ariadne_spans_accepted_total"]
	refused := m1["ariadne_spans_refused_total"] - m0["ariadne_spans_refused_total"]
	lost := max(float64(lr.offered)-accepted, 0)
	perSpan := func(v float64) float64 {
		if accepted <= 0 {
			return math.NaN()
		}
		return v / accepted
	}
	pct := func(v float64) float64 {
		if lr.offered <= 0 {
			return math.NaN()
		}
		return 100 * v / float64(lr.offered)
	}
	loadCPU := p1.cpu - p0.cpu
	rssMed, rssMax := rssStats(samples)
	grow1, grow2 := disk1.sub(disk0), disk2.sub(disk0)
	lat := func(d time.Duration) float64 {
		if !lr.haveLat {
			return math.NaN()
		}
		return ms(d)
	}
	out := []metric{
		{name: "target rate (--rate)", value: f.rate, unit: "spans/s"},
		{name: "offered", value: float64(lr.offered) / secs, unit: "spans/s"},
		{name: "accepted", value: accepted / secs, unit: "spans/s"},
		{name: "spans accepted (total)", value: accepted},
		{name: "refused by the server (ariadne_spans_refused_total)", value: refused, unit: "spans"},
		{name: "refused", value: pct(refused), unit: "%", prec: 3},
		{name: "offered but not accepted (refused, failed or dropped)", value: lost, unit: "spans"},
		{name: "offered but not accepted", value: pct(lost), unit: "%", prec: 3},
		{name: "export latency p50 (client)", value: lat(lr.p50), unit: "ms", prec: 1},
		{name: "export latency p99 (client)", value: lat(lr.p99), unit: "ms", prec: 1},
		{name: "server CPU per accepted span, during load", value: perSpan(float64(loadCPU.Microseconds())), unit: "µs", prec: 2},
		{name: "server CPU per accepted span, load + final flush", value: perSpan(float64((cpuTotal - p0.cpu).Microseconds())), unit: "µs", prec: 2},
		{name: "server CPU during load", value: loadCPU.Seconds() / secs, unit: "cores", prec: 2},
		{name: "load generator CPU during load", value: lr.clientCPU.Seconds() / secs, unit: "cores", prec: 2},
		{name: "server RSS during load, median", value: rssMed / mib, unit: "MiB"},
		{name: "server RSS during load, max", value: rssMax / mib, unit: "MiB"},
		{name: "shutdown (SIGTERM to exit, flushes the head)", value: flushTook.Seconds(), unit: "s", prec: 1},
		{name: "disk per span after flush (parts + WAL)", value: perSpan(float64(grow1.total())), unit: "B", prec: 1},
		{name: "disk per span after flush (parts only)", value: perSpan(float64(grow1.parts)), unit: "B", prec: 1},
		{name: fmt.Sprintf("disk per span after %s of merges (parts + WAL)", f.mergeWait), value: perSpan(float64(grow2.total())), unit: "B", prec: 1},
		{name: fmt.Sprintf("disk per span after %s of merges (parts only)", f.mergeWait), value: perSpan(float64(grow2.parts)), unit: "B", prec: 1},
		{name: "parts after merges", value: m2["ariadne_store_parts"]},
	}
	return out, nil
}

// runLoadgen runs internal/loadgen in this process against srv.
func runLoadgen(ctx context.Context, srv *server, f *ingestFlags) (loadResult, error) {
	endpoint := srv.grpcAddr
	if f.protocol == "http/protobuf" {
		endpoint = "http://" + srv.httpAddr + "/v1/traces"
	}
	cfg := loadgen.Config{
		Protocol:   f.protocol,
		Endpoint:   endpoint,
		Rate:       f.rate,
		Duration:   f.duration,
		Workers:    f.workers,
		BatchSpans: f.batch,
		Seed:       1,
		Gen:        loadgen.GenOptions{MinSpans: f.minSpans, MaxSpans: f.maxSpans},
	}
	cpu0 := selfCPU()
	r, err := loadgen.Run(ctx, cfg, os.Stderr)
	if err != nil {
		return loadResult{}, fmt.Errorf("loadgen: %w", err)
	}
	if ctx.Err() != nil {
		return loadResult{}, ctx.Err()
	}
	return loadResult{
		elapsed:   r.Elapsed,
		offered:   r.Sent,
		clientCPU: selfCPU() - cpu0,
		p50:       r.LatencyP50,
		p99:       r.LatencyP99,
		haveLat:   true,
	}, nil
}
