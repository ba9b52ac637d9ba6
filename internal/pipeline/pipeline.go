// Package pipeline derives analytics from spans as they are stored: span
// metrics (calls, errors and a latency sketch per service, span name, kind
// and status), the service graph (edges between services, including
// virtual nodes for uninstrumented peers) and exemplars, all aggregated
// per minute of span start time.
//
// Durability: the store (package store) drives a Pipeline through the
// store.Observer interface so that what it derived is durable exactly when
// the spans are. Observe sees every batch once it is in the WAL (and every
// batch replayed from the WAL at startup); when the store seals its head
// for a flush, Seal sets aside what was derived since the previous seal;
// Prepare writes that to a pending file named for the part the head
// becomes, and Commit renames it once the part is in place. At startup,
// Recover commits pending files whose part exists and deletes the others;
// the WAL replay then re-derives everything not yet in a part. So after a
// crash (even kill -9) the series hold each acknowledged span once.
//
// The spans waiting for the other side of a call at a seal are saved with
// the set (wait.go) and restored at recovery, so a pair straddling a flush
// and a crash is still matched once.
package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Config configures a Pipeline. Zero values take the defaults shown.
type Config struct {
	// Dir holds the metrics files (the server uses <data_dir>/metrics).
	// Empty: nothing is persisted.
	Dir string
	// EdgeWait is how long a span waits for the other side of a call in
	// another batch. Default 10s.
	EdgeWait time.Duration
	// MaxPending bounds the spans waiting for their other side; past it
	// new ones are not kept (counted in
	// ariadne_pipeline_edge_spans_dropped_total). Default 200,000.
	MaxPending int
	// Retention drops minutes older than this. Default 7 days.
	Retention time.Duration
	// MaxSeriesPerMinute bounds the span-metrics series and the edges of
	// one minute; past it new series of the minute are counted under the
	// span name OverflowName, new edges under the server OverflowName.
	// Default 20,000.
	MaxSeriesPerMinute int
	// CompactEvery rewrites the base file after this many committed
	// delta files. Default 64.
	CompactEvery int
	// KeptExemplars takes span-metrics exemplars only from the spans given
	// to ObserveKept, not from Observe: with tail sampling, Observe sees
	// every span and ObserveKept the spans of kept traces, so exemplars
	// point to traces that are stored. Service-graph edges then have no
	// exemplars.
	KeptExemplars bool

	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
}

