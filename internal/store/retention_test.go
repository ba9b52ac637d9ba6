package store

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/part"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func oneSpan(n int) []model.Span {
	var id model.TraceID
	id[0], id[15] = 1, byte(n)
	return []model.Span{{
		TraceID: id, SpanID: model.SpanID{1, byte(n)}, Name: "op",
		Start: 1_000_000_000, End: 2_000_000_000,
		Attrs:    []model.Attr{{Key: "k", Type: model.TypeStr, Str: "some value to take a few bytes"}},
		Resource: &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "svc"}}},
		Scope:    &model.Scope{},
	}}
}

func partitionDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, partsDir))
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestRetentionByAge drops whole partitions once they are older than the
// retention period, by arrival time (span timestamps are from 1970 here and
// do not matter).
func TestRetentionByAge(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 11, 1, 10, 30, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, Now: clock.Now, Retention: 3 * time.Hour})
	require.NoError(t, err)
	defer db.Shutdown(ctx)
	for i := 0; i < 5; i++ { // partitions 10:00, 11:00, 12:00, 13:00, 14:00
		require.NoError(t, db.Append(ctx, oneSpan(i)))
		require.NoError(t, db.Flush())
		clock.Add(time.Hour)
	}
	require.Len(t, partitionDirs(t, dir), 5)
	// Now 15:30: partitions ending before 12:30 (10:00 and 11:00) go.
	db.applyRetention()
	require.Equal(t, []string{"20261101T1200Z", "20261101T1300Z", "20261101T1400Z"}, partitionDirs(t, dir))
	for i := 0; i < 5; i++ {
		spans, err := db.Trace(ctx, oneSpan(i)[0].TraceID)
		require.NoError(t, err)
		require.Equal(t, i >= 2, len(spans) == 1, "trace %d", i)
	}
}

// TestRetentionBySize drops the oldest partitions while the store is over
// MaxDiskBytes, but never the partition receiving data.
func TestRetentionBySize(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, Now: clock.Now})
	require.NoError(t, err)
	defer db.Shutdown(ctx)
	for i := 0; i < 4; i++ {
		require.NoError(t, db.Append(ctx, oneSpan(i)))
		require.NoError(t, db.Flush())
		clock.Add(time.Hour)
	}
	clock.Add(-time.Hour) // still in the last partition
	per := db.partBytes() / 4
	db.opts.MaxDiskBytes = 2*per + per/2 + db.wal.Size()
	db.applyRetention()
	require.Equal(t, []string{"20261101T1200Z", "20261101T1300Z"}, partitionDirs(t, dir))

	db.opts.MaxDiskBytes = 1 // smaller than anything: only the current partition stays
	db.applyRetention()
	require.Equal(t, []string{"20261101T1300Z"}, partitionDirs(t, dir))
	spans, err := db.Trace(ctx, oneSpan(3)[0].TraceID)
	require.NoError(t, err)
	require.Len(t, spans, 1)
}

// TestMergeReplacedPartsDroppedOnOpen simulates a crash after a merge wrote
// its output but before it removed its inputs: on open, the inputs that the
// merged part replaces are dropped.
func TestMergeReplacedPartsDroppedOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, MergeFanIn: 2, L0FanIn: 2})
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		require.NoError(t, db.Append(ctx, oneSpan(i)))
		require.NoError(t, db.Flush())
	}
	// Keep copies of the inputs, merge, then put the inputs back.
	inputs, _ := filepath.Glob(filepath.Join(dir, partsDir, "*", "L0-*.part"))
	require.Len(t, inputs, 2)
	saved := map[string][]byte{}
	for _, p := range inputs {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		saved[p] = b
	}
	require.NoError(t, db.Compact())
	require.NoError(t, db.Shutdown(ctx))
	for p, b := range saved {
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	db, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer db.Shutdown(ctx)
	require.Equal(t, 1, db.Stats().Parts)
	left, _ := filepath.Glob(filepath.Join(dir, partsDir, "*", "L0-*.part"))
	require.Empty(t, left)
}

