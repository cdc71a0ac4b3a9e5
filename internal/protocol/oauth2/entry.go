package oauth2

import (
	"net/http"

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
	base := m.baseURL(r)
	authenticate := Link{Rel: "authenticate", Href: base + "/oauth/token", Type: vnd("accesskeys")}
	versions := Link{Rel: "versions", Href: base + "/versions", Type: vnd("versions")}
	doc := linksDoc{Links: []Link{authenticate}}
	if _, present := bearerToken(r); present {
		c, err := m.bearer.Authenticate(r)
		if err != nil {
			writeError(w, r, m.log, err, ctxBearer, "Bearer")
			return
		}
		doc.Links = append(doc.Links, Link{Rel: "accesskeys", Href: base + "/accesskeys", Type: vnd("accesskeys")})
		if c.Admin {
			doc.Links = append(doc.Links,
				Link{Rel: "introspect", Href: base + "/oauth/introspect", Type: "application/json"},
				Link{Rel: "revoke", Href: base + "/oauth/revoke", Type: "application/json"})
		}
		for _, l := range m.opt.Links {
			if l.AdminOnly && !c.Admin {
				continue
			}
			doc.Links = append(doc.Links, Link{Rel: l.Rel, Href: base + l.Href, Type: l.Type})
		}
	}
	doc.Links = append(doc.Links, versions)
	httpapi.WriteJSONType(w, http.StatusOK, negotiate(r, "entrypoint"), doc)
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
	httpapi.WriteJSONType(w, http.StatusOK, negotiate(r, "versions"), doc)
}
