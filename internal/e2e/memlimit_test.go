package e2e

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The server sets the Go runtime's soft memory limit from
// storage.memory_limit (default 800 MiB) unless GOMEMLIMIT is set.
func TestMemoryLimit(t *testing.T) {
	limit := func(srv *server) float64 {
		code, body := srv.getRaw("/metrics")
		require.Equal(t, 200, code)
		m := regexp.MustCompile(`(?m)^go_gc_gomemlimit_bytes (\S+)$`).FindSubmatch(body)
		require.NotNil(t, m, "go_gc_gomemlimit_bytes on /metrics")
		v, err := strconv.ParseFloat(string(m[1]), 64)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, float64(800<<20), limit(startServer(t, "")), "default")
	require.Equal(t, float64(512<<20), limit(startServer(t, "", "--memory-limit", "512MiB")))
	require.Greater(t, limit(startServer(t, "", "--memory-limit", "0")), float64(1<<62), "0: no limit")
	t.Setenv("GOMEMLIMIT", "300MiB")
	require.Equal(t, float64(300<<20), limit(startServer(t, "", "--memory-limit", "512MiB")), "GOMEMLIMIT wins")
}
