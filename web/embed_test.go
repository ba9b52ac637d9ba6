package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	resp := rec.Result()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestHandlerServesAppAndAssets(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/search", "/search?service=x", "/trace/4bf92f3577b34da6a3ce929d0e0e4736", "/trace/4bf92f3577b34da6a3ce929d0e0e4736...5bf92f3577b34da6a3ce929d0e0e4736", "/compare"} {
		resp, body := get(t, h, p)
		require.Equal(t, 200, resp.StatusCode, p)
		require.Contains(t, body, `<div id="root"></div>`, p)
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), p)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'", p)
	}
	// Every asset index.html references is served with its type.
	_, index := get(t, h, "/")
	var refs int
	for _, part := range strings.Split(index, `"`) {
		if !strings.HasPrefix(part, "/assets/") {
			continue
		}
		refs++
		resp, body := get(t, h, part)
		require.Equal(t, 200, resp.StatusCode, part)
		require.NotEmpty(t, body)
		require.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
		if strings.HasSuffix(part, ".js") {
			require.Contains(t, resp.Header.Get("Content-Type"), "javascript")
		}
	}
	require.GreaterOrEqual(t, refs, 2, "index.html should reference the JS and CSS bundles")
}

func TestHandlerDoesNotShadowAPIs(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/api/v1/nope", "/api/", "/metrics", "/debug/x", "/healthz", "/ready"} {
		resp, body := get(t, h, p)
		require.Equal(t, 404, resp.StatusCode, p)
		require.NotContains(t, body, "<html", p)
	}
	// A missing file with an extension is a 404, not the app.
	resp, _ := get(t, h, "/assets/missing.js")
	require.Equal(t, 404, resp.StatusCode)
}
