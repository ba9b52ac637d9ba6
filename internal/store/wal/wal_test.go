package wal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var quietLogger = slog.New(slog.DiscardHandler)

// openWAL opens a WAL in dir with a discarding logger and closes it when the
// test ends.
func openWAL(t testing.TB, opts Options) *WAL {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger
	}
	w, err := Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// replayAll replays w and returns copies of the records.
func replayAll(t testing.TB, w *WAL) ([][]byte, ReplayStats) {
	t.Helper()
	var recs [][]byte
	st, err := w.Replay(func(rec []byte) error {
		recs = append(recs, bytes.Clone(rec))
		return nil
	})
	require.NoError(t, err)
	return recs, st
}

// reopenAndReplay opens dir and returns what Replay yields.
func reopenAndReplay(t testing.TB, opts Options) (*WAL, [][]byte, ReplayStats) {
	t.Helper()
	w := openWAL(t, opts)
	recs, st := replayAll(t, w)
	return w, recs, st
}

// payload returns test record i: a recognisable prefix and 0..199 filler bytes.
func payload(i int) []byte {
	b := fmt.Appendf(nil, "rec-%06d|", i)
	return append(b, bytes.Repeat([]byte{byte(i)}, i%200)...)
}

func payloads(from, to int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		out = append(out, payload(i))
	}
	return out
}

func appendAll(t testing.TB, w *WAL, recs [][]byte) {
	t.Helper()
	for _, r := range recs {
		require.NoError(t, w.Append(context.Background(), r))
	}
}

func segmentFiles(t testing.TB, dir string) []segment {
	t.Helper()
	segs, err := listSegments(dir)
	require.NoError(t, err)
	return segs
}

func TestRoundTrip(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			opts := Options{Dir: t.TempDir(), SegmentSize: 512, Sync: policy}
			w := openWAL(t, opts)
			recs, st := replayAll(t, w)
			require.Empty(t, recs)
			require.Equal(t, ReplayStats{}, st)

			want := payloads(0, 60)
			appendAll(t, w, want[:30])
			_, err := w.Cut()
			require.NoError(t, err)
			appendAll(t, w, want[30:])
			require.NoError(t, w.Close())

			segs := segmentFiles(t, opts.Dir)
			require.Greater(t, len(segs), 3, "512-byte segments must roll")
			var total int64
			for _, s := range segs {
				total += s.size
				require.LessOrEqual(t, s.size, opts.SegmentSize)
			}
			require.Equal(t, total, w.Size())

			_, got, st := reopenAndReplay(t, opts)
			require.Equal(t, want, got)
			require.Equal(t, len(segs), st.Segments)
			require.Equal(t, 60, st.Records)
			require.Zero(t, st.DroppedBytes)
			require.Empty(t, st.Corruptions)
		})
	}
}

func TestSegmentsRollAtSegmentSize(t *testing.T) {
	dir := t.TempDir()
	rec := bytes.Repeat([]byte{'x'}, 92) // 100 bytes framed
	// Header 7 + 3 records = 307 bytes fits in 310; the 4th record rolls.
	w := openWAL(t, Options{Dir: dir, SegmentSize: 310})
	appendAll(t, w, [][]byte{rec, rec, rec, rec, rec, rec, rec})
	big := bytes.Repeat([]byte{'y'}, 1000) // larger than a segment: alone in one
	appendAll(t, w, [][]byte{big, rec})
	require.NoError(t, w.Close())

	var sizes []int64
	for _, s := range segmentFiles(t, dir) {
		sizes = append(sizes, s.size)
	}
	require.Equal(t, []int64{307, 307, 107, 1015, 107}, sizes)
}

