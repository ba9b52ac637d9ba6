package loadgen

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures Run. The zero value sends as fast as possible over
// gRPC to 127.0.0.1:4317 until the context is cancelled.
type Config struct {
	// Protocol is "grpc" (default) or "http/protobuf".
	Protocol string
	// Endpoint is where to send. For grpc: host:port, default
	// 127.0.0.1:4317 (an http:// prefix is ignored, https:// enables TLS).
	// For http/protobuf: a URL, default http://127.0.0.1:4318/v1/traces; a
	// bare host:port gets http:// and /v1/traces added.
	Endpoint string
	// Headers are added to every request as gRPC metadata or HTTP headers,
	// e.g. {"X-Scope-OrgID": "bench"} for a multi-tenant Tempo.
	Headers map[string]string
	// Compression is "" (none) or "gzip", for either protocol.
	Compression string

	// Rate is the target in spans per second over all workers; 0 sends as
	// fast as the workers and the server allow. Rate is met by pacing
	// whole requests, so it is exact over seconds, not within one.
	// Retries are not paced: they add to the offered load.
	Rate float64
	// Duration stops sending after this long; 0 means no time limit.
	// Requests in flight when it expires are completed and counted.
	Duration time.Duration
	// TotalSpans stops after this many distinct spans have been generated
	// and sent (first attempts; retries do not count); 0 means no limit.
	TotalSpans int64
	// Workers is the number of concurrent senders, each with its own
	// generator (seeded from Seed and its index). Default 8.
	Workers int
	// BatchSpans is the number of spans per request, as whole traces (a
	// request holds between BatchSpans-MinSpans+1 and BatchSpans spans).
	// Default 500, in the range of a Collector batch processor; with a
	// Rate below 2500 spans/s the default is Rate/5 (at least 50), so
	// requests still go out about every 200ms.
	BatchSpans int
	// Timeout bounds each request attempt. Default 10s.
	Timeout time.Duration

	// MaxRetries is how often a refused request (gRPC Unavailable or
	// ResourceExhausted, HTTP 429 or 503) is sent again before its spans
	// are dropped. Default 0: no retries, so that a server that cannot keep
	// up shows as refused/s at the offered rate rather than as a hidden
	// backlog; set it to behave like a Collector exporter. Failed requests
	// (other errors) are never retried.
	MaxRetries int
	// RetryBackoff is the first retry delay, doubled per attempt up to 5s,
	// with ±20% jitter. A server's Retry-After header or gRPC RetryInfo
	// replaces it (capped at 30s). Default 100ms.
	RetryBackoff time.Duration

	// Seed makes the generated traffic deterministic per worker.
	Seed int64
	// Gen shapes the generated traces.
	Gen GenOptions

	// TraceIDsOut, if set, receives one line "<trace ID hex> <span count>"
	// per trace in every accepted request (accepted as a whole or with
	// partial-success rejections, which cannot be attributed to traces),
	// so benchmarks can later query traces known to exist. Writes are
	// serialised and buffered; the buffer is flushed before Run returns.
	TraceIDsOut io.Writer
	// ReportInterval is how often a progress line is written to out.
	// Default 1s.
	ReportInterval time.Duration
}

// Result summarises a Run. Span counts follow
// Sent = Accepted + Rejected + Refused + Failed, where each export attempt
// (including retries) counts its spans once as sent.
type Result struct {
	Elapsed time.Duration
	// Spans per outcome. Accepted excludes partial-success rejections
	// (Rejected); Refused is backpressure (gRPC Unavailable or
	// ResourceExhausted, HTTP 429/503); Failed is any other error,
	// including attempts aborted because ctx was cancelled.
	Sent, Accepted, Rejected, Refused, Failed int64
	// Dropped counts spans whose last attempt was refused or failed.
	Dropped int64
	// Requests counts export attempts, Retries the attempts that were
	// retries.
	Requests, Retries int64
	// Traces counts traces in accepted requests.
	Traces int64
	// Bytes is the encoded (uncompressed) protobuf size of all attempts;
	// BytesPerSpan = Bytes / Sent.
	Bytes        int64
	BytesPerSpan float64
	// LatencyP50 and LatencyP99 are over all attempts (within ~6%).
	LatencyP50, LatencyP99 time.Duration
	// LastError is the most recent refusal, failure or partial-success
	// message, if any.
	LastError string
	// Intervals is the per-report-interval series; the last one may be
	// shorter than ReportInterval.
	Intervals []Interval
}

