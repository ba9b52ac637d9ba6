package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// goldenRecords is the fixed record sequence of testdata/segment-v1.golden.
func goldenRecords() [][]byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return [][]byte{
		[]byte("a"),
		[]byte("span batch"),
		{0},
		all,
		bytes.Repeat([]byte("ariadne "), 40),
	}
}

// TestFormatGolden freezes the segment format (docs/format.md, "Write-ahead
// log"): the bytes the WAL writes for a fixed record sequence must not change,
// and the frozen bytes must replay. If the format changes on purpose, bump
// segmentVersion, keep reading version 1, and regenerate with
// REGENERATE_GOLDEN=1 go test ./internal/store/wal/ -run TestFormatGolden.
func TestFormatGolden(t *testing.T) {
	golden := filepath.Join("testdata", "segment-v1.golden")
	dir := t.TempDir()
	w := openWAL(t, Options{Dir: dir})
	appendAll(t, w, goldenRecords())
	require.NoError(t, w.Close())
	got, err := os.ReadFile(filepath.Join(dir, "00000001.wal"))
	require.NoError(t, err)

	if os.Getenv("REGENERATE_GOLDEN") == "1" {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, want, got, "segment bytes changed; see the doc comment of TestFormatGolden")

	// The frozen bytes replay.
	dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000001.wal"), want, 0o644))
	_, recs, st := reopenAndReplay(t, Options{Dir: dir})
	require.Equal(t, goldenRecords(), recs)
	require.Empty(t, st.Corruptions)
}