func TestCutAndTruncateBefore(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	w := openWAL(t, opts)
	replayAll(t, w)

	appendAll(t, w, payloads(0, 10))
	seg, err := w.Cut()
	require.NoError(t, err)
	require.Equal(t, 2, seg)

	again, err := w.Cut()
	require.NoError(t, err)
	require.Equal(t, seg, again, "Cut of an empty segment keeps it")

	appendAll(t, w, payloads(10, 20))
	seg2, err := w.Cut()
	require.NoError(t, err)
	require.Equal(t, 3, seg2)
	appendAll(t, w, payloads(20, 30))

	before := w.Size()
	first := segmentFiles(t, opts.Dir)[0]
	require.NoError(t, w.TruncateBefore(seg))
	require.Equal(t, before-first.size, w.Size())
	segs := segmentFiles(t, opts.Dir)
	require.Equal(t, []int{2, 3}, []int{segs[0].index, segs[1].index})
	require.Equal(t, segs[0].size+segs[1].size, w.Size())

	require.NoError(t, w.TruncateBefore(seg), "idempotent")
	require.NoError(t, w.TruncateBefore(0), "nothing to delete")

	require.NoError(t, w.TruncateBefore(1000))
	segs = segmentFiles(t, opts.Dir)
	require.Len(t, segs, 1, "the active segment is never deleted")
	require.Equal(t, seg2, segs[0].index)
	require.NoError(t, w.Close())

	_, got, _ := reopenAndReplay(t, opts)
	require.Equal(t, payloads(20, 30), got)
}

func TestConcurrentAppends(t *testing.T) {
	const goroutines, perG = 64, 100
	opts := Options{Dir: t.TempDir(), SegmentSize: 64 << 10}
	w := openWAL(t, opts)

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				rec := fmt.Appendf(nil, "%02d:%04d:", g, i)
				rec = append(rec, bytes.Repeat([]byte{'p'}, (g*perG+i)%300)...)
				if err := w.Append(context.Background(), rec); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())

	_, got, st := reopenAndReplay(t, opts)
	require.Len(t, got, goroutines*perG)
	require.Greater(t, st.Segments, 1)
	next := make([]int, goroutines) // records of one goroutine replay in its order
	for _, rec := range got {
		var g, i int
		_, err := fmt.Sscanf(string(rec[:8]), "%02d:%04d", &g, &i)
		require.NoError(t, err)
		require.Equal(t, next[g], i, "goroutine %d", g)
		next[g]++
	}
	for g := range goroutines {
		require.Equal(t, perG, next[g])
	}
}

func TestReopenReusesEmptySegment(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	w := openWAL(t, opts)
	require.NoError(t, w.Close())
	w = openWAL(t, opts)
	require.NoError(t, w.Close())
	require.Len(t, segmentFiles(t, opts.Dir), 1)

	w = openWAL(t, opts)
	appendAll(t, w, payloads(0, 1))
	require.NoError(t, w.Close())
	w = openWAL(t, opts)
	require.NoError(t, w.Close())
	require.Len(t, segmentFiles(t, opts.Dir), 2, "a segment with records is never appended to again")
}

func TestClose(t *testing.T) {
	w := openWAL(t, Options{Dir: t.TempDir()})
	appendAll(t, w, payloads(0, 3))
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "second Close")

	require.ErrorIs(t, w.Append(context.Background(), payload(1)), ErrClosed)
	_, err := w.Cut()
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, w.TruncateBefore(1), ErrClosed)
	_, err = w.Replay(func([]byte) error { return nil })
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, int64(segmentHeaderLen+3*recordHeaderLen)+
		int64(len(payload(0))+len(payload(1))+len(payload(2))), w.Size())
}

