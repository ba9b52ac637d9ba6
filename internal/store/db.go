package store

import (
	"bytes"
	"cmp"
	"context"
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
	"github.com/ariadne-tracing/ariadne/internal/query"
	"github.com/ariadne-tracing/ariadne/internal/sampling/tail"
	"github.com/ariadne-tracing/ariadne/internal/store/head"
	"github.com/ariadne-tracing/ariadne/internal/store/part"
	"github.com/ariadne-tracing/ariadne/internal/store/wal"
)

// DefaultMaxPartSpans is the default Options.MaxPartSpans.
const DefaultMaxPartSpans = 4_000_000

// Options configure a DB. Zero values take the defaults shown.
type Options struct {
	Dir          string
	Sync         wal.SyncPolicy // default wal.SyncAlways
	SyncInterval time.Duration  // for wal.SyncInterval; default 100ms
	// WALMaxPendingBytes bounds bytes queued for the WAL writer; past it
	// Append returns ErrOverloaded. Default 64 MiB.
	WALMaxPendingBytes int64
	// HeadMaxSpans and HeadMaxAge decide when the head is written to a
	// part. Defaults 131,072 spans (one section) and 15s.
	HeadMaxSpans int
	HeadMaxAge   time.Duration
	// MaxHeadBytes bounds the WAL-encoded bytes of spans held in memory
	// (the head plus heads being written). Past it Append returns
	// ErrOverloaded. Default 256 MiB.
	MaxHeadBytes int64
	// PartitionDuration is the width of a time partition (by arrival
	// time). Default 1h.
	PartitionDuration time.Duration
	// Retention drops partitions whose newest data arrived longer ago than
	// this. Default 7 days; negative disables.
	Retention time.Duration
	// MaxDiskBytes drops the oldest partitions while parts and WAL use more
	// than this. 0 = unlimited.
	MaxDiskBytes int64
	// MergeFanIn is how many parts of one level (above level 0) are
	// merged into one part of the next level. Default 10.
	MergeFanIn int
	// L0FanIn is how many level-0 parts (written heads) are merged into
	// one level-1 part. Default 20: with 131,072-span heads, level-1 parts
	// hold ~2.6M spans; MaxPartSpans then stops most merges, so a span is
	// rewritten about once (at most three times).
	L0FanIn int
	// MaxPartSpans caps the spans of a part made by a merge (default
	// 4,000,000; a merge's inputs are chosen so that their sum fits). It
	// bounds the work of one merge.
	MaxPartSpans int64
	// SectionSpans is the size of the sections of parts (0 = the part
	// package default, 131,072 spans). A section is sorted by trace ID, so
	// a newest-first search can only stop at section boundaries: smaller
	// sections let it stop sooner, at a trace-filter check per section on
	// every trace lookup.
	SectionSpans int
	// GranuleSpans is the number of spans per granule in parts; 0 = the
	// part package default.
	GranuleSpans int
	// CompressFlushes compresses the parts written from the head (level
	// 0). By default they are stored raw: merges rewrite them within
	// minutes, and compressing them first cost about 6% of ingest CPU.
	// A partition that stops receiving data with a single level-0 part
	// has it rewritten alone (compressed).
	CompressFlushes bool

	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
	// Observer, if set, derives data from stored spans (see Observer).
	Observer Observer
	// Tail, if set, is tail sampling: appended spans are held by it until
	// it decides their trace, and only kept traces reach the head (see
	// tail.go). The Observer still sees every span.
	Tail *tail.Sampler
}

