package fuzz

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/scheme"
)

// headerScheme is the smallest scheme a route table needs: presented when
// its header is set. Select never authenticates.
type headerScheme struct{ name string }

func (s headerScheme) Name() string                   { return s.name }
func (s headerScheme) Family() string                 { return "fuzz" }
func (s headerScheme) Presented(r *http.Request) bool { return r.Header.Get("X-Fuzz") != "" }
func (s headerScheme) NeedsBody(*http.Request) bool   { return false }
func (s headerScheme) Authenticate(context.Context, scheme.Request) (scheme.Caller, error) {
	return scheme.Caller{}, core.E(core.KindUnauthenticated, "fuzz")
}
func (s headerScheme) WriteRefusal(http.ResponseWriter, *http.Request, error) {}
func (s headerScheme) StripCredentials(_ *http.Request, body []byte) []byte   { return body }

// FuzzGatewaySelect matches untrusted request targets and Host headers
// against a route table: a route is only ever chosen for a canonical path
// under its prefix (never /apix for /api, never a dot segment, encoded
// separator or control character) and for its host.
func FuzzGatewaySelect(f *testing.F) {
	for _, s := range [][2]string{{"/api/x", "a.example"}, {"/apix", ""}, {"/api/%2e%2e/admin", "A.EXAMPLE:80"}, {"/api%2Fx", "[::1]:8080"},
		{"//api", "a.example."}, {"/ap%69/x?q=%00", "a.example.evil"}, {"/api/x%5c..", "a.example#"}, {"/", ""}} {
		f.Add(s[0], s[1])
	}
	set := scheme.Set{}
	set.Add(headerScheme{"oauth2-bearer"})
	cfg := gateway.DefaultConfig()
	hosted := gateway.Route{Name: "hosted", Hosts: []string{"a.example"}, PathPrefix: "/api", Schemes: []string{"oauth2-bearer"}, Upstreams: []string{"http://h"}}
	anyHost := gateway.Route{Name: "any", PathPrefix: "/api/v1", Schemes: []string{"oauth2-bearer"}, Upstreams: []string{"http://h"}}
	cfg.Routes = []gateway.Route{hosted, anyHost}
	gw, err := gateway.New(cfg, gateway.Deps{Schemes: set})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target, host string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := &http.Request{Method: "GET", URL: u, Host: host, Header: http.Header{"X-Fuzz": {"1"}}}
		d, err := gw.Select(r)
		if d.Route == nil {
			if err == nil {
				t.Fatal("no route and no error")
			}
			return
		}
		p := u.Path
		if !(p == d.Route.PathPrefix || strings.HasPrefix(p, d.Route.PathPrefix+"/")) {
			t.Fatalf("route %s (%s) chosen for %q", d.Route.Name, d.Route.PathPrefix, p)
		}
		if strings.Contains(p, "/./") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.HasSuffix(p, "/.") ||
			strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00\r\n") || strings.Contains(strings.ToLower(u.EscapedPath()), "%2f") {
			t.Fatalf("route chosen for a path that is not canonical: %q (%q)", p, u.EscapedPath())
		}
		if d.Route.Name == "hosted" {
			h := strings.ToLower(host)
			if !strings.HasPrefix(h, "a.example") {
				t.Fatalf("host route chosen for Host %q", host)
			}
		}
	})
}
