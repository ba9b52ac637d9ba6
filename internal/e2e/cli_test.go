package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigErrors checks that the binary refuses bad settings with a
// message naming them, and does not start.
func TestConfigErrors(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ariadne.yaml")
	require.NoError(t, writeFile(cfg, "storage:\n  retension: 7d\n"))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--data-dir", t.TempDir(), "--config", cfg}, "retension"},
		{[]string{"serve", "--data-dir", t.TempDir(), "--wal-sync", "maybe"}, "storage.wal_sync"},
		{[]string{"serve", "--data-dir", t.TempDir(), "--retention", "a week"}, "retention"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"loadgen", "--headers", "novalue"}, "not key=value"},
	}
	for _, c := range cases {
		out, err := exec.Command(ariadneBin, c.args...).CombinedOutput()
		require.Error(t, err, "%v: %s", c.args, out)
		require.Contains(t, string(out), c.want, "%v", c.args)
	}
}

// TestDataDirLocked checks that a second server on the same data directory
// refuses to start instead of corrupting it.
func TestDataDirLocked(t *testing.T) {
	srv := startServer(t, "")
	out, err := exec.Command(ariadneBin, "serve", "--data-dir", srv.dataDir, "--otlp-grpc-port", "0",
		"--otlp-http-port", "0", "--query-port", "0").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "in use by another ariadne process")
}