func (c *Config) setDefaults() {
	if c.EdgeWait <= 0 {
		c.EdgeWait = 10 * time.Second
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 200_000
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.MaxSeriesPerMinute <= 0 {
		c.MaxSeriesPerMinute = 20_000
	}
	if c.CompactEvery <= 0 {
		c.CompactEvery = 64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Pipeline derives and keeps the series. Its methods are safe for
// concurrent use. Start runs the expiry of waiting edges; Shutdown stops
// it and is safe without Start.
type Pipeline struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	cur       Data        // derived since the last Seal
	sealed    Data        // set aside for the head being flushed; nil if none
	sealWait  []waitEntry // the spans waiting at Seal
	committed Data        // durable: loaded at Recover plus every Commit; its minutes are never modified (copy on write)
	totals    Data        // one minute (key 0): committed summed over all minutes, never pruned
	match     *matcher
	scratch   batchIndex
	baseSeq   uint64
	deltas    []uint64 // committed delta files newer than the base

	since    atomic.Int64 // see InitCoverage
	spans    atomic.Uint64
	overflow atomic.Uint64
	dropped  atomic.Uint64
	expired  atomic.Uint64

	stop     chan struct{}
	wg       sync.WaitGroup
	started  atomic.Bool
	shutdown sync.Once
}

// OverflowName is the span name of the series that collects a minute's
// spans past Config.MaxSeriesPerMinute.
const OverflowName = "_overflow_"

// New returns a Pipeline. Call Recover before the first Observe when
// Config.Dir holds earlier data (the store does).
func New(cfg Config) (*Pipeline, error) {
	cfg.setDefaults()
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("create metrics dir: %w", err)
		}
	}
	p := &Pipeline{cfg: cfg, log: cfg.Logger, cur: Data{}, committed: Data{}, totals: Data{}, match: newMatcher(cfg.MaxPending), stop: make(chan struct{})}
	p.since.Store(math.MaxInt64)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ariadne_pipeline_spans_total", Help: "Spans the metrics pipeline derived series from."},
				func() float64 { return float64(p.spans.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ariadne_pipeline_series_overflow_total", Help: "Spans or calls counted under the overflow series because a minute had max_series series or edges."},
				func() float64 { return float64(p.overflow.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ariadne_pipeline_edge_spans_dropped_total", Help: "Spans not kept to wait for the other side of a call because max_pending was reached."},
				func() float64 { return float64(p.dropped.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ariadne_pipeline_edges_expired_total", Help: "Calls whose other side never arrived within the edge wait and that name no peer; not counted in any edge."},
				func() float64 { return float64(p.expired.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ariadne_pipeline_edge_spans_waiting", Help: "Spans waiting for the other side of a call."},
				func() float64 { p.mu.Lock(); defer p.mu.Unlock(); return float64(p.match.size) }),
		)
	}
	return p, nil
}

// Start starts expiring waiting edges once a second.
func (p *Pipeline) Start() {
	if !p.started.CompareAndSwap(false, true) {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.Expire()
			}
		}
	}()
}

// Shutdown stops the expiry loop. Safe without Start and more than once.
func (p *Pipeline) Shutdown() {
	p.shutdown.Do(func() { close(p.stop) })
	p.wg.Wait()
}

// Observe derives series from a batch. The spans are read, never kept or
// modified. The store calls it once a batch is in the WAL.
func (p *Pipeline) Observe(spans []model.Span) {
	if len(spans) == 0 {
		return
	}
	now := p.cfg.Now().UnixNano()
	p.mu.Lock()
	p.derive(p.cur, spans, now)
	p.mu.Unlock()
	p.spans.Add(uint64(len(spans)))
}

// ObserveKept adds the spans of traces tail sampling kept as exemplar
// candidates (with Config.KeptExemplars; their counts came from Observe).
func (p *Pipeline) ObserveKept(spans []model.Span) {
	if !p.cfg.KeptExemplars || len(spans) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range spans {
		s := &spans[i]
		p.spanStat(p.cur, s, serviceName(s), false).add(Exemplar{TraceID: s.TraceID, SpanID: s.SpanID, Start: s.Start, Duration: s.Duration(), Error: s.StatusCode == model.StatusError})
	}
}

// Expire ends the wait of spans older than the edge wait (see expire).
func (p *Pipeline) Expire() {
	now := p.cfg.Now().UnixNano()
	p.mu.Lock()
	p.expire(p.cur, now)
	p.mu.Unlock()
}

// ExpireAll ends every wait now, as if the edge wait had passed (tests and
// tools).
func (p *Pipeline) ExpireAll() {
	p.mu.Lock()
	p.expire(p.cur, 1<<62)
	p.mu.Unlock()
}

// Seal sets aside what was derived since the previous Seal, for the head
// the store is about to write as a part. The store calls it under its
// write lock, so no Observe runs concurrently with it. If a previous
// sealed set was never committed (a failed flush that the store retries),
// the new one is added to it.
func (p *Pipeline) Seal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sealed == nil {
		p.sealed = p.cur
	} else {
		p.sealed.Merge(p.cur)
	}
	p.cur = Data{}
	if p.cfg.Dir != "" {
		p.sealWait = p.match.snapshot()
	}
}

func pendingName(seq uint64) string { return fmt.Sprintf("pending-%016x.mdelta", seq) }
func deltaName(seq uint64) string   { return fmt.Sprintf("delta-%016x.mdelta", seq) }
func baseName(seq uint64) string    { return fmt.Sprintf("base-%016x.mbase", seq) }

func parseName(name, prefix, suffix string) (uint64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, prefix), suffix), 16, 64)
	return v, err == nil
}

