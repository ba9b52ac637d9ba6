package web

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDistMatchesSource rebuilds the UI from source in a temporary copy
// (npm install from the lock file, the Vitest suite, tsc and vite build) and fails when the result
// differs from the committed web/dist, so the embedded build never drifts
// from its source (ARCHITECTURE decision 7). It needs Node.js and the npm
// registry; without npm it skips locally and fails in CI.
func TestDistMatchesSource(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilds the UI with npm; skipped with -short")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("npm not found: CI must install Node.js and npm")
		}
		t.Skip("npm not found")
	}
	tmp := t.TempDir()
	copyTree(t, ".", tmp, func(rel string) bool {
		first := strings.Split(filepath.ToSlash(rel), "/")[0]
		return first == "node_modules" || first == "dist" || strings.HasSuffix(rel, ".go")
	})
	run := func(args ...string) {
		cmd := exec.Command(npm, args...)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "CI=true", "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "npm %s:\n%s", strings.Join(args, " "), out)
	}
	// npm install, not npm ci: this npm writes lock files without the
	// other platforms' optional packages (rollup, esbuild), which npm ci then
	// rejects; install still takes every version from package-lock.json.
	run("install", "--no-audit", "--no-fund")
	run("test")
	run("run", "build")

	want := readTree(t, filepath.Join(tmp, "dist"))
	got := readTree(t, "dist")
	for name := range want {
		_, ok := got[name]
		require.True(t, ok, "web/dist lacks %s: run `npm run build` in web/ and commit web/dist", name)
	}
	for name, b := range got {
		w, ok := want[name]
		require.True(t, ok, "web/dist has %s, which the build no longer produces: rebuild and commit web/dist", name)
		require.True(t, bytes.Equal(w, b), "web/dist/%s differs from a fresh build: rebuild and commit web/dist", name)
	}
}

func copyTree(t *testing.T, src, dst string, skip func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		if skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	require.NoError(t, err)
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	require.NoError(t, err)
	return out
}
