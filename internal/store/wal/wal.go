// Package wal is Ariadne's write-ahead log: an append-only sequence of
// numbered segment files in one directory, written with group commit.
//
// Many goroutines call Append concurrently. Append copies the record into a
// shared batch buffer and waits; a single writer goroutine takes the whole
// batch, writes it with one write(2), fsyncs once (SyncAlways) and wakes every
// waiter of that batch. While it writes and syncs, the next batch fills up.
//
// The on-disk format is specified in docs/format.md ("Write-ahead log").
package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// SyncPolicy says when the WAL fsyncs and so what an acknowledged Append
// survives.
type SyncPolicy int

const (
	// SyncAlways: Append returns nil only after the record is written and
	// fsynced; the acknowledged record survives a power loss. Concurrent
	// appends share one write and one fsync (group commit). The default.
	SyncAlways SyncPolicy = iota
	// SyncInterval: Append returns nil after the record is written with
	// write(2); segments are fsynced every Options.SyncInterval and when
	// closed. An acknowledged record survives a crash of the process but up
	// to SyncInterval of them can be lost on power loss or a kernel crash.
	SyncInterval
	// SyncNever: like SyncInterval, but fsync happens only when a segment is
	// closed (roll, Cut, Close).
	SyncNever
)

func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// Defaults for zero Options fields.
const (
	DefaultSegmentSize     = 128 << 20
	DefaultSyncInterval    = 100 * time.Millisecond
	DefaultMaxPendingBytes = 64 << 20
	DefaultMaxRecordSize   = 16 << 20
)

// maxRetainedBuf bounds the capacity of a batch buffer kept for reuse, so a
// burst does not pin MaxPendingBytes of memory for good.
const maxRetainedBuf = 8 << 20

