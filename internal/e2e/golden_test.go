package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// getRaw GETs path from the query API and returns status and body.
func (s *server) getRaw(path string) (int, []byte) {
	s.t.Helper()
	return httpGet(s.t, s.queryURL+path)
}

func httpGet(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// checkGolden compares a JSON response (re-indented) with
// testdata/<name>; REGENERATE_GOLDEN=1 rewrites the file instead.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, bytes.TrimSpace(body), "", "  "), "body: %s", body)
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if os.Getenv("REGENERATE_GOLDEN") != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing; run with REGENERATE_GOLDEN=1")
	require.Equal(t, string(want), buf.String(), "response differs from %s", path)
}
