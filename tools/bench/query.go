package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/loadgen"
)

type queryFlags struct {
	commonFlags
	spans       int64
	bigTraces   int
	skipLoad    bool
	traceIDs    string
	loadWALSync string
	walSync     string
	minSpans    int
	maxSpans    int
	workers     int
	lookups     int
	searches    int
	warmup      int
	quiet       time.Duration
	seed        uint64
}

// Big traces are loaded with this many spans each, drawn uniformly.
const bigMinSpans, bigMaxSpans = 500, 1000

func runQuery(ctx context.Context, args []string) error {
	var f queryFlags
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	f.register(fs, "data dir to load into and keep for reuse with --skip-load (default: a temp dir, removed)")
	fs.Int64Var(&f.spans, "spans", 10_000_000, "spans to load, as fast as the server accepts them")
	fs.IntVar(&f.bigTraces, "big-traces", 0, fmt.Sprintf("also load about this many traces of %d–%d spans", bigMinSpans, bigMaxSpans))
	fs.BoolVar(&f.skipLoad, "skip-load", false, "do not load: query the data already in --data-dir (needs its trace-ID file)")
	fs.StringVar(&f.traceIDs, "trace-ids", "", "trace-ID file written by the load, read by lookups (default: <data-dir>.trace-ids)")
	fs.StringVar(&f.loadWALSync, "load-wal-sync", "never", "server WAL sync policy while loading")
	fs.StringVar(&f.walSync, "wal-sync", "always", "server WAL sync policy while querying")
	fs.IntVar(&f.minSpans, "min-spans", 5, "fewest spans per loaded trace")
	fs.IntVar(&f.maxSpans, "max-spans", 50, "most spans per loaded trace")
	fs.IntVar(&f.workers, "workers", 8, "concurrent senders while loading")
	fs.IntVar(&f.lookups, "lookups", 2000, "trace-by-ID requests per trace size class")
	fs.IntVar(&f.searches, "searches", 200, "requests per search query")
	fs.IntVar(&f.warmup, "warmup", 5, "untimed requests before each timed series")
	fs.DurationVar(&f.quiet, "quiet", 15*time.Second, "before measuring, wait until parts and merges have not changed for this long")
	fs.Uint64Var(&f.seed, "seed", 1, "seed for picking trace IDs, services and attribute values")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("query: unexpected argument %q", fs.Arg(0))
	}
	if f.skipLoad && f.dataDir == "" {
		return errors.New("query: --skip-load needs --data-dir")
	}
	if f.lookups < 1 || f.searches < 1 {
		return errors.New("query: --lookups and --searches must be at least 1")
	}
	ws, err := newWorkspace(ctx, &f.commonFlags)
	if err != nil {
		return err
	}
	defer ws.close()

	dataDir := f.dataDir
	if dataDir == "" {
		if dataDir, err = ws.tempDataDir("data"); err != nil {
			return err
		}
	}
	if f.traceIDs == "" {
		f.traceIDs = filepath.Clean(dataDir) + ".trace-ids"
	}

	var notes []string
	if !f.skipLoad {
		note, err := queryLoad(ctx, ws, &f, dataDir)
		if err != nil {
			return err
		}
		notes = append(notes, note)
	} else {
		notes = append(notes, fmt.Sprintf("data: reused %s (--skip-load)", dataDir))
	}
	traces, err := readTraceIDs(f.traceIDs)
	if err != nil {
		return err
	}

	var res results
	for run := 1; run <= f.runs; run++ {
		logf("query run %d of %d", run, f.runs)
		ms, err := queryOnce(ctx, ws, &f, dataDir, traces, run)
		if err != nil {
			return fmt.Errorf("run %d: %w", run, err)
		}
		res.addRun(ms)
	}
	notes = append(notes,
		fmt.Sprintf("queries: one at a time (concurrency 1) over HTTP from this process, on a server restarted after the load (data in parts, --wal-sync %s); %d untimed warm-up requests per series; latency is to the last byte of the body", f.walSync, f.warmup),
		"search values are drawn per request: a random service from /api/v1/services, a random user.id from /api/v1/attributes/user.id/values?limit=1000")
	res.write(os.Stdout, header{mode: "query", args: args, fs: fs, binary: ws.bin, built: ws.built, runs: f.runs, notes: notes})
	return nil
}