// TestOverloadWhenHeadFull refuses appends with ErrOverloaded once the
// spans held in memory reach MaxHeadBytes, stores nothing of the refused
// batch, and accepts again after a flush.
func TestOverloadWhenHeadFull(t *testing.T) {
	ctx := context.Background()
	db, err := Open(Options{Dir: t.TempDir(), MaxHeadBytes: 2000})
	require.NoError(t, err)
	defer db.Shutdown(ctx)
	n := 0
	for ; n < 1000; n++ {
		if err := db.Append(ctx, oneSpan(n)); err != nil {
			require.ErrorIs(t, err, ErrOverloaded)
			break
		}
	}
	require.Less(t, n, 1000, "never overloaded")
	spans, err := db.Trace(ctx, oneSpan(n)[0].TraceID)
	require.NoError(t, err)
	require.Empty(t, spans, "the refused batch is not stored")
	require.NoError(t, db.Flush())
	require.NoError(t, db.Append(ctx, oneSpan(n)))
	for i := 0; i <= n; i++ {
		spans, err := db.Trace(ctx, oneSpan(i)[0].TraceID)
		require.NoError(t, err)
		require.Len(t, spans, 1, "trace %d", i)
	}
}

// A part written by a newer build (a format version above part.Version)
// stops Open with an error saying so, and stays where it is: setting it
// aside like a corrupt part would hide its spans, whose WAL is gone. A
// part with a damaged version byte is still set aside.
func TestPartOfNewerFormatStopsOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	for i := range 2 {
		require.NoError(t, db.Append(ctx, oneSpan(i)))
		require.NoError(t, db.Flush())
	}
	require.NoError(t, db.Shutdown(ctx))
	files, _ := filepath.Glob(filepath.Join(dir, partsDir, "*", "L0-*.part"))
	require.Len(t, files, 2)
	setVersion := func(path string, header, trailer byte) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b[7], b[len(b)-1] = header, trailer
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}

	setVersion(files[0], part.Version+1, part.Version+1)
	_, err = Open(Options{Dir: dir})
	require.ErrorIs(t, err, part.ErrNewerVersion)
	require.ErrorContains(t, err, filepath.Base(files[0]))
	require.FileExists(t, files[0])

	setVersion(files[0], part.Version+1, part.Version) // damaged, not newer
	db, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer db.Shutdown(ctx)
	require.Equal(t, 1, db.Stats().Parts)
	require.FileExists(t, files[0]+".corrupt")
}

// Parts written from the head are stored uncompressed (merges rewrite
// them); a lone one in a partition that no longer receives data is
// rewritten, compressed, on its own. With CompressFlushes they are
// compressed from the start.
func TestLevel0PartsUncompressedUntilMerged(t *testing.T) {
	ctx := context.Background()
	size := func(t *testing.T, glob string) int64 {
		files, _ := filepath.Glob(glob)
		require.Len(t, files, 1, glob)
		st, err := os.Stat(files[0])
		require.NoError(t, err)
		return st.Size()
	}
	var spans []model.Span
	for i := range 2000 {
		spans = append(spans, oneSpan(i)[0])
		spans[i].TraceID[14] = byte(i >> 8)
	}
	sizes := map[bool]int64{}
	for _, compress := range []bool{false, true} {
		dir := t.TempDir()
		clock := &fakeClock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
		db, err := Open(Options{Dir: dir, Now: clock.Now, CompressFlushes: compress})
		require.NoError(t, err)
		require.NoError(t, db.Append(ctx, spans))
		require.NoError(t, db.Flush())
		sizes[compress] = size(t, filepath.Join(dir, partsDir, "*", "L0-*.part"))

		clock.Add(2 * time.Hour) // the partition no longer receives data
		require.NoError(t, db.Compact())
		if compress {
			size(t, filepath.Join(dir, partsDir, "*", "L0-*.part")) // left alone
		} else {
			rewritten := size(t, filepath.Join(dir, partsDir, "*", "L1-*.part"))
			require.Less(t, rewritten, sizes[false]/2)
		}
		got, err := db.Trace(ctx, spans[1234].TraceID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.NoError(t, db.Shutdown(ctx))
	}
	require.Less(t, sizes[true], sizes[false]/2)
}
