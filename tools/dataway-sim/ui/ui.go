// Package ui is dataway-sim's trace viewer page: static HTML, CSS and JavaScript embedded
// in the binary (no CDN, no build step), reading the simulator's /v1/_sim/ JSON API.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Assets returns the page's files (index.html, app.js, style.css).
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// Handler serves index.html at "/" and the other assets under "/ui/". Mount it on "GET /{$}"
// and "GET /ui/".
func Handler() http.Handler {
	assets := Assets()
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The page only ever talks to the simulator that served it.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		// A rebuilt binary must not be hidden by a cached app.js.
		h.Set("Cache-Control", "no-cache")
		switch {
		case r.URL.Path == "/" || r.URL.Path == "/ui/":
			http.ServeFileFS(w, r, assets, "index.html")
		case strings.HasPrefix(r.URL.Path, "/ui/"):
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/ui")
			files.ServeHTTP(w, r2)
		default:
			http.NotFound(w, r)
		}
	})
}