// queryLoad loads f.spans (and the big traces) into dataDir, writing the
// trace-ID file, lets merges settle and stops the server so that every
// span is in a part. It returns a note describing the load.
func queryLoad(ctx context.Context, ws *workspace, f *queryFlags, dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", err
	}
	if ents, err := os.ReadDir(dataDir); err != nil {
		return "", err
	} else if len(ents) > 0 {
		return "", fmt.Errorf("query: data dir %s is not empty: use --skip-load to query it, or an empty dir to load", dataDir)
	}
	idFile, err := os.Create(f.traceIDs)
	if err != nil {
		return "", err
	}
	defer idFile.Close()
	ids := bufio.NewWriterSize(idFile, 1<<20)

	srv, err := ws.start(ctx, dataDir, "--wal-sync", f.loadWALSync)
	if err != nil {
		return "", err
	}
	defer srv.kill()

	load := func(total int64, gen loadgen.GenOptions, batch int, seed int64) (loadgen.Result, error) {
		r, err := loadgen.Run(ctx, loadgen.Config{
			Endpoint:    srv.grpcAddr,
			TotalSpans:  total,
			Workers:     f.workers,
			BatchSpans:  batch,
			MaxRetries:  20, // load everything: backpressure is retried, not dropped
			Seed:        seed,
			Gen:         gen,
			TraceIDsOut: ids,
		}, os.Stderr)
		if err == nil {
			err = ctx.Err()
		}
		return r, err
	}
	logf("loading %d spans (--wal-sync %s)", f.spans, f.loadWALSync)
	r, err := load(f.spans, loadgen.GenOptions{MinSpans: f.minSpans, MaxSpans: f.maxSpans}, 0, 1)
	if err != nil {
		return "", fmt.Errorf("load: %w", err)
	}
	note := fmt.Sprintf("data: loaded %d spans in %d traces of %d–%d spans at %.0f spans/s accepted (loadgen over gRPC, as fast as accepted, refusals retried: %d retries, %d spans dropped), with `--wal-sync %s` during the load",
		r.Accepted, r.Traces, f.minSpans, f.maxSpans, float64(r.Accepted)/r.Elapsed.Seconds(), r.Retries, r.Dropped, f.loadWALSync)
	if f.bigTraces > 0 {
		logf("loading about %d traces of %d–%d spans", f.bigTraces, bigMinSpans, bigMaxSpans)
		br, err := load(int64(f.bigTraces)*(bigMinSpans+bigMaxSpans)/2,
			loadgen.GenOptions{MinSpans: bigMinSpans, MaxSpans: bigMaxSpans}, bigMaxSpans, 2)
		if err != nil {
			return "", fmt.Errorf("load big traces: %w", err)
		}
		note += fmt.Sprintf("; plus %d spans in %d traces of %d–%d spans (%d dropped)", br.Accepted, br.Traces, bigMinSpans, bigMaxSpans, br.Dropped)
	}
	if err := ids.Flush(); err != nil {
		return "", fmt.Errorf("write %s: %w", f.traceIDs, err)
	}
	if err := idFile.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", f.traceIDs, err)
	}
	logf("load done; waiting for merges to settle")
	if err := waitQuiet(ctx, srv, f.quiet, 10*time.Minute); err != nil {
		return "", err
	}
	if _, _, err := srv.stop(); err != nil {
		return "", err
	}
	return note, nil
}

// waitQuiet polls the store's metrics until head spans, parts and merges
// have not changed for quiet (or limit has passed).
func waitQuiet(ctx context.Context, srv *server, quiet, limit time.Duration) error {
	key := func() (string, error) {
		m, err := srv.metrics()
		if err != nil {
			return "", err
		}
		return fmt.Sprint(m["ariadne_store_head_spans"], m["ariadne_store_parts"], m["ariadne_store_merges_total"]), nil
	}
	deadline := time.Now().Add(limit)
	last, err := key()
	if err != nil {
		return err
	}
	since := time.Now()
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			logf("store still changing after %s; measuring anyway", limit)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		k, err := key()
		if err != nil {
			return err
		}
		if k != last {
			last, since = k, time.Now()
		}
	}
	return nil
}