// Options configure a WAL. Zero fields take the defaults above.
type Options struct {
	Dir string // created if missing; the WAL owns every "*.wal" file in it

	// SegmentSize is the size at which the WAL rolls to a new segment file:
	// a record that would take the active segment past SegmentSize goes to a
	// new segment, unless the active segment holds no record yet. So a
	// segment exceeds SegmentSize only when a single record does.
	SegmentSize int64

	Sync         SyncPolicy
	SyncInterval time.Duration // for SyncInterval

	// MaxPendingBytes bounds the framed bytes accepted by Append but not yet
	// written (and, with SyncAlways, fsynced). Past it Append returns ErrFull.
	// Memory used by the WAL's buffers is about twice this at most.
	MaxPendingBytes int64

	// MaxRecordSize bounds the length of one record; larger records are
	// refused with ErrTooLarge. Default DefaultMaxRecordSize, lowered to fit
	// MaxPendingBytes; it must not exceed MaxPendingBytes-8 nor 1 GiB.
	MaxRecordSize int64

	Metrics *Metrics     // optional
	Logger  *slog.Logger // optional; default slog.Default()

	// testHookBeforeWrite, if set, runs in the writer goroutine before each
	// batch is written. Tests use it to hold the writer.
	testHookBeforeWrite func()
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("wal: Options.Dir is empty")
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.Sync < SyncAlways || o.Sync > SyncNever {
		return o, fmt.Errorf("wal: unknown sync policy %d", int(o.Sync))
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if o.MaxPendingBytes <= recordHeaderLen {
		return o, fmt.Errorf("wal: MaxPendingBytes %d cannot hold a record", o.MaxPendingBytes)
	}
	limit := min(o.MaxPendingBytes-recordHeaderLen, maxRecordLen)
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = min(DefaultMaxRecordSize, limit)
	}
	if o.MaxRecordSize > limit {
		return o, fmt.Errorf("wal: MaxRecordSize %d over its limit %d (MaxPendingBytes-8, at most 1 GiB)", o.MaxRecordSize, limit)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

var (
	// ErrFull is returned by Append when more than Options.MaxPendingBytes
	// would be waiting to be written. Nothing was written; retry later.
	ErrFull = errors.New("wal: too many bytes pending, retry later")
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("wal: closed")
	// ErrTooLarge is returned (wrapped) by Append for a record over
	// Options.MaxRecordSize. Retrying will not help.
	ErrTooLarge = errors.New("wal: record too large")
	// ErrEmptyRecord is returned by Append for a zero-length record, which
	// the format does not allow.
	ErrEmptyRecord = errors.New("wal: empty record")
	// ErrUnsupportedVersion is returned (wrapped) by Replay for a segment
	// written in a format version this build cannot read. Nothing is
	// repaired or deleted.
	ErrUnsupportedVersion = errors.New("unsupported wal segment version")
)

// batch is a group of records written and synced together, and the
// appenders waiting for it.
type batch struct {
	done    chan struct{} // closed when the batch is written (and synced)
	err     error         // set before done is closed
	records int
	// chunks say where the batch's bytes went: each write(2) of it, in
	// order. Set before done is closed.
	chunks []chunk
}

// chunk is one contiguous write of a batch: bytes from bufOff on went to
// segment seg at offset fileOff.
type chunk struct {
	bufOff  int
	seg     int
	fileOff int64
}

// Pos is where a record is in the log: its segment and the offset of its
// header in the segment file.
type Pos struct {
	Segment int
	Offset  int64
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

type cutResult struct {
	seg int
	err error
}

// WAL is a write-ahead log. Its methods are safe for concurrent use.
type WAL struct {
	opts Options
	log  *slog.Logger
	m    *Metrics

	// Appender side.
	mu      sync.Mutex
	buf     []byte // framed records of the batch being filled
	spare   []byte // reusable buffer for the next batch
	cur     *batch // waiters for buf
	pending int64  // framed bytes accepted and not yet written/synced
	closed  bool
	failed  error // sticky: set when the WAL cannot go on

	wake    chan struct{}       // cap 1: buf went from empty to non-empty
	cutc    chan chan cutResult // Cut requests
	closing chan struct{}       // closed by Close
	done    chan struct{}       // closed when the writer goroutine exits

	closeErr error // set by the writer before done is closed

	// Owned by the writer goroutine.
	f          *os.File // active segment
	active     int      // index of the active segment
	activeSize int64
	dirty      bool // written since the last fsync

	activeBytes atomic.Int64 // activeSize, for Size

	segMu sync.Mutex
	segs  []segment // closed segments, ascending

	opMu      sync.Mutex // serializes Replay and TruncateBefore
	replayEnd int        // Replay reads segments below this index
}

// Open opens the WAL in opts.Dir, creating the directory if needed. Existing
// segments are left for Replay; appends go to a new segment (an existing
// last segment that holds only its header is reused). Call Replay before the
// first Append to recover what the log holds.
func Open(opts Options) (*WAL, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create wal dir: %w", err)
	}
	segs, err := listSegments(opts.Dir)
	if err != nil {
		return nil, err
	}
	w := &WAL{
		opts:    opts,
		log:     opts.Logger,
		m:       opts.Metrics,
		cur:     newBatch(),
		wake:    make(chan struct{}, 1),
		cutc:    make(chan chan cutResult),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	for i := 1; i < len(segs); i++ {
		if segs[i].index != segs[i-1].index+1 {
			w.log.Warn("wal: segment files missing", "dir", opts.Dir,
				"after", segs[i-1].index, "before", segs[i].index)
		}
	}

	next := 1
	if n := len(segs); n > 0 {
		last := segs[n-1]
		next = last.index + 1
		if last.size == int64(segmentHeaderLen) {
			if f, ok := reopenEmptySegment(segmentPath(opts.Dir, last.index)); ok {
				w.f, w.active, w.activeSize = f, last.index, last.size
				segs = segs[:n-1]
			}
		}
	}
	if w.f == nil {
		if err := w.createSegment(next); err != nil {
			return nil, err
		}
	}
	w.segs = segs
	w.replayEnd = w.active
	w.activeBytes.Store(w.activeSize)
	go w.run()
	return w, nil
}

// reopenEmptySegment opens a segment that holds only a valid header for
// appending.
func reopenEmptySegment(path string) (*os.File, bool) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, false
	}
	var hdr [segmentHeaderLen]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:]) != string(appendSegmentHeader(nil)) {
		f.Close()
		return nil, false
	}
	return f, true
}