// Interval holds the counts of one report interval.
type Interval struct {
	// T is the end of the interval, measured from the start of the run;
	// Length is its duration.
	T, Length                                 time.Duration
	Sent, Accepted, Rejected, Refused, Failed int64
	Requests                                  int64
	P50, P99                                  time.Duration
}

// PerSecond converts a count of this interval to a rate.
func (iv Interval) PerSecond(n int64) float64 {
	if iv.Length <= 0 {
		return 0
	}
	return float64(n) / iv.Length.Seconds()
}

func (c Config) withDefaults() (Config, error) {
	if c.Protocol == "" {
		c.Protocol = "grpc"
	}
	if c.Endpoint == "" {
		switch c.Protocol {
		case "grpc":
			c.Endpoint = "127.0.0.1:4317"
		case "http/protobuf":
			c.Endpoint = "http://127.0.0.1:4318/v1/traces"
		}
	}
	switch c.Compression {
	case "", "gzip":
	case "none":
		c.Compression = ""
	default:
		return c, fmt.Errorf("compression %q: want gzip or none", c.Compression)
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.BatchSpans <= 0 {
		c.BatchSpans = 500
		if c.Rate > 0 {
			// Like a batch processor's 200ms timeout: at low rates send
			// smaller requests more often rather than one big one per second.
			c.BatchSpans = int(min(max(c.Rate/5, 50), 500))
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 100 * time.Millisecond
	}
	if c.ReportInterval <= 0 {
		c.ReportInterval = time.Second
	}
	if c.Rate < 0 || c.Duration < 0 || c.TotalSpans < 0 || c.MaxRetries < 0 {
		return c, fmt.Errorf("rate, duration, total spans and max retries must not be negative")
	}
	return c, nil
}

const (
	maxBackoff    = 5 * time.Second
	maxRetryAfter = 30 * time.Second
)

// Run sends generated traces to cfg.Endpoint until cfg.Duration has
// passed, cfg.TotalSpans have been sent, or ctx is cancelled, writing a
// progress line to out every ReportInterval and a summary at the end (out
// may be nil). Server errors are counted in the Result, not returned; Run
// returns an error only for an invalid Config or a failed write to
// TraceIDsOut. Cancelling ctx is a normal way to stop and returns a nil
// error.
func Run(ctx context.Context, cfg Config, out io.Writer) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if out == nil {
		out = io.Discard
	}
	exp, err := newExporter(&cfg)
	if err != nil {
		return Result{}, err
	}
	defer exp.close()

	r := &runner{cfg: &cfg, exp: exp}
	if cfg.Rate > 0 {
		r.pace = &pacer{perSpan: float64(time.Second) / cfg.Rate}
	}
	if cfg.TotalSpans > 0 {
		r.budget = &atomic.Int64{}
		r.budget.Store(cfg.TotalSpans)
	}
	if cfg.TraceIDsOut != nil {
		r.ids = bufio.NewWriterSize(cfg.TraceIDsOut, 64<<10)
	}

	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		stop, cancel = context.WithTimeout(stop, cfg.Duration)
		defer cancel()
	}

	start := time.Now()
	if r.pace != nil {
		r.pace.next = start
	}
	var res Result
	var total counts
	lastErr := ""
	reportDone := make(chan struct{})
	workersDone := make(chan struct{})
	go func() {
		defer close(reportDone)
		tick := time.NewTicker(cfg.ReportInterval)
		defer tick.Stop()
		last := start
		for k := 1; ; k++ {
			select {
			case <-workersDone:
				return
			case now := <-tick.C:
				c, le := r.stats.take()
				iv := interval(&c, now.Sub(start), now.Sub(last))
				last = now
				total.add(&c)
				lastErr = le
				res.Intervals = append(res.Intervals, iv)
				writeInterval(out, time.Duration(k)*cfg.ReportInterval, iv)
			}
		}
	}()

	var wg sync.WaitGroup
	for i := range cfg.Workers {
		wg.Go(func() { r.worker(ctx, stop, i) })
	}
	wg.Wait()
	close(workersDone)
	<-reportDone

	end := time.Now()
	c, le := r.stats.take()
	if c.requests > 0 || c.dropped > 0 {
		var prev time.Duration
		if n := len(res.Intervals); n > 0 {
			prev = res.Intervals[n-1].T
		}
		res.Intervals = append(res.Intervals, interval(&c, end.Sub(start), end.Sub(start)-prev))
	}
	total.add(&c)
	lastErr = le

	res.Elapsed = end.Sub(start)
	res.Sent, res.Accepted, res.Rejected = total.sent, total.accepted, total.rejected
	res.Refused, res.Failed, res.Dropped = total.refused, total.failed, total.dropped
	res.Requests, res.Retries, res.Traces = total.requests, total.retries, total.traces
	res.Bytes = total.bytes
	if total.sent > 0 {
		res.BytesPerSpan = float64(total.bytes) / float64(total.sent)
	}
	res.LatencyP50, res.LatencyP99 = total.lat.quantile(0.5), total.lat.quantile(0.99)
	res.LastError = lastErr
	writeSummary(out, &res)

	if r.ids != nil {
		r.idsMu.Lock()
		err := r.idsErr
		if err == nil {
			err = r.ids.Flush()
		}
		r.idsMu.Unlock()
		if err != nil {
			return res, fmt.Errorf("write trace IDs: %w", err)
		}
	}
	return res, nil
}