func (o *Options) setDefaults() {
	if o.SyncInterval == 0 {
		o.SyncInterval = 100 * time.Millisecond
	}
	if o.WALMaxPendingBytes == 0 {
		o.WALMaxPendingBytes = 64 << 20
	}
	if o.HeadMaxSpans == 0 {
		o.HeadMaxSpans = DefaultHeadMaxSpans
	}
	if o.HeadMaxAge == 0 {
		o.HeadMaxAge = 15 * time.Second
	}
	if o.MaxHeadBytes == 0 {
		o.MaxHeadBytes = 256 << 20
	}
	if o.PartitionDuration == 0 {
		o.PartitionDuration = time.Hour
	}
	if o.Retention == 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.MaxPartSpans <= 0 {
		o.MaxPartSpans = DefaultMaxPartSpans
	}
	if o.MergeFanIn < 2 {
		o.MergeFanIn = 10
	}
	if o.L0FanIn < 2 {
		o.L0FanIn = 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DefaultHeadMaxSpans is the default Options.HeadMaxSpans: a head is
// written as one section of the part package's default size. (A bigger head
// holds more memory; a smaller one makes more parts to merge.)
const DefaultHeadMaxSpans = 131_072

const (
	walDir        = "wal"
	partsDir      = "parts"
	partitionFmt  = "20060102T1504Z"
	maxMergeLevel = 3
)

// DB is the embedded trace store. Open it, Start its background work, and
// Shutdown to flush and close.
type DB struct {
	lock *os.File
	opts Options
	log  *slog.Logger
	wal  *wal.WAL
	m    *metrics

	// mu guards the fields below. Append holds it for reading while it
	// writes to the WAL and the head, so that a flush (write lock) never
	// cuts the WAL between the two.
	mu       sync.RWMutex
	head     *head.Head
	flushing []*head.Head
	parts    []*partRef
	nextSeq  uint64
	closed   bool
	// pendingSeg is the WAL segment boundary of the head in flushing.
	pendingSeg int
	// headSrcSeg is the oldest WAL segment that spans appended to the
	// current head by tail sampling decisions came from (math.MaxInt if
	// none): the WAL is kept from there until that head is a part.
	headSrcSeg int
	// sinceCut counts WAL records appended since the last cut; with tail
	// sampling the head can stay empty while the WAL grows.
	sinceCut atomic.Int64
	tailMu   sync.Mutex // guards headSrcSeg under the read lock

	flushReq  chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	started   atomic.Bool
	shutdown  sync.Once
	bufPool   sync.Pool
	headCat   headCatalogCache
	mergeMu   sync.Mutex // one merge or retention pass at a time
	flushMu   sync.Mutex // one flush at a time
	lastError atomic.Value
}

type partRef struct {
	r         *part.Reader
	path      string
	level     int
	seq       uint64
	partition time.Time
	refs      atomic.Int32 // 1 for the DB's own reference, +1 per reader
	obsolete  atomic.Bool
}

func (p *partRef) acquire() { p.refs.Add(1) }

func (p *partRef) release(log *slog.Logger) {
	if p.refs.Add(-1) != 0 {
		return
	}
	if err := p.r.Close(); err != nil {
		log.Warn("close part", "path", p.path, "err", err)
	}
	if p.obsolete.Load() {
		if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("remove part", "path", p.path, "err", err)
		}
		// Remove the partition directory once it is empty.
		_ = os.Remove(filepath.Dir(p.path))
	}
}

// Open opens or creates the store in opts.Dir and recovers it: it opens
// every part, drops WAL segments that parts already cover, and replays the
// rest of the WAL (repairing a torn tail) into the head.
func Open(opts Options) (*DB, error) {
	opts.setDefaults()
	if opts.Dir == "" {
		return nil, errors.New("store: data directory not set")
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, partsDir), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	db := &DB{
		lock:       lock,
		opts:       opts,
		log:        opts.Logger,
		head:       head.New(opts.Now()),
		headSrcSeg: math.MaxInt,
		flushReq:   make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	db.m = newMetrics(opts.Registerer, db)
	fail := func(err error) (*DB, error) {
		db.closeParts()
		if db.wal != nil {
			db.wal.Close()
		}
		lock.Close()
		return nil, err
	}
	maxSeg, err := db.loadParts()
	if err != nil {
		return fail(err)
	}
	if opts.Observer != nil {
		if err := opts.Observer.Recover(db.partCommitted); err != nil {
			return fail(fmt.Errorf("recover observer: %w", err))
		}
	}
	w, err := wal.Open(wal.Options{
		Dir:             filepath.Join(opts.Dir, walDir),
		Sync:            opts.Sync,
		SyncInterval:    opts.SyncInterval,
		MaxPendingBytes: opts.WALMaxPendingBytes,
		Metrics:         wal.NewMetrics(opts.Registerer),
		Logger:          opts.Logger,
	})
	if err != nil {
		return fail(fmt.Errorf("open wal: %w", err))
	}
	db.wal = w
	start := time.Now()
	replayed, skipped := 0, 0
	stored := map[model.TraceID]bool{}
	stats, err := w.ReplayPos(func(pos wal.Pos, rec []byte) error {
		spans, err := model.DecodeBatch(rec)
		if err != nil {
			// The record's checksum was good, so this is a bug or a
			// format mismatch, not a torn write: refuse to start rather
			// than silently drop data.
			return fmt.Errorf("decode wal record: %w", err)
		}
		if pos.Segment < maxSeg {
			// Written before the last part's cut: the Observer has it,
			// and the part has every span of a trace decided before that
			// cut. Only spans that tail sampling still held come back.
			n := len(spans)
			spans = slices.DeleteFunc(spans, func(s model.Span) bool {
				in, ok := stored[s.TraceID]
				if !ok {
					in = db.storedAfter(s.TraceID, pos.Segment)
					stored[s.TraceID] = in
				}
				return in
			})
			skipped += n - len(spans)
		} else if opts.Observer != nil {
			opts.Observer.Observe(spans)
		}
		if opts.Tail != nil && len(spans) > 0 {
			spans = opts.Tail.Offer(spans, pos)
			db.observeKept(spans)
		}
		db.head.Append(spans, int64(len(rec)))
		replayed += len(spans)
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("replay wal: %w", err))
	}
	db.log.Info("store opened", "dir", opts.Dir, "parts", len(db.parts), "wal_spans_replayed", replayed,
		"wal_spans_already_stored", skipped, "wal_bytes_dropped", stats.DroppedBytes,
		"took", time.Since(start).Round(time.Millisecond))
	return db, nil
}

// storedAfter reports whether a part cut after WAL segment seg holds spans
// of the trace.
func (db *DB) storedAfter(id model.TraceID, seg int) bool {
	for _, p := range db.parts {
		if p.r.Meta().WALSegment <= seg || !p.r.MayContain(id) {
			continue
		}
		if spans, err := p.r.TraceCheap(id); err == nil && len(spans) > 0 {
			return true
		}
	}
	return false
}

// loadParts opens every part under parts/ and returns the highest WAL
// segment they cover. Leftover temporary files from an interrupted write or
// merge are removed; a part that fails to open is moved aside with a
// ".corrupt" suffix and logged, so that one bad file does not stop the
// server.
func (db *DB) loadParts() (int, error) {
	root := filepath.Join(db.opts.Dir, partsDir)
	dirs, err := os.ReadDir(root)
	if err != nil {
		return 0, err
	}
	maxSeg := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		pstart, err := time.Parse(partitionFmt, d.Name())
		if err != nil {
			db.log.Warn("ignoring unknown directory in parts", "dir", d.Name())
			continue
		}
		pdir := filepath.Join(root, d.Name())
		files, err := os.ReadDir(pdir)
		if err != nil {
			return 0, err
		}
		for _, f := range files {
			name := f.Name()
			path := filepath.Join(pdir, name)
			if strings.HasSuffix(name, ".tmp") {
				os.Remove(path)
				continue
			}
			level, seq, ok := parsePartName(name)
			if !ok {
				continue
			}
			r, err := part.Open(path)
			if errors.Is(err, part.ErrNewerVersion) {
				// Written by a newer build: setting it aside would hide its
				// spans (their WAL is gone). Refuse to start instead.
				db.closeParts()
				return 0, fmt.Errorf("%w (run a newer ariadne on this data directory)", err)
			}
			if err != nil {
				db.log.Error("part unreadable, moved aside", "path", path, "err", err)
				_ = os.Rename(path, path+".corrupt")
				continue
			}
			p := &partRef{r: r, path: path, level: level, seq: seq, partition: pstart}
			p.refs.Store(1)
			db.parts = append(db.parts, p)
			db.nextSeq = max(db.nextSeq, seq+1)
			maxSeg = max(maxSeg, r.Meta().WALSegment)
		}
	}
	// A merge that finished writing its output but crashed before deleting
	// its inputs leaves parts whose spans are also in a newer part. Merged
	// parts record the sequence numbers they replace.
	replaced := map[uint64]bool{}
	for _, p := range db.parts {
		for _, s := range p.r.Meta().Replaces {
			replaced[s] = true
		}
	}
	db.parts = slices.DeleteFunc(db.parts, func(p *partRef) bool {
		if replaced[p.seq] {
			p.obsolete.Store(true)
			p.release(db.log)
			return true
		}
		return false
	})
	return maxSeg, nil
}

func partName(level int, seq uint64) string { return fmt.Sprintf("L%d-%016x.part", level, seq) }

func parsePartName(name string) (level int, seq uint64, ok bool) {
	var l int
	var s uint64
	if !strings.HasSuffix(name, ".part") || len(name) != len("L0-0000000000000000.part") {
		return 0, 0, false
	}
	l, err := strconv.Atoi(name[1:2])
	if err != nil || name[0] != 'L' {
		return 0, 0, false
	}
	s, err = strconv.ParseUint(name[3:19], 16, 64)
	if err != nil {
		return 0, 0, false
	}
	return l, s, true
}

// Start starts background flushing, merging and retention.
func (db *DB) Start(ctx context.Context) error {
	if !db.started.CompareAndSwap(false, true) {
		return nil
	}
	db.wg.Add(2)
	go db.flushLoop()
	go db.maintenanceLoop()
	if db.opts.Tail != nil {
		db.wg.Add(1)
		go db.decideLoop()
	}
	return nil
}

// Shutdown stops background work, writes the head to a part, and closes
// the WAL and all parts. It is safe to call without Start and more than
// once.
func (db *DB) Shutdown(ctx context.Context) error {
	var err error
	db.shutdown.Do(func() {
		close(db.stop)
		db.wg.Wait()
		if ferr := db.flush(); ferr != nil {
			err = fmt.Errorf("flush head: %w", ferr)
		}
		db.mu.Lock()
		db.closed = true
		db.mu.Unlock()
		if werr := db.wal.Close(); werr != nil && err == nil {
			err = werr
		}
		db.closeParts()
		db.lock.Close()
	})
	return err
}

func (db *DB) closeParts() {
	db.mu.Lock()
	parts := db.parts
	db.parts = nil
	db.mu.Unlock()
	for _, p := range parts {
		p.release(db.log)
	}
}

// Append stores a batch. It returns nil only after the batch is in the WAL
// (fsynced under the default policy); the spans are searchable from then
// on. It takes ownership of spans. ErrOverloaded means nothing was stored.
func (db *DB) Append(ctx context.Context, spans []model.Span) error {
	if len(spans) == 0 {
		return nil
	}
	bp, _ := db.bufPool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	rec := model.AppendBatch((*bp)[:0], spans)
	defer func() {
		if cap(rec) <= 16<<20 {
			*bp = rec[:0]
			db.bufPool.Put(bp)
		}
	}()

	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return ErrClosed
	}
	if db.memBytesLocked() > db.opts.MaxHeadBytes {
		db.mu.RUnlock()
		db.m.overloaded.WithLabelValues("head_memory").Inc()
		db.requestFlush()
		return ErrOverloaded
	}
	if db.opts.Tail != nil && db.opts.Tail.Overloaded() {
		db.mu.RUnlock()
		db.m.overloaded.WithLabelValues("tail_sampling_memory").Inc()
		return ErrOverloaded
	}
	pos, err := db.wal.AppendPos(ctx, rec)
	if err != nil {
		db.mu.RUnlock()
		if errors.Is(err, wal.ErrFull) {
			db.m.overloaded.WithLabelValues("wal_queue").Inc()
			return ErrOverloaded
		}
		if errors.Is(err, wal.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("wal append: %w", err)
	}
	db.sinceCut.Add(1)
	h := db.head
	if db.opts.Observer != nil {
		db.opts.Observer.Observe(spans)
	}
	size := int64(len(rec))
	if db.opts.Tail != nil {
		n := len(spans)
		spans = db.opts.Tail.Offer(spans, pos)
		size = size * int64(len(spans)) / int64(n)
		db.observeKept(spans) // late spans of kept traces
	}
	h.Append(spans, size)
	db.mu.RUnlock()
	db.m.spansStored.Add(float64(len(spans)))
	if h.Len() >= db.opts.HeadMaxSpans {
		db.requestFlush()
	}
	return nil
}

func (db *DB) memBytesLocked() int64 {
	n := db.head.Bytes()
	for _, h := range db.flushing {
		n += h.Bytes()
	}
	return n
}

func (db *DB) requestFlush() {
	select {
	case db.flushReq <- struct{}{}:
	default:
	}
}

func (db *DB) flushLoop() {
	defer db.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			db.mu.RLock()
			h := db.head
			db.mu.RUnlock()
			n := h.Len()
			if n == 0 && db.opts.Tail != nil && db.sinceCut.Load() > 0 {
				// Tail sampling dropped all since the last cut: cut anyway
				// (an empty part) so that the WAL and the Observer's
				// derived data move on.
				n = 1
			}
			if n == 0 || (n < db.opts.HeadMaxSpans && db.opts.Now().Sub(h.Created()) < db.opts.HeadMaxAge) {
				continue
			}
		case <-db.flushReq:
		}
		if err := db.flush(); err != nil {
			db.log.Error("flush head to part failed; will retry", "err", err)
			db.lastError.Store(err.Error())
			select {
			case <-db.stop:
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// flush seals the current head, writes it to a part, and drops the WAL
// segments it covers.
func (db *DB) flush() error {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	db.mu.Lock()
	// A previous failed flush leaves its head in flushing: retry it first.
	var h *head.Head
	var seg int
	if len(db.flushing) == 0 {
		if db.head.Len() == 0 && (db.opts.Tail == nil || db.sinceCut.Load() == 0) {
			db.mu.Unlock()
			return nil
		}
		var err error
		seg, err = db.wal.Cut()
		if err != nil {
			db.mu.Unlock()
			return fmt.Errorf("cut wal: %w", err)
		}
		h = db.head
		db.head = head.New(db.opts.Now())
		db.headSrcSeg = math.MaxInt
		db.sinceCut.Store(0)
		db.flushing = append(db.flushing, h)
		db.pendingSeg = seg
		if db.opts.Observer != nil {
			db.opts.Observer.Seal()
		}
	} else {
		h = db.flushing[0]
		seg = db.pendingSeg
	}
	seq := db.nextSeq
	db.nextSeq++
	db.mu.Unlock()

	start := time.Now()
	pstart := db.opts.Now().UTC().Truncate(db.opts.PartitionDuration)
	dir := filepath.Join(db.opts.Dir, partsDir, pstart.Format(partitionFmt))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, partName(0, seq))
	batches := h.Batches()
	if db.opts.Observer != nil {
		if err := db.opts.Observer.Prepare(seq); err != nil {
			return err
		}
	}
	opts := db.partOptions(seg, nil)
	opts.Uncompressed = !db.opts.CompressFlushes
	meta, err := part.WriteBatches(path, batches, opts)
	if err != nil {
		return fmt.Errorf("write part %s: %w", path, err)
	}
	r, err := part.Open(path)
	if err != nil {
		return fmt.Errorf("open new part %s: %w", path, err)
	}
	p := &partRef{r: r, path: path, level: 0, seq: seq, partition: pstart}
	p.refs.Store(1)
	db.mu.Lock()
	db.parts = append(db.parts, p)
	db.flushing = slices.DeleteFunc(db.flushing, func(x *head.Head) bool { return x == h })
	db.mu.Unlock()
	if db.opts.Observer != nil {
		if err := db.opts.Observer.Commit(seq); err != nil {
			db.log.Warn("commit derived metrics", "part", path, "err", err)
		}
	}
	if err := db.wal.TruncateBefore(db.truncateBound(seg)); err != nil {
		db.log.Warn("truncate wal", "err", err)
	}
	db.m.flushes.Inc()
	db.m.flushSeconds.Observe(time.Since(start).Seconds())
	db.log.Debug("head flushed", "part", path, "spans", meta.SpanCount, "took", time.Since(start))
	return nil
}

// truncateBound is the WAL segment before which the log can go once the
// head cut at seg is a part: seg, or older while tail sampling still holds
// spans in older segments or put spans from them into the current head.
func (db *DB) truncateBound(seg int) int {
	if db.opts.Tail == nil {
		return seg
	}
	// Under the write lock: a decision moves spans from the sampler's
	// records to the head (headSrcSeg) under the read lock.
	db.mu.Lock()
	defer db.mu.Unlock()
	return min(seg, db.opts.Tail.MinSegment(), db.headSrcSeg)
}

func (db *DB) partOptions(seg int, replaces []uint64) part.WriteOptions {
	return part.WriteOptions{GranuleSpans: db.opts.GranuleSpans, SectionSpans: db.opts.SectionSpans, WALSegment: seg, Replaces: replaces}
}

// Trace returns every stored span of the trace, sorted by start time, with
// exact duplicates removed; nil if the trace is unknown.
func (db *DB) Trace(ctx context.Context, id model.TraceID) ([]model.Span, error) {
	return db.trace(id, true)
}

// TraceCheap is Trace with only the cheap span fields set (IDs, name, kind,
// status, times, resource, scope): enough for summaries and trace-level
// conditions, at a fraction of the cost. Spans of the head come complete.
// Duplicates are dropped by those fields only.
func (db *DB) TraceCheap(ctx context.Context, id model.TraceID) ([]model.Span, error) {
	return db.trace(id, false)
}

func (db *DB) trace(id model.TraceID, heavy bool) ([]model.Span, error) {
	blocksHeads, parts := db.snapshot()
	defer db.releaseParts(parts)
	var out []model.Span
	for _, h := range blocksHeads {
		n := len(out)
		out = append(out, h.Trace(id)...)
		if !heavy {
			for i := n; i < len(out); i++ {
				out[i] = out[i].Cheap() // as parts answer, so copies dedupe
			}
		}
	}
	for _, p := range parts {
		if !p.r.MayContain(id) {
			continue
		}
		read := p.r.Trace
		if !heavy {
			read = p.r.TraceCheap
		}
		spans, err := read(id)
		if err != nil {
			return nil, fmt.Errorf("read part %s: %w", p.path, err)
		}
		out = append(out, spans...)
	}
	return dedupe(out), nil
}

// dedupe sorts spans by start time and span ID and drops exact duplicates.
func dedupe(spans []model.Span) []model.Span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortStableFunc(spans, func(a, b model.Span) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		return bytes.Compare(a.SpanID[:], b.SpanID[:])
	})
	var ab, bb []byte
	out := spans[:1]
	for i := 1; i < len(spans); i++ {
		s := &spans[i]
		dup := false
		for j := len(out) - 1; j >= 0 && out[j].Start == s.Start; j-- {
			if out[j].SpanID != s.SpanID {
				// Sorted by (start, span ID): copies of s are the last
				// spans of out, so an earlier one cannot be.
				break
			}
			ab = model.AppendSpanBody(model.AppendScope(model.AppendResource(ab[:0], out[j].Resource), out[j].Scope), &out[j])
			bb = model.AppendSpanBody(model.AppendScope(model.AppendResource(bb[:0], s.Resource), s.Scope), s)
			if bytes.Equal(ab, bb) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, *s)
		}
	}
	return out
}