// createSegment creates segment idx with its header, makes it durable and
// makes it the active segment.
func (w *WAL) createSegment(idx int) error {
	path := segmentPath(w.opts.Dir, idx)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create wal segment: %w", err)
	}
	if _, err := f.Write(appendSegmentHeader(nil)); err == nil {
		err = w.fsync(f)
	}
	if err == nil {
		err = syncDir(w.opts.Dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create wal segment %s: %w", path, err)
	}
	w.f, w.active, w.activeSize, w.dirty = f, idx, int64(segmentHeaderLen), false
	w.activeBytes.Store(w.activeSize)
	return nil
}

// Append adds rec to the log. It returns nil only after rec is written to the
// active segment and, with SyncAlways, fsynced (see SyncPolicy for what the
// other policies guarantee). The WAL copies rec; the caller keeps ownership.
//
// Errors:
//   - ErrFull: over Options.MaxPendingBytes; nothing was written, retry later.
//   - ErrTooLarge, ErrEmptyRecord: rec cannot be stored; do not retry.
//   - ErrClosed after Close.
//   - ctx.Err() if ctx is done before the write completes. If ctx was
//     already done on entry nothing is written; otherwise the record is
//     queued and may still become durable (and be replayed) later.
//   - a write or fsync error. The record may or may not have been written.
//     After an fsync error the WAL is failed: every later Append returns an
//     error and the WAL must be closed and reopened.
func (w *WAL) Append(ctx context.Context, rec []byte) error {
	_, err := w.AppendPos(ctx, rec)
	return err
}

// AppendPos is Append that also returns where the record was written, for
// ReadRecord.
func (w *WAL) AppendPos(ctx context.Context, rec []byte) (Pos, error) {
	if len(rec) == 0 {
		return Pos{}, ErrEmptyRecord
	}
	if int64(len(rec)) > w.opts.MaxRecordSize {
		return Pos{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(rec), w.opts.MaxRecordSize)
	}
	if err := ctx.Err(); err != nil {
		return Pos{}, err
	}
	crc := crc32.Checksum(rec, castagnoli)
	framed := int64(recordHeaderLen + len(rec))

	w.mu.Lock()
	switch {
	case w.closed:
		w.mu.Unlock()
		return Pos{}, ErrClosed
	case w.failed != nil:
		err := w.failed
		w.mu.Unlock()
		return Pos{}, err
	case w.pending+framed > w.opts.MaxPendingBytes:
		w.mu.Unlock()
		w.m.rejected()
		return Pos{}, ErrFull
	}
	w.pending += framed
	first := len(w.buf) == 0
	bufOff := len(w.buf)
	w.buf = appendRecord(w.buf, rec, crc)
	b := w.cur
	b.records++
	w.mu.Unlock()

	if first { // wake the writer once per batch
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	select {
	case <-b.done:
		if b.err != nil {
			return Pos{}, b.err
		}
		return b.pos(bufOff), nil
	case <-ctx.Done():
		return Pos{}, ctx.Err()
	}
}

// pos returns where the record at bufOff in the batch's buffer was written.
func (b *batch) pos(bufOff int) Pos {
	c := b.chunks[0]
	for _, x := range b.chunks[1:] {
		if x.bufOff > bufOff {
			break
		}
		c = x
	}
	return Pos{Segment: c.seg, Offset: c.fileOff + int64(bufOff-c.bufOff)}
}

// Cut closes (and fsyncs) the active segment and starts a new one. It returns
// the index of the new active segment: every record whose Append returned
// before Cut was called is in a segment with a lower index. If the active
// segment holds no record, Cut keeps it and returns its index.
func (w *WAL) Cut() (int, error) {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	req := make(chan cutResult, 1)
	select {
	case w.cutc <- req:
	case <-w.done:
		return 0, ErrClosed
	}
	res := <-req
	return res.seg, res.err
}

// TruncateBefore deletes the segment files with index < seg, oldest first,
// and then fsyncs the directory. The active segment is never deleted. It is
// idempotent.
func (w *WAL) TruncateBefore(seg int) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}

	w.segMu.Lock()
	n := 0
	for n < len(w.segs) && w.segs[n].index < seg {
		n++
	}
	victims := w.segs[:n:n]
	w.segMu.Unlock()
	if n == 0 {
		return nil
	}

	// The writer only appends to w.segs and opMu keeps out other removers,
	// so the victims stay at its front.
	removed := 0
	var err error
	for _, s := range victims {
		if rerr := os.Remove(segmentPath(w.opts.Dir, s.index)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = fmt.Errorf("truncate wal: %w", rerr)
			break
		}
		removed++
	}
	w.segMu.Lock()
	w.segs = append(w.segs[:0:0], w.segs[removed:]...)
	w.segMu.Unlock()
	if removed > 0 {
		if serr := syncDir(w.opts.Dir); err == nil {
			err = serr
		}
	}
	return err
}

