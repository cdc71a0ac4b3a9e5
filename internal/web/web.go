// Package web serves authgate's embedded developer pages: the TAAP PoP
// token builder (like T-Mobile's poptoken-builder html page, but signing
// in the browser with WebCrypto so the private key never leaves the page)
// and the PoP verifier page, which posts a token and the request it is
// meant for to the taap module's explanation endpoint. Every answer
// carries a strict Content-Security-Policy: scripts and styles only from
// these embedded files, no inline code, fetches only to this origin.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"

	"github.com/authgate/authgate/internal/httpapi"
)

//go:embed static
var files embed.FS

// Routes of the pages.
const (
	RouteBuilder = "/pop/builder"
	RouteVerify  = "/pop/verify"
	RouteStatic  = "/pop/static/"
)

// CSP is the Content-Security-Policy of every page and asset.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Module serves the pages.
type Module struct {
	static fs.FS
}

var _ httpapi.Module = (*Module)(nil)

// New builds the module.
func New() *Module {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return &Module{static: sub}
}

// Register mounts the pages.
func (m *Module) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+RouteBuilder, m.file("builder.html"))
	mux.HandleFunc("GET "+RouteVerify, m.file("verify.html"))
	for _, name := range []string{"builder.js", "verify.js", "pop.js", "style.css"} {
		mux.HandleFunc("GET "+RouteStatic+name, m.file(name))
	}
}

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

func (m *Module) file(name string) http.HandlerFunc {
	b, err := fs.ReadFile(m.static, name)
	if err != nil {
		panic("web: missing embedded file " + name)
	}
	ct := types[path.Ext(name)]
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ct)
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	}
}