type runner struct {
	cfg    *Config
	exp    exporter
	pace   *pacer
	budget *atomic.Int64 // spans left to generate, if TotalSpans is set
	stats  stats

	idsMu  sync.Mutex
	ids    *bufio.Writer
	idsErr error
}

// worker generates and sends batches until stop is done or the budget is
// used up. Requests run under ctx, so they finish when only stop expires.
func (r *runner) worker(ctx, stop context.Context, i int) {
	gen := NewGenerator(int64(mix(uint64(r.cfg.Seed)+uint64(i)*0x9e3779b97f4a7c15)), r.cfg.Gen)
	jitter := rand.New(rand.NewPCG(uint64(r.cfg.Seed), uint64(i)))
	var buf []byte
	for stop.Err() == nil {
		want := r.cfg.BatchSpans
		if r.budget != nil {
			if want = r.claim(want); want == 0 {
				return
			}
		}
		var spans int
		buf, spans = gen.AppendProto(buf[:0], want)
		if r.budget != nil && spans < want {
			r.budget.Add(int64(want - spans))
		}
		if !r.pace.wait(stop, spans) {
			return
		}
		r.send(ctx, stop, gen.traces, buf, spans, jitter)
	}
}

// claim takes up to n spans from the budget.
func (r *runner) claim(n int) int {
	for {
		left := r.budget.Load()
		if left <= 0 {
			return 0
		}
		take := min(int64(n), left)
		if r.budget.CompareAndSwap(left, left-take) {
			return int(take)
		}
	}
}

func (r *runner) send(ctx, stop context.Context, traces []traceRecord, body []byte, spans int, jitter *rand.Rand) {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		t0 := time.Now()
		res := r.exp.export(actx, body)
		lat := time.Since(t0)
		cancel()
		r.stats.record(spans, len(traces), len(body), attempt > 0, res, lat)
		if res.outcome == outcomeOK {
			r.writeIDs(traces)
			return
		}
		if res.outcome != outcomeRefused || attempt >= r.cfg.MaxRetries {
			r.stats.drop(spans)
			return
		}
		d := min(r.cfg.RetryBackoff<<attempt, maxBackoff)
		d = time.Duration(float64(d) * (0.8 + 0.4*jitter.Float64()))
		if res.retryAfter > 0 {
			d = min(res.retryAfter, maxRetryAfter)
		}
		if !sleep(stop, d) {
			r.stats.drop(spans)
			return
		}
	}
}