// Size returns the total size in bytes of the WAL's segment files.
func (w *WAL) Size() int64 {
	w.segMu.Lock()
	defer w.segMu.Unlock()
	total := w.activeBytes.Load()
	for _, s := range w.segs {
		total += s.size
	}
	return total
}

// Close writes and fsyncs every accepted record, closes the active segment
// and stops the writer. Appends waiting on Close get their results; later
// calls get ErrClosed. A second Close returns nil.
func (w *WAL) Close() error {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if already {
		<-w.done
		return nil
	}
	close(w.closing)
	<-w.done
	return w.closeErr
}

// run is the writer goroutine.
func (w *WAL) run() {
	defer close(w.done)
	var tick <-chan time.Time
	if w.opts.Sync == SyncInterval {
		t := time.NewTicker(w.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-w.wake:
			w.flush()
		case req := <-w.cutc:
			seg, err := w.cut()
			req <- cutResult{seg, err}
		case <-tick:
			if w.dirty && w.failure() == nil {
				_ = w.sync() // a failure is sticky and reported by Append
			}
		case <-w.closing:
			w.closeErr = w.shutdown()
			return
		}
	}
}

// flush writes the batch being filled, if any, and wakes its waiters.
func (w *WAL) flush() error {
	w.mu.Lock()
	if len(w.buf) == 0 {
		w.mu.Unlock()
		return nil
	}
	buf, b, err := w.buf, w.cur, w.failed
	w.buf, w.spare = w.spare[:0], nil
	w.cur = newBatch()
	w.mu.Unlock()

	if err == nil {
		err = w.writeBatch(buf, b)
	}
	if err == nil {
		w.m.written(len(buf), b.records)
	}

	w.mu.Lock()
	w.pending -= int64(len(buf))
	if cap(buf) <= maxRetainedBuf {
		w.spare = buf[:0]
	}
	w.mu.Unlock()
	b.err = err
	close(b.done)
	return err
}

