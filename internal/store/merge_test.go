package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Merges never make a part of more than MaxPartSpans spans, in the
// partition receiving data and in closed ones, and lose nothing.
func TestMergeRespectsMaxPartSpans(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	const maxSpans = 5
	db, err := Open(Options{Dir: dir, Now: clock.Now, MergeFanIn: 2, L0FanIn: 2, MaxPartSpans: maxSpans})
	require.NoError(t, err)
	defer db.Shutdown(ctx)
	const n = 23
	for i := 0; i < n; i++ { // 23 one-span parts in one partition
		require.NoError(t, db.Append(ctx, oneSpan(i)))
		require.NoError(t, db.Flush())
	}
	check := func() {
		t.Helper()
		db.mu.RLock()
		defer db.mu.RUnlock()
		var total int64
		for _, p := range db.parts {
			c := p.r.Meta().SpanCount
			require.LessOrEqual(t, c, int64(maxSpans), "part %s", p.path)
			total += c
		}
		require.Equal(t, int64(n), total)
	}
	require.NoError(t, db.Compact())
	check()
	require.Less(t, db.Stats().Parts, n, "nothing was merged")
	clock.Add(2 * time.Hour) // the partition is closed: clean-up merges
	require.NoError(t, db.Compact())
	check()
	// The fewest parts of at most 5 spans that hold 23 spans is 5; merges
	// in pairs of levels may leave a few more, never many.
	t.Logf("%d parts", db.Stats().Parts)
	require.LessOrEqual(t, db.Stats().Parts, 8)
	for i := 0; i < n; i++ {
		spans, err := db.Trace(ctx, oneSpan(i)[0].TraceID)
		require.NoError(t, err)
		require.Len(t, spans, 1, "trace %d", i)
	}
}