// traceRef is one line of the trace-ID file.
type traceRef struct {
	id    string
	spans int
}

func readTraceIDs(path string) ([]traceRef, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trace-ID file: %w", err)
	}
	defer fh.Close()
	var out []traceRef
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		id, n, ok := strings.Cut(sc.Text(), " ")
		spans, err := strconv.Atoi(n)
		if !ok || err != nil || len(id) != 32 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		out = append(out, traceRef{id, spans})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no trace IDs", path)
	}
	return out, nil
}

// series is the timings of one kind of request.
type series struct {
	lat     []time.Duration
	results int // traces returned (search) or spans returned (lookup), summed
	bad     int // wrong answers: errors, or lookups with the wrong span count
}

func (s *series) metrics(name, resultUnit string) []metric {
	slices.Sort(s.lat)
	n := float64(len(s.lat))
	return []metric{
		{name: name + ": p50", value: ms(percentile(s.lat, 0.5)), unit: "ms", prec: 2},
		{name: name + ": p99", value: ms(percentile(s.lat, 0.99)), unit: "ms", prec: 2},
		{name: name + ": max", value: ms(s.lat[len(s.lat)-1]), unit: "ms", prec: 2},
		{name: name + ": mean " + resultUnit, value: float64(s.results) / n, prec: 1},
		{name: name + ": wrong answers", value: float64(s.bad)},
	}
}

// querier times requests against one server.
type querier struct {
	srv    *server
	client *http.Client
}

