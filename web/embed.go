// Package web embeds the built web UI (web/dist, committed; rebuild with
// `npm ci && npm run build` in web/) and serves it as a single-page app.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Assets returns the built UI files (index.html, assets/...).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time; it always exists
	}
	return sub
}

// reserved are path prefixes owned by the server's APIs; the UI never
// answers them, so an unknown API path gets a 404, not index.html.
var reserved = []string{"/api/", "/debug/", "/metrics", "/healthz", "/ready", "/v1/"}

// Handler serves the UI: files from dist as they are (hashed assets cached
// for a year), and index.html for every other GET path that is not a
// missing static file, so client routes such as /search and /trace/{id} load the app.
func Handler() http.Handler {
	assets := Assets()
	files := http.FileServerFS(assets)
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		panic("web: index.html missing from the embedded build: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		for _, pre := range reserved {
			if p == strings.TrimSuffix(pre, "/") || strings.HasPrefix(p, pre) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"error":"no such endpoint"}` + "\n"))
				return
			}
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if name := strings.TrimPrefix(path.Clean(p), "/"); name != "" && name != "index.html" {
			if st, err := fs.Stat(assets, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			}
			if staticExt[path.Ext(name)] {
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", csp)
		_, _ = w.Write(index)
	})
}

// staticExt are extensions of files the build produces: a missing one is a
// 404, while other paths (a trace comparison /trace/A...B) load the app.
var staticExt = map[string]bool{".js": true, ".css": true, ".map": true, ".html": true, ".ico": true, ".png": true, ".svg": true, ".json": true, ".txt": true, ".woff2": true}

// csp allows only the app's own scripts, styles and connections: user data
// can never pull in a script or a remote resource.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