func TestAppendRejects(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, Options{Dir: dir, MaxRecordSize: 100})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		rec  []byte
		want error
	}{
		{"empty", context.Background(), nil, ErrEmptyRecord},
		{"too large", context.Background(), make([]byte, 101), ErrTooLarge},
		{"cancelled context", ctx, []byte("x"), context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, w.Append(tc.ctx, tc.rec), tc.want)
		})
	}
	require.NoError(t, w.Append(context.Background(), make([]byte, 100)))
	require.NoError(t, w.Close())
	_, got, _ := reopenAndReplay(t, Options{Dir: dir})
	require.Equal(t, [][]byte{make([]byte, 100)}, got, "rejected records are not written")
}

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no dir", Options{}},
		{"unknown sync policy", Options{Dir: t.TempDir(), Sync: 7}},
		{"pending too small", Options{Dir: t.TempDir(), MaxPendingBytes: 8}},
		{"record over pending", Options{Dir: t.TempDir(), MaxPendingBytes: 100, MaxRecordSize: 93}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.opts)
			require.Error(t, err)
		})
	}
}

// holdWriter returns options whose writer blocks before each batch write
// until release is closed; entered receives when a batch was taken.
func holdWriter(opts Options) (_ Options, entered <-chan struct{}, release chan struct{}) {
	ent := make(chan struct{}, 1)
	release = make(chan struct{})
	opts.testHookBeforeWrite = func() {
		select {
		case ent <- struct{}{}:
		default:
		}
		<-release
	}
	return opts, ent, release
}

func TestErrFull(t *testing.T) {
	a, b := bytes.Repeat([]byte{'a'}, 100), bytes.Repeat([]byte{'b'}, 100)
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	// Room for one framed record (108 bytes) but not two.
	opts, entered, release := holdWriter(Options{Dir: dir, MaxPendingBytes: 215, Metrics: NewMetrics(reg)})
	w := openWAL(t, opts)

	res := make(chan error, 1)
	go func() { res <- w.Append(context.Background(), a) }()
	<-entered // the writer holds a's batch: 108 bytes pending
	require.ErrorIs(t, w.Append(context.Background(), b), ErrFull)
	require.Equal(t, 1.0, metricValue(t, reg, "ariadne_wal_rejected_appends_total"))

	close(release)
	require.NoError(t, <-res)
	require.NoError(t, w.Append(context.Background(), b), "room again once a is written")
	require.NoError(t, w.Close())

	_, got, _ := reopenAndReplay(t, Options{Dir: dir})
	require.Equal(t, [][]byte{a, b}, got)
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	dir := t.TempDir()
	opts, entered, release := holdWriter(Options{Dir: dir})
	w := openWAL(t, opts)

	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- w.Append(ctx, []byte("late")) }()
	<-entered // the record is queued and being written
	cancel()
	require.ErrorIs(t, <-res, context.Canceled)
	close(release)
	require.NoError(t, w.Close())

	_, got, _ := reopenAndReplay(t, Options{Dir: dir})
	require.Equal(t, [][]byte{[]byte("late")}, got, "a cancelled Append may still be durable")
}

func TestCloseWritesPending(t *testing.T) {
	dir := t.TempDir()
	opts, entered, release := holdWriter(Options{Dir: dir, Sync: SyncNever})
	w := openWAL(t, opts)

	res := make(chan error, 2)
	go func() { res <- w.Append(context.Background(), []byte("one")) }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	close(release)
	require.NoError(t, <-res)
	require.NoError(t, <-closed)
	_, got, _ := reopenAndReplay(t, Options{Dir: dir})
	require.Equal(t, [][]byte{[]byte("one")}, got)
}

func TestWriteErrorFailsBatch(t *testing.T) {
	var w *WAL
	opts := Options{Dir: t.TempDir(), Logger: quietLogger}
	opts.testHookBeforeWrite = func() { w.f.Close() } // make the write fail
	w, err := Open(opts)
	require.NoError(t, err)
	require.ErrorIs(t, w.Append(context.Background(), []byte("x")), os.ErrClosed)
	require.Error(t, w.Close(), "closing the segment fails too")
}