// get GETs path and returns the body and the time to its last byte.
func (q *querier) get(path string) ([]byte, time.Duration, error) {
	t0 := time.Now()
	resp, err := q.client.Get(q.srv.queryURL + path)
	if err != nil {
		return nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	took := time.Since(t0)
	resp.Body.Close()
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, took, nil
}

// lookups fetches n random traces of refs by ID, checking each answer's
// span count after the timing.
func (q *querier) lookups(refs []traceRef, n, warmup int, rng *rand.Rand) series {
	var s series
	var um ptrace.JSONUnmarshaler
	for i := range warmup + n {
		ref := refs[rng.IntN(len(refs))]
		body, took, err := q.get("/api/v1/traces/" + ref.id)
		if i < warmup {
			continue
		}
		if err != nil {
			logf("lookup %s: %v", ref.id, err)
			s.bad++
			continue
		}
		s.lat = append(s.lat, took)
		td, err := um.UnmarshalTraces(body)
		if err != nil {
			logf("lookup %s: decode OTLP/JSON: %v", ref.id, err)
			s.bad++
			continue
		}
		got := td.SpanCount()
		if got != ref.spans {
			if s.bad < 5 {
				logf("lookup %s: want %d spans, got %d", ref.id, ref.spans, got)
			}
			s.bad++
		}
		s.results += got
	}
	return s
}

// search runs the query that params returns n times.
func (q *querier) search(params func() url.Values, n, warmup int) series {
	var s series
	for i := range warmup + n {
		var resp struct {
			Traces []json.RawMessage `json:"traces"`
		}
		path := "/api/v1/search?" + params().Encode()
		body, took, err := q.get(path)
		if i < warmup {
			continue
		}
		if err == nil {
			err = json.Unmarshal(body, &resp)
		}
		if err != nil {
			logf("search %s: %v", path, err)
			s.bad++
			continue
		}
		s.lat = append(s.lat, took)
		s.results += len(resp.Traces)
	}
	return s
}

func queryOnce(ctx context.Context, ws *workspace, f *queryFlags, dataDir string, traces []traceRef, run int) ([]metric, error) {
	srv, err := ws.start(ctx, dataDir, "--wal-sync", f.walSync)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	if err := waitQuiet(ctx, srv, f.quiet, 5*time.Minute); err != nil {
		return nil, err
	}
	p0, err := readProc(srv.pid())
	if err != nil {
		return nil, err
	}
	m, err := srv.metrics()
	if err != nil {
		return nil, err
	}
	q := &querier{srv: srv, client: &http.Client{Timeout: time.Minute}}
	rng := rand.New(rand.NewPCG(f.seed, uint64(run)))

	var services struct {
		Services []string `json:"services"`
	}
	if err := srv.getJSON("/api/v1/services", &services); err != nil {
		return nil, err
	}
	if len(services.Services) == 0 {
		return nil, errors.New("no services in the store")
	}
	var users struct {
		Values []struct {
			Value string `json:"value"`
		} `json:"values"`
	}
	if err := srv.getJSON("/api/v1/attributes/user.id/values?limit=1000", &users); err != nil {
		return nil, err
	}
	if len(users.Values) == 0 {
		return nil, errors.New("no user.id values in the store")
	}

	out := []metric{
		{name: "spans stored", value: m["ariadne_store_stored_spans"] + m["ariadne_store_head_spans"]},
		{name: "traces in the trace-ID file", value: float64(len(traces))},
		{name: "parts", value: m["ariadne_store_parts"]},
		{name: "part bytes", value: m["ariadne_store_part_bytes"] / mib, unit: "MiB"},
		{name: "RSS when ready", value: float64(p0.rss) / mib, unit: "MiB"},
	}

	var small, big []traceRef
	for _, t := range traces {
		if t.spans >= bigMinSpans {
			big = append(big, t)
		} else {
			small = append(small, t)
		}
	}
	for _, class := range []struct {
		refs []traceRef
		name string
	}{
		{small, fmt.Sprintf("trace by ID, traces under %d spans", bigMinSpans)},
		{big, fmt.Sprintf("trace by ID, traces of %d+ spans", bigMinSpans)},
	} {
		refs, name := class.refs, class.name
		if len(refs) == 0 {
			continue
		}
		logf("%s: %d lookups over %d traces", name, f.lookups, len(refs))
		s := q.lookups(refs, f.lookups, f.warmup, rng)
		if len(s.lat) == 0 {
			return nil, fmt.Errorf("%s: every lookup failed", name)
		}
		out = append(out, s.metrics(name, "spans returned")...)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}

	svc := func() string { return services.Services[rng.IntN(len(services.Services))] }
	searches := []struct {
		name   string
		params func() url.Values
	}{
		{"search `service=X limit=20`", func() url.Values {
			return url.Values{"service": {svc()}, "limit": {"20"}}
		}},
		{"search `service=X http.response.status_code>=500 minDuration=50ms`", func() url.Values {
			return url.Values{"service": {svc()}, "attr": {"http.response.status_code>=500"}, "minDuration": {"50ms"}}
		}},
		{"search `user.id=<value>`", func() url.Values {
			return url.Values{"attr": {"user.id=" + users.Values[rng.IntN(len(users.Values))].Value}}
		}},
		{"search, no filters, limit=20", func() url.Values {
			return url.Values{"limit": {"20"}}
		}},
	}
	for _, sq := range searches {
		logf("%s: %d requests", sq.name, f.searches)
		s := q.search(sq.params, f.searches, f.warmup)
		if len(s.lat) == 0 {
			return nil, fmt.Errorf("%s: every request failed", sq.name)
		}
		out = append(out, s.metrics(sq.name, "traces returned")...)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}

	tq, err := q.traceql(f.searches, f.warmup, svc, func() string { return users.Values[rng.IntN(len(users.Values))].Value })
	if err != nil {
		return nil, err
	}
	out = append(out, tq...)

	p1, err := readProc(srv.pid())
	if err != nil {
		return nil, err
	}
	if _, _, err := srv.stop(); err != nil {
		return nil, err
	}
	out = append(out,
		metric{name: "RSS after the queries", value: float64(p1.rss) / mib, unit: "MiB"},
		metric{name: "peak RSS (VmHWM)", value: float64(p1.hwm) / mib, unit: "MiB"},
	)
	return out, nil
}
