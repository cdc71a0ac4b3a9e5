package oauth2

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// linksDoc is the device server's {"Links":[...]} document.
type linksDoc struct {
	Links []Link `json:"Links"`
}

// entryPoint serves GET /: anonymous callers see how to authenticate and
// the versions; an authenticated caller sees every link it may use. An
// invalid Authorization header is refused with 401, as the device server does.
func (m *Module) entryPoint(w http.ResponseWriter, r *http.Request) {
	var kind core.PrincipalKind // "": anonymous
	if _, present := BearerToken(r); present {
		c, err := m.bearer.Authenticate(r)
		if err != nil {
			writeError(w, r, m.log, err, ctxBearer, "Bearer")
			return
		}
		kind = c.Kind
	}
	base, mt := m.baseURL(r), httpapi.NegotiateVnd(r, "entrypoint")
	// The document depends only on these three, and the entry point is hit
	// on every client start: serve it pre-rendered.
	key := entryKey{base: base, kind: kind, mediaType: mt}
	body, ok := m.entries.get(key)
	if !ok {
		var err error
		if body, err = json.Marshal(m.entryDoc(base, kind)); err != nil {
			writeError(w, r, m.log, err, ctxResource, "")
			return
		}
		body = append(body, '\n')
		m.entries.put(key, body)
	}
	h := w.Header()
	h.Set("Content-Type", mt)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

type entryKey struct {
	base      string
	kind      core.PrincipalKind
	mediaType string
}

// entryCache holds rendered entry-point documents. Its size is bounded
// because the base URL comes from the request's Host header.
type entryCache struct {
	mu sync.RWMutex
	m  map[entryKey][]byte
}

const maxEntryDocs = 64

func (c *entryCache) get(k entryKey) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.m[k]
	return b, ok
}

func (c *entryCache) put(k entryKey, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[entryKey][]byte{}
	}
	if len(c.m) < maxEntryDocs {
		c.m[k] = b
	}
}

// entryDoc lists the links a caller of kind ("": anonymous) may use: each
// link is shown only to kinds the privilege table grants its action.
func (m *Module) entryDoc(base string, kind core.PrincipalKind) linksDoc {
	authenticate := Link{Rel: "authenticate", Href: base + "/oauth/token", Type: httpapi.Vnd("accesskeys")}
	versions := Link{Rel: "versions", Href: base + "/versions", Type: httpapi.Vnd("versions")}
	doc := linksDoc{Links: []Link{authenticate}}
	if kind != "" {
		links := []Link{{Rel: "accesskeys", Href: "/accesskeys", Type: httpapi.Vnd("accesskeys"), Action: core.ActAccessKeysRead}}
		if kind == core.PrincipalAdmin {
			// A bearer token authenticates these for admins only (clients
			// use their key and secret), so only admins see the links.
			links = append(links,
				Link{Rel: "introspect", Href: "/oauth/introspect", Type: "application/json", Action: core.ActTokensIntrospect},
				Link{Rel: "revoke", Href: "/oauth/revoke", Type: "application/json", Action: core.ActTokensRevoke})
		}
		for _, l := range append(links, m.opt.Links...) {
			if l.Action == "" || core.Allowed(kind, l.Action) {
				doc.Links = append(doc.Links, Link{Rel: l.Rel, Href: base + l.Href, Type: l.Type})
			}
		}
	}
	doc.Links = append(doc.Links, versions)
	return doc
}

// versionsDoc lists the versions of the server build.
type versionsDoc struct {
	Items []versionItem `json:"Items"`
	Links []Link        `json:"Links"`
}

type versionItem struct {
	Name    string `json:"Name"`
	Version string `json:"Version"`
}

// versions serves GET /versions (anonymous, as the entry point links it
// for everyone). It names authgate's version and the API version only.
func (m *Module) versions(w http.ResponseWriter, r *http.Request) {
	v := m.opt.Version
	if v == "" {
		v = "dev"
	}
	doc := versionsDoc{
		Items: []versionItem{{Name: "authgate", Version: v}, {Name: "api", Version: "1"}},
		Links: []Link{{Rel: "self", Href: m.baseURL(r) + "/versions"}},
	}
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "versions"), doc)
}

// IdentitiesLink is the entry-point link to the device identities (the
// device adapter's /identities), for Options.Links.
var IdentitiesLink = Link{Rel: "identities", Href: "/identities", Type: httpapi.Vnd("identities"), Action: core.ActIdentitiesRead}