func (r *runner) writeIDs(traces []traceRecord) {
	if r.ids == nil {
		return
	}
	var line [32 + 1 + 20 + 1]byte
	r.idsMu.Lock()
	defer r.idsMu.Unlock()
	if r.idsErr != nil {
		return
	}
	for _, t := range traces {
		b := hex.AppendEncode(line[:0], t.id[:])
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(t.spans), 10)
		b = append(b, '\n')
		if _, err := r.ids.Write(b); err != nil {
			r.idsErr = err
			return
		}
	}
}

// pacer spaces requests so that spans go out at a fixed rate across all
// workers. Each request reserves the next slot on a shared schedule; a
// schedule that has fallen behind (slow server, too few workers) catches
// up at most maxLag, so a stall is not followed by a burst.
type pacer struct {
	mu      sync.Mutex
	perSpan float64 // nanoseconds
	next    time.Time
}

const maxLag = 100 * time.Millisecond

// wait blocks until the request of n spans may go, and reports false if
// ctx ended first. A nil pacer never waits.
func (p *pacer) wait(ctx context.Context, n int) bool {
	if p == nil {
		return ctx.Err() == nil
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now.Add(-maxLag)) {
		p.next = now.Add(-maxLag)
	}
	at := p.next
	p.next = p.next.Add(time.Duration(float64(n) * p.perSpan))
	p.mu.Unlock()
	return sleep(ctx, at.Sub(now))
}

// sleep waits d and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func interval(c *counts, t, length time.Duration) Interval {
	return Interval{
		T: t, Length: length,
		Sent: c.sent, Accepted: c.accepted, Rejected: c.rejected, Refused: c.refused, Failed: c.failed,
		Requests: c.requests,
		P50:      c.lat.quantile(0.5), P99: c.lat.quantile(0.99),
	}
}

// writeInterval prints one progress line, labelled with the nominal time t
// (rates use the measured interval length):
//
//	t=5s sent=100000/s accepted=100000/s refused=0/s failed=0/s p50_latency=3ms p99=12ms
func writeInterval(w io.Writer, t time.Duration, iv Interval) {
	_, _ = fmt.Fprintf(w, "t=%ss sent=%.0f/s accepted=%.0f/s refused=%.0f/s failed=%.0f/s p50_latency=%s p99=%s\n",
		strconv.FormatFloat(t.Seconds(), 'f', -1, 64),
		iv.PerSecond(iv.Sent), iv.PerSecond(iv.Accepted), iv.PerSecond(iv.Refused), iv.PerSecond(iv.Failed),
		fmtLatency(iv.P50, iv.Requests), fmtLatency(iv.P99, iv.Requests))
}

func writeSummary(w io.Writer, r *Result) {
	secs := r.Elapsed.Seconds()
	rate := func(n int64) float64 {
		if secs <= 0 {
			return 0
		}
		return float64(n) / secs
	}
	_, _ = fmt.Fprintf(w, "summary: elapsed=%s requests=%d retries=%d traces=%d\n",
		r.Elapsed.Round(time.Millisecond), r.Requests, r.Retries, r.Traces)
	_, _ = fmt.Fprintf(w, "  spans: sent=%d (%.0f/s) accepted=%d (%.0f/s) rejected=%d refused=%d failed=%d dropped=%d\n",
		r.Sent, rate(r.Sent), r.Accepted, rate(r.Accepted), r.Rejected, r.Refused, r.Failed, r.Dropped)
	_, _ = fmt.Fprintf(w, "  bytes/span=%.0f (OTLP protobuf, uncompressed) total=%.1fMB p50_latency=%s p99=%s\n",
		r.BytesPerSpan, float64(r.Bytes)/1e6, fmtLatency(r.LatencyP50, r.Requests), fmtLatency(r.LatencyP99, r.Requests))
	if r.LastError != "" {
		_, _ = fmt.Fprintf(w, "  last error: %s\n", r.LastError)
	}
}

func fmtLatency(d time.Duration, n int64) string {
	switch {
	case n == 0:
		return "-"
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