// writeBatch writes framed records to the active segment, rolling to new
// segments as SegmentSize requires, and fsyncs with SyncAlways.
func (w *WAL) writeBatch(buf []byte, b *batch) error {
	if h := w.opts.testHookBeforeWrite; h != nil {
		h()
	}
	total := len(buf)
	for len(buf) > 0 {
		n := w.fit(buf)
		if n == 0 {
			if err := w.roll(); err != nil {
				return err
			}
			continue
		}
		b.chunks = append(b.chunks, chunk{bufOff: total - len(buf), seg: w.active, fileOff: w.activeSize})
		if err := w.write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	if w.opts.Sync == SyncAlways {
		return w.sync()
	}
	return nil
}

// fit returns how many bytes of whole records from the start of buf go into
// the active segment: all that keep it within SegmentSize, and at least one
// record if the segment holds none yet.
func (w *WAL) fit(buf []byte) int {
	size, limit := w.activeSize, w.opts.SegmentSize
	if size+int64(len(buf)) <= limit {
		return len(buf)
	}
	off := 0
	for off < len(buf) {
		n := recordHeaderLen + int(binary.LittleEndian.Uint32(buf[off:]))
		if size+int64(off+n) > limit && size+int64(off) > int64(segmentHeaderLen) {
			break
		}
		off += n
	}
	return off
}

// write appends p to the active segment. If the write fails, the segment is
// truncated back so that it ends with a whole record; if even that fails the
// WAL is failed.
func (w *WAL) write(p []byte) error {
	n, err := w.f.Write(p)
	if err == nil {
		w.activeSize += int64(n)
		w.activeBytes.Store(w.activeSize)
		w.dirty = true
		return nil
	}
	err = fmt.Errorf("write wal segment %d: %w", w.active, err)
	if n > 0 {
		w.dirty = true
		if terr := w.f.Truncate(w.activeSize); terr != nil {
			w.fail(fmt.Errorf("%w; undo partial write: %w", err, terr))
		}
	}
	return err
}

// sync fsyncs the active segment. A failed fsync fails the WAL: the kernel
// may have dropped the dirty pages, so what was written is unknown.
func (w *WAL) sync() error {
	if err := w.fsync(w.f); err != nil {
		err = fmt.Errorf("fsync wal segment %d: %w", w.active, err)
		w.fail(err)
		return err
	}
	w.dirty = false
	return nil
}

func (w *WAL) fsync(f *os.File) error {
	start := time.Now()
	err := f.Sync()
	w.m.observeFsync(time.Since(start).Seconds())
	return err
}

// closeActive fsyncs (if needed) and closes the active segment.
func (w *WAL) closeActive() error {
	if w.f == nil {
		return nil
	}
	var err error
	if w.dirty {
		err = w.sync()
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close wal segment %d: %w", w.active, cerr)
		w.fail(err)
	}
	w.f = nil
	return err
}

// roll closes the active segment and creates the next one.
func (w *WAL) roll() error {
	prev, size := w.active, w.activeSize
	if err := w.closeActive(); err != nil {
		return err
	}
	w.segMu.Lock()
	w.segs = append(w.segs, segment{index: prev, size: size})
	w.activeBytes.Store(0) // counted in segs now
	w.segMu.Unlock()
	if err := w.createSegment(prev + 1); err != nil {
		w.fail(err)
		return err
	}
	return nil
}

// cut implements Cut in the writer goroutine.
func (w *WAL) cut() (int, error) {
	_ = w.flush() // the waiters get its error
	if err := w.failure(); err != nil {
		return 0, err
	}
	if w.activeSize > int64(segmentHeaderLen) {
		if err := w.roll(); err != nil {
			return 0, err
		}
	}
	return w.active, nil
}

// shutdown implements Close in the writer goroutine.
func (w *WAL) shutdown() error {
	err := w.flush()
	if cerr := w.closeActive(); err == nil {
		err = cerr
	}
	if ferr := w.failure(); err == nil {
		err = ferr
	}
	return err
}

// fail makes err sticky: every later Append returns it.
func (w *WAL) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = fmt.Errorf("wal failed, reopen it: %w", err)
		w.log.Error("wal: failed", "dir", w.opts.Dir, "err", err)
	}
}

func (w *WAL) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}