// Prepare writes the sealed set durably as pending for part seq, replacing
// pending files of earlier attempts. The store calls it before it writes
// the part.
func (p *Pipeline) Prepare(seq uint64) error {
	if p.cfg.Dir == "" {
		return nil
	}
	p.mu.Lock()
	sealed, wait := p.sealed, p.sealWait
	p.mu.Unlock()
	p.removeFiles("pending-", ".mdelta", func(uint64) bool { return true })
	if err := writeFileAtomic(filepath.Join(p.cfg.Dir, waitName(seq)), encodeWait(wait)); err != nil {
		return fmt.Errorf("write waiting spans: %w", err)
	}
	if sealed == nil {
		sealed = Data{}
	}
	b := EncodeData(sealed, minMinute, maxMinute)
	if err := writeFileAtomic(filepath.Join(p.cfg.Dir, pendingName(seq)), b); err != nil {
		return fmt.Errorf("write metrics delta: %w", err)
	}
	return nil
}

const (
	minMinute = -1 << 62
	maxMinute = 1 << 62
)

// Commit makes the prepared set for part seq count: the store calls it
// once the part is in place. The sealed set joins the committed series
// even if the rename fails (the part exists, so Recover commits the
// pending file on the next start).
func (p *Pipeline) Commit(seq uint64) error {
	var err error
	if p.cfg.Dir != "" {
		err = os.Rename(filepath.Join(p.cfg.Dir, pendingName(seq)), filepath.Join(p.cfg.Dir, deltaName(seq)))
		if err == nil {
			err = syncDir(p.cfg.Dir)
		}
	}
	p.mu.Lock()
	if p.sealed != nil {
		for m, x := range p.sealed {
			// Replace rather than modify the minute: View reads committed
			// minutes without the lock.
			nm := Data{}
			if old := p.committed[m]; old != nil {
				nm[m] = old
				nm = cloneData(nm)
			}
			nm.Merge(Data{m: x})
			p.committed[m] = nm[m]
		}
		addTotals(p.totals, p.sealed)
		p.sealed = nil
	}
	p.pruneLocked()
	if err == nil && p.cfg.Dir != "" {
		p.deltas = append(p.deltas, seq)
	}
	p.sealWait = nil
	compact := len(p.deltas) >= p.cfg.CompactEvery
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("commit metrics delta: %w", err)
	}
	p.removeFiles("wait-", ".mwait", func(s uint64) bool { return s != seq })
	if compact {
		return p.Compact()
	}
	return nil
}

// Compact writes every committed minute to a new base file and removes the
// delta files and older bases it replaces. The store's flush (one at a
// time) calls it through Commit.
func (p *Pipeline) Compact() error {
	if p.cfg.Dir == "" {
		return nil
	}
	p.mu.Lock()
	if len(p.deltas) == 0 {
		p.mu.Unlock()
		return nil
	}
	seq := slices.Max(p.deltas)
	b := EncodeData(p.committed, minMinute, maxMinute)
	p.mu.Unlock()
	if err := writeFileAtomic(filepath.Join(p.cfg.Dir, baseName(seq)), b); err != nil {
		return fmt.Errorf("write metrics base: %w", err)
	}
	p.mu.Lock()
	p.baseSeq = seq
	p.deltas = slices.DeleteFunc(p.deltas, func(s uint64) bool { return s <= seq })
	p.mu.Unlock()
	p.removeFiles("delta-", ".mdelta", func(s uint64) bool { return s <= seq })
	p.removeFiles("base-", ".mbase", func(s uint64) bool { return s < seq })
	return nil
}