func TestUnsupportedVersion(t *testing.T) {
	dir := t.TempDir()
	seg := append([]byte(segmentMagic), 2)
	seg = appendRecord(seg, []byte("from the future"), 0)
	path := filepath.Join(dir, segmentName(1))
	require.NoError(t, os.WriteFile(path, seg, 0o644))

	w := openWAL(t, Options{Dir: dir})
	_, err := w.Replay(func([]byte) error { return nil })
	require.ErrorIs(t, err, ErrUnsupportedVersion)
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, seg, onDisk, "left untouched")
}

func TestReplayCallbackError(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	w := openWAL(t, opts)
	appendAll(t, w, payloads(0, 5))
	require.NoError(t, w.Close())

	w = openWAL(t, opts)
	n := 0
	stop := fmt.Errorf("stop")
	st, err := w.Replay(func([]byte) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 2, st.Records)
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := Options{Dir: t.TempDir(), Metrics: NewMetrics(reg)}
	w := openWAL(t, opts)
	recs := payloads(0, 10)
	appendAll(t, w, recs)
	require.NoError(t, w.Close())

	var framed float64
	for _, r := range recs {
		framed += float64(recordHeaderLen + len(r))
	}
	require.Equal(t, 10.0, metricValue(t, reg, "ariadne_wal_records_total"))
	require.Equal(t, framed, metricValue(t, reg, "ariadne_wal_written_bytes_total"))
	require.GreaterOrEqual(t, metricValue(t, reg, "ariadne_wal_fsync_duration_seconds"), 10.0)
	require.Zero(t, metricValue(t, reg, "ariadne_wal_corruptions_total"))

	truncateFile(t, filepath.Join(opts.Dir, segmentName(1)), 3)
	_, _, st := reopenAndReplay(t, opts)
	require.Len(t, st.Corruptions, 1)
	require.Equal(t, 1.0, metricValue(t, reg, "ariadne_wal_corruptions_total"))
}

// metricValue returns a counter's value or a histogram's sample count.
func metricValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// truncateFile cuts n bytes off the end of path.
func truncateFile(t testing.TB, path string, n int64) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, fi.Size()-n))
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		out, err := os.Create(filepath.Join(dst, e.Name()))
		require.NoError(t, err)
		_, err = io.Copy(out, in)
		require.NoError(t, err)
		require.NoError(t, in.Close())
		require.NoError(t, out.Close())
	}
	return dst
}

func TestAppendPosReadBack(t *testing.T) {
	dir := t.TempDir()
	// Small segments so that batches roll in the middle.
	w, err := Open(Options{Dir: dir, SegmentSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	recs := map[Pos][]byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				rec := []byte(fmt.Sprintf("goroutine %d record %d %s", g, i, strings.Repeat("x", i)))
				p, err := w.AppendPos(context.Background(), rec)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := recs[p]; dup {
					t.Errorf("position %+v returned twice", p)
				}
				recs[p] = rec
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r := w.NewReader()
	defer r.Close()
	segs := map[int]bool{}
	for p, want := range recs {
		got, err := r.Read(p, nil)
		if err != nil {
			t.Fatalf("read %+v: %v", p, err)
		}
		if string(got) != string(want) {
			t.Fatalf("read %+v = %q, want %q", p, got, want)
		}
		segs[p.Segment] = true
	}
	if len(segs) < 3 {
		t.Fatalf("records in %d segments; the test wants rolls", len(segs))
	}
	if _, err := r.Read(Pos{Segment: 1, Offset: 3}, nil); err == nil {
		t.Fatal("reading at a wrong offset succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// ReplayPos gives the same positions.
	w2, err := Open(Options{Dir: dir, SegmentSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	n := 0
	if _, err := w2.ReplayPos(func(p Pos, rec []byte) error {
		if string(recs[p]) != string(rec) {
			return fmt.Errorf("replayed %+v = %q, appended %q there", p, rec, recs[p])
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(recs) {
		t.Fatalf("replayed %d records, want %d", n, len(recs))
	}
}
