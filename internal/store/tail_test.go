package store_test

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/sampling/tail"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

func tailTrace(n int, spans int, errSpan int) []model.Span {
	var id model.TraceID
	binary.BigEndian.PutUint64(id[:8], uint64(n)+1)
	binary.BigEndian.PutUint64(id[8:], uint64(n)*0x9e3779b97f4a7c15)
	r := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "svc"}}}
	out := make([]model.Span, spans)
	for i := range out {
		s := &out[i]
		s.TraceID, s.Resource, s.Scope, s.Name = id, r, &model.Scope{}, "op"
		binary.BigEndian.PutUint64(s.SpanID[:], uint64(i)+1)
		if i > 0 {
			s.ParentID = out[0].SpanID
		}
		s.Start = time.Now().UnixNano() + int64(i)
		s.End = s.Start + 1000
		if i == errSpan {
			s.StatusCode = model.StatusError
		}
	}
	return out
}

func openTail(t *testing.T, dir string, policies ...tail.Policy) *store.DB {
	t.Helper()
	ts, err := tail.New(tail.Config{Idle: 200 * time.Millisecond, MaxWait: 3 * time.Second, Policies: policies}, nil)
	require.NoError(t, err)
	db, err := store.Open(store.Options{Dir: dir, Tail: ts, HeadMaxAge: 300 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, db.Start(context.Background()))
	return db
}

func spanCount(t *testing.T, db *store.DB, trace []model.Span) int {
	t.Helper()
	got, err := db.Trace(context.Background(), trace[0].TraceID)
	require.NoError(t, err)
	return len(got)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTailSamplingKeepsDecidedTraces(t *testing.T) {
	dir := t.TempDir()
	db := openTail(t, dir, tail.Policy{Name: "errors", Type: tail.TypeError})
	ctx := context.Background()
	kept, dropped := tailTrace(1, 5, 3), tailTrace(2, 5, -1)
	// One batch holds spans of both traces, another the rest of them.
	require.NoError(t, db.Append(ctx, append(append([]model.Span{}, kept[:3]...), dropped[:3]...)))
	require.NoError(t, db.Append(ctx, append(append([]model.Span{}, kept[3:]...), dropped[3:]...)))
	require.Zero(t, spanCount(t, db, kept), "a held trace is not visible before its decision")
	waitFor(t, "the error trace to be kept", func() bool { return spanCount(t, db, kept) == 5 })
	require.Zero(t, spanCount(t, db, dropped))
	got, err := db.Trace(ctx, kept[0].TraceID)
	require.NoError(t, err)
	for _, s := range got {
		var policy string
		var w float64
		for _, a := range s.Attrs {
			switch a.Key {
			case tail.AttrPolicy:
				policy = a.Str
			case tail.AttrAdjustedCount:
				w = math.Float64frombits(a.Num)
			}
		}
		require.Equal(t, "errors", policy)
		require.Equal(t, 1.0, w)
	}
	// Late spans follow the decision.
	lateKept, lateDropped := tailTrace(1, 7, -1)[5:], tailTrace(2, 7, -1)[5:]
	require.NoError(t, db.Append(ctx, append(append([]model.Span{}, lateKept...), lateDropped...)))
	require.Equal(t, 7, spanCount(t, db, kept))
	require.Zero(t, spanCount(t, db, dropped))
	st, ok := db.TailStats()
	require.True(t, ok)
	require.EqualValues(t, 1, st.TracesKept)
	require.EqualValues(t, 1, st.TracesDropped)
	require.EqualValues(t, 2, st.LateSpansKept)
	require.EqualValues(t, 2, st.LateSpansDropped)
	require.NoError(t, db.Shutdown(ctx))

	// What was kept is stored for good; the WAL goes once nothing is held.
	db, err = store.Open(store.Options{Dir: dir})
	require.NoError(t, err)
	require.Equal(t, 7, spanCount(t, db, kept))
	require.Zero(t, spanCount(t, db, dropped))
	require.NoError(t, db.Shutdown(ctx))
}

// TestTailSamplingCrashWhileHeld copies the data directory of a running
// store, as a kill -9 would leave it, while traces are held across head
// flushes, and opens the copy: every acknowledged span of a kept trace is
// there.
func TestTailSamplingCrashWhileHeld(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// Held for at least max wait (3s): no root spans arrive.
	db := openTail(t, dir, tail.Policy{Name: "errors", Type: tail.TypeError})
	var traces [][]model.Span
	for i := 0; i < 20; i++ {
		tr := tailTrace(100+i, 4, 2)[1:] // no root: held until max wait
		traces = append(traces, tr)
		require.NoError(t, db.Append(ctx, append([]model.Span{}, tr...)))
		// Other traces, kept at once, make the head flush and the WAL cut.
		require.NoError(t, db.Append(ctx, tailTrace(1000+i, 2, 1)))
		if i%5 == 4 {
			waitFor(t, "the error trace to be kept", func() bool { return spanCount(t, db, tailTrace(1000+i, 2, 1)) == 2 })
			require.NoError(t, db.Flush())
		}
	}
	ents, _ := filepath.Glob(filepath.Join(dir, "parts", "*", "*.part"))
	require.GreaterOrEqual(t, len(ents), 4, "parts written while traces are held")
	for _, tr := range traces {
		require.Zero(t, spanCount(t, db, tr), "held until max wait")
	}
	crash := filepath.Join(t.TempDir(), "copy")
	out, err := exec.Command("cp", "-a", dir, crash).CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, os.Remove(filepath.Join(crash, "LOCK")))
	require.NoError(t, db.Shutdown(ctx))

	db = openTail(t, crash, tail.Policy{Name: "errors", Type: tail.TypeError})
	defer db.Shutdown(ctx)
	for i, tr := range traces {
		waitFor(t, "held trace kept after the restart", func() bool { return spanCount(t, db, tr) == 3 })
		require.Equal(t, 2, spanCount(t, db, tailTrace(1000+i, 2, 1)), "kept before the crash, once")
	}
}