func (p *Pipeline) removeFiles(prefix, suffix string, match func(uint64) bool) {
	ents, _ := os.ReadDir(p.cfg.Dir)
	for _, e := range ents {
		if s, ok := parseName(e.Name(), prefix, suffix); ok && match(s) {
			if err := os.Remove(filepath.Join(p.cfg.Dir, e.Name())); err != nil {
				p.log.Warn("remove metrics file", "file", e.Name(), "err", err)
			}
		}
	}
}

// pruneLocked drops committed minutes older than the retention.
func (p *Pipeline) pruneLocked() {
	cut := p.cfg.Now().Add(-p.cfg.Retention).Unix() / 60
	for m := range p.committed {
		if m < cut {
			delete(p.committed, m)
		}
	}
}

// Recover loads the metrics files: the newest base, the delta files newer
// than it, and pending files whose part exists (committed reports that);
// other pending files are deleted. The store calls it at Open, before it
// replays the WAL into Observe. A damaged file is moved aside with a
// ".corrupt" suffix and logged, so one bad file does not stop the server.
func (p *Pipeline) Recover(committed func(seq uint64) bool) error {
	if p.cfg.Dir == "" {
		return nil
	}
	ents, err := os.ReadDir(p.cfg.Dir)
	if err != nil {
		return err
	}
	var bases, deltas, waits []uint64
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(p.cfg.Dir, name))
			continue
		}
		if s, ok := parseName(name, "pending-", ".mdelta"); ok {
			if committed != nil && committed(s) {
				if err := os.Rename(filepath.Join(p.cfg.Dir, name), filepath.Join(p.cfg.Dir, deltaName(s))); err != nil {
					return fmt.Errorf("commit metrics delta: %w", err)
				}
				deltas = append(deltas, s)
			} else if err := os.Remove(filepath.Join(p.cfg.Dir, name)); err != nil {
				return fmt.Errorf("drop uncommitted metrics delta: %w", err)
			}
			continue
		}
		if s, ok := parseName(name, "delta-", ".mdelta"); ok {
			deltas = append(deltas, s)
		}
		if s, ok := parseName(name, "base-", ".mbase"); ok {
			bases = append(bases, s)
		}
		if s, ok := parseName(name, "wait-", ".mwait"); ok {
			waits = append(waits, s)
		}
	}
	all := Data{}
	var base uint64
	haveBase := false
	slices.Sort(bases)
	for i := len(bases) - 1; i >= 0; i-- {
		d, err := p.load(baseName(bases[i]))
		if err == nil {
			all.Merge(d)
			base, haveBase = bases[i], true
			break
		}
	}
	slices.Sort(deltas)
	var kept []uint64
	for _, s := range deltas {
		if haveBase && s <= base {
			_ = os.Remove(filepath.Join(p.cfg.Dir, deltaName(s)))
			continue
		}
		d, err := p.load(deltaName(s))
		if err != nil {
			continue
		}
		all.Merge(d)
		kept = append(kept, s)
	}
	p.mu.Lock()
	p.committed, p.baseSeq, p.deltas = all, base, kept
	p.pruneLocked()
	p.totals = Data{}
	addTotals(p.totals, p.committed)
	p.mu.Unlock()
	// The waiting spans of the newest committed part; others are stale.
	newest, any := base, haveBase
	for _, s := range kept {
		newest, any = max(newest, s), true
	}
	for _, s := range waits {
		if any && s == newest {
			p.loadWait(s)
		} else {
			_ = os.Remove(filepath.Join(p.cfg.Dir, waitName(s)))
		}
	}
	p.mu.Lock()
	p.mu.Unlock()
	p.log.Info("metrics recovered", "minutes", len(all), "base", base, "deltas", len(kept))
	return nil
}

func (p *Pipeline) load(name string) (Data, error) {
	path := filepath.Join(p.cfg.Dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		var d Data
		if d, err = DecodeData(b); err == nil {
			return d, nil
		}
	}
	p.log.Error("metrics file unreadable; moved aside", "file", path, "err", err)
	if rerr := os.Rename(path, path+".corrupt"); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return nil, err
}