// snapshot returns the heads and the live parts, with a reference taken on
// each part; release them with releaseParts.
func (db *DB) snapshot() ([]*head.Head, []*partRef) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	heads := make([]*head.Head, 0, 1+len(db.flushing))
	heads = append(heads, db.head)
	heads = append(heads, db.flushing...)
	parts := slices.Clone(db.parts)
	for _, p := range parts {
		p.acquire()
	}
	return heads, parts
}

func (db *DB) releaseParts(parts []*partRef) {
	for _, p := range parts {
		p.release(db.log)
	}
}

// Blocks implements query.Storage.
func (db *DB) Blocks(ctx context.Context) ([]query.Block, func(), error) {
	heads, parts := db.snapshot()
	blocks := make([]query.Block, 0, len(heads)+len(parts))
	for _, h := range heads {
		if h.Len() > 0 {
			blocks = append(blocks, h)
		}
	}
	for _, p := range parts {
		// Each section of a part is a block of its own: sections cover
		// successive times, so a newest-first search stops after the
		// newest ones.
		for i := range p.r.Sections() {
			blocks = append(blocks, partBlock{p.r, i})
		}
	}
	return blocks, func() { db.releaseParts(parts) }, nil
}

// partBlock is one section of a part.
type partBlock struct {
	r   *part.Reader
	sec int
}

func (b partBlock) Bounds() (int64, int64) { return b.r.SectionBounds(b.sec) }

func (b partBlock) Scan(ctx context.Context, f *query.Filter, pre, fn func(*model.Span) bool) error {
	pf := part.Filter{
		MinStart:    f.MinStart,
		MaxStart:    f.MaxStart,
		MinDuration: f.MinDuration,
		MaxDuration: f.MaxDuration,
		Services:    f.Services,
		Tokens:      f.Tokens,
		Complete:    f.Complete,
	}
	return b.r.ScanSection(ctx, b.sec, &pf, pre, fn)
}

// Flush writes the head to a part now. Tests and tools use it; the server
// flushes on its own by size and age.
func (db *DB) Flush() error { return db.flush() }

// Compact runs merges until none is due. Tests and tools use it.
func (db *DB) Compact() error {
	for {
		merged, err := db.mergeOnce(context.Background())
		if err != nil || !merged {
			return err
		}
	}
}
