package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// runCLI runs the binary and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(ariadneBin, args...)
	cmd.Env = append(os.Environ(), "COLUMNS=", "ARIADNE_SERVER=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

// checkGoldenText compares text output with testdata/<name>;
// REGENERATE_GOLDEN=1 rewrites it.
func checkGoldenText(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("REGENERATE_GOLDEN") != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing; run with REGENERATE_GOLDEN=1")
	require.Equal(t, string(want), got, "output differs from %s", path)
}

// TestTerminalClient runs `ariadne trace` and `ariadne search` against the
// real server and compares their output at fixed widths with golden files.
func TestTerminalClient(t *testing.T) {
	srv := startServer(t, "")
	body, err := os.ReadFile("testdata/jaeger/input.json")
	require.NoError(t, err)
	code, resp := srv.postOTLP("application/json", body)
	require.Equal(t, 200, code, "%s", resp)
	code, zresp := srv.postZipkin("application/json", zipkinBatch(t), false)
	require.Equal(t, 202, code, zresp)
	const id = "0000000000000000a1b2c3d4e5f60718"

	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"trace-100.txt", []string{"trace", "--server", srv.queryURL, "--width", "100", id}},
		{"trace-60.txt", []string{"trace", id, "--width", "60", "--server", srv.queryURL}},
		{"trace-details.txt", []string{"trace", "--details", "--server", srv.queryURL, "--width", "90", id}},
		{"trace-zipkin.txt", []string{"trace", "--server", srv.queryURL, "--width", "120", "5af7183fb1d4cf5f5af7183fb1d4cf5f"}},
		{"search-100.txt", []string{"search", "--server", srv.queryURL, "--width", "100", "--start", "2026-11-01T00:00:00Z", "--end", "2026-11-02T00:00:00Z"}},
		{"search-errors.txt", []string{"search", "--server", srv.queryURL, "--width", "100", "--status", "error", "--attr", "db.system=postgresql", "--start", "1793491200"}},
		{"search-none.txt", []string{"search", "--server", srv.queryURL, "--service", "nobody", "--start", "2026-11-01T00:00:00Z"}},
		{"search-traceql.txt", []string{"search", "--server", srv.queryURL, "--width", "100", `{ kind = server } >> { .db.system = "postgresql" }`, "--start", "2026-11-01T00:00:00Z"}},
		{"search-traceql-errors.txt", []string{"search", "--server", srv.queryURL, "--width", "100", "--limit", "5", `{ status = error }`}},
		{"search-metrics.txt", []string{"search", "--server", srv.queryURL, "--width", "100", "--start", "2026-11-01T00:00:00Z", "--end", "2026-11-02T00:00:00Z",
			"--step", "1h", `{ } | count_over_time() by (resource.service.name)`}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			out, errOut, code := runCLI(t, c.args...)
			require.Equal(t, 0, code, errOut)
			checkGoldenText(t, filepath.Join("cli", c.golden), out)
		})
	}

	t.Run("json", func(t *testing.T) {
		out, errOut, code := runCLI(t, "trace", "--json", "--server", srv.queryURL, id)
		require.Equal(t, 0, code, errOut)
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(out))
		require.NoError(t, err)
		require.Equal(t, 3, td.SpanCount())
	})

	t.Run("env server", func(t *testing.T) {
		cmd := exec.Command(ariadneBin, "search", "--service", "cart", "--start", "2026-11-01T00:00:00Z", "--json")
		cmd.Env = append(os.Environ(), "ARIADNE_SERVER="+srv.queryURL)
		out, err := cmd.Output()
		require.NoError(t, err)
		require.Contains(t, string(out), id)
	})

	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"not found":         {[]string{"trace", "--server", srv.queryURL, "00000000000000000000000000000042"}, "not found"},
		"bad id":            {[]string{"trace", "--server", srv.queryURL, "xyz"}, "not a trace ID"},
		"no id":             {[]string{"trace", "--server", srv.queryURL}, "exactly one trace ID"},
		"bad server":        {[]string{"trace", "--server", "ftp://x", id}, "--server"},
		"unreachable":       {[]string{"trace", "--server", "127.0.0.1:1", id}, "cannot reach"},
		"bad kind":          {[]string{"search", "--server", srv.queryURL, "--kind", "sideways"}, "kind"},
		"bad duration":      {[]string{"search", "--server", srv.queryURL, "--min-duration", "fast"}, "minDuration"},
		"positional":        {[]string{"search", "--server", srv.queryURL, "{ }", "cart"}, "unexpected argument"},
		"traceql and flags": {[]string{"search", "--server", srv.queryURL, "--service", "cart", "{ }"}, "--service cannot be combined with a TraceQL query"},
		"traceql syntax": {[]string{"search", "--server", srv.queryURL, "{ kind = server }\n&& { .a = }"},
			"invalid TraceQL query at line 2, column 11: " /* then the line and a caret under the position */},
		"traceql caret":       {[]string{"search", "--server", srv.queryURL, "{ .a = }"}, "\n  { .a = }\n         ^\n"},
		"step without query":  {[]string{"search", "--server", srv.queryURL, "--step", "1m"}, "--step is for TraceQL metrics queries"},
		"bad step":            {[]string{"search", "--server", srv.queryURL, "--step", "fast", "{ } | rate()"}, "step:"},
		"traceql unsupported": {[]string{"search", "--server", srv.queryURL, "{ parent.a = 1 }"}, "TraceQL feature not supported at line 1, column 3: "},
	} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := runCLI(t, c.args...)
			require.Equal(t, 1, code, "stdout: %s", out)
			require.Contains(t, errOut, c.want)
		})
	}
}
