package console

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

//go:embed static
var files embed.FS

// Routes of the console. They are not admin API routes: the pages, their
// assets and the session.
const (
	RoutePage          = "/console"
	RouteStatic        = "/console/static/"
	RouteSession       = "/console/session"
	RouteSessionDelete = "/console/session/delete"
)

// CSP is the Content-Security-Policy of every page and asset: scripts and
// styles only from these embedded files, no inline code, fetches only to
// this origin, never framed.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Assets are the embedded files served under RouteStatic.
var Assets = []string{"app.js", "api.js", "pages.js", "ui.js", "style.css"}

// Deps are the package's dependencies.
type Deps struct {
	Grant  Granter
	Tokens tokens  // core.Tokens
	Audit  auditor // core.Auditor
	Keys   keyring // core.Keyring
	Clock  core.Clock
	Addr   httpapi.ClientAddr
	Log    *slog.Logger
	// Routes are the admin API's routes (adminapi.API.Routes): the page
	// shows the sections this server serves and the principal may read.
	Routes func() []adminapi.Route
}

// Module serves the console and implements adminapi.Sessions.
type Module struct {
	cfg    Config
	d      Deps
	static fs.FS
}

var _ httpapi.Module = (*Module)(nil)

// New builds the console. cfg must have passed Validate.
func New(cfg Config, d Deps) *Module {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return &Module{cfg: cfg, d: d, static: sub}
}

// Register mounts the page, its assets and the session routes.
func (m *Module) Register(mux *http.ServeMux) {
	page := m.file("index.html")
	mux.HandleFunc("GET "+RoutePage, page)
	mux.HandleFunc("GET "+RoutePage+"/{$}", page)
	for _, name := range Assets {
		mux.HandleFunc("GET "+RouteStatic+name, m.file(name))
	}
	mux.HandleFunc("POST "+RouteSession, secured(m.signIn))
	mux.HandleFunc("GET "+RouteSession, secured(m.session))
	mux.HandleFunc("DELETE "+RouteSession, secured(m.signOut))
	mux.HandleFunc("POST "+RouteSessionDelete, secured(m.signOut))
}

// secured sets the security headers before h answers.
func secured(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		SecurityHeaders(w.Header())
		h(w, r)
	}
}

// routes are the admin API's routes ("GET /admin/stats") whose action
// the privilege table grants kind at all: the page offers no section it
// could only be refused (the routes still decide per object).
func (m *Module) routes(kind core.PrincipalKind) []string {
	out := []string{}
	if m.d.Routes == nil {
		return out
	}
	for _, r := range m.d.Routes() {
		if r.Public || core.Granted(kind, r.Action) != core.ReachNone {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// SecurityHeaders are set on every answer of the console's own routes.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (m *Module) file(name string) http.HandlerFunc {
	b, err := fs.ReadFile(m.static, name)
	if err != nil {
		panic("console: missing embedded file " + name)
	}
	ct := types[path.Ext(name)]
	return func(w http.ResponseWriter, r *http.Request) {
		SecurityHeaders(w.Header())
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	}
}
