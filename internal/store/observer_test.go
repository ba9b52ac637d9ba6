package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// recorder is an Observer that logs the calls the store makes.
type recorder struct {
	calls     []string
	committed func(uint64) bool
}

func (r *recorder) Recover(committed func(uint64) bool) error {
	r.committed = committed
	r.calls = append(r.calls, "recover")
	return nil
}
func (r *recorder) Observe(spans []model.Span) {
	r.calls = append(r.calls, fmt.Sprintf("observe %d", len(spans)))
}
func (r *recorder) Seal() { r.calls = append(r.calls, "seal") }
func (r *recorder) Prepare(seq uint64) error {
	r.calls = append(r.calls, fmt.Sprintf("prepare %d", seq))
	return nil
}
func (r *recorder) Commit(seq uint64) error {
	r.calls = append(r.calls, fmt.Sprintf("commit %d", seq))
	return nil
}

// The store drives its Observer as the contract says: every batch once
// in the WAL, seal/prepare/commit around each part, replayed batches
// (only those not in a part) at Open, after Recover.
func TestObserverContract(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	db, err := Open(Options{Dir: dir, Observer: rec})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, db.Append(ctx, oneSpan(1)))
	require.NoError(t, db.Append(ctx, oneSpan(2)))
	require.NoError(t, db.Flush())
	require.NoError(t, db.Flush()) // empty head: nothing to seal
	require.NoError(t, db.Append(ctx, oneSpan(3)))
	require.Equal(t, []string{"recover", "observe 1", "observe 1", "seal", "prepare 0", "commit 0", "observe 1"}, rec.calls)
	require.NoError(t, db.Shutdown(ctx))
	require.Equal(t, []string{"seal", "prepare 1", "commit 1"}, rec.calls[7:])

	rec2 := &recorder{}
	db, err = Open(Options{Dir: dir, Observer: rec2})
	require.NoError(t, err)
	require.Equal(t, []string{"recover"}, rec2.calls) // everything is in parts: nothing replayed
	require.True(t, rec2.committed(0))
	require.True(t, rec2.committed(1))
	require.False(t, rec2.committed(2))

	// A crash with a batch only in the WAL: it is replayed into Observe,
	// after Recover.
	require.NoError(t, db.Append(ctx, oneSpan(4)))
	require.NoError(t, db.wal.Close())
	db.closeParts()
	db.lock.Close()
	rec3 := &recorder{}
	db, err = Open(Options{Dir: dir, Observer: rec3})
	require.NoError(t, err)
	require.Equal(t, []string{"recover", "observe 1"}, rec3.calls)
	require.False(t, rec3.committed(2))
	require.NoError(t, db.Shutdown(ctx))
	require.Equal(t, []string{"seal", "prepare 2", "commit 2"}, rec3.calls[2:])
}
