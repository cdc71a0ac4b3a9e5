package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/gateway"
)

func TestConfigValidate(t *testing.T) {
	ok := func() gateway.Route {
		return gateway.Route{Name: "api", PathPrefix: "/api", Schemes: []string{"oauth2-bearer"}, Upstreams: []string{"http://10.0.0.1:8080/base"}}
	}
	with := func(f func(r *gateway.Route)) []gateway.Route { r := ok(); f(&r); return []gateway.Route{r} }
	cases := []struct {
		name   string
		routes []gateway.Route
		want   string // "" valid
	}{
		{"valid", []gateway.Route{ok()}, ""},
		{"valid root prefix on a host", with(func(r *gateway.Route) { r.PathPrefix = "/"; r.Hosts = []string{"API.Example.com."} }), ""},
		{"valid ipv6 host", with(func(r *gateway.Route) { r.Hosts = []string{"[::1]"} }), ""},
		{"unknown scheme", with(func(r *gateway.Route) { r.Schemes = []string{"basic"} }), `unknown scheme "basic"`},
		{"no scheme", with(func(r *gateway.Route) { r.Schemes = nil }), "schemes: at least one"},
		{"scheme twice", with(func(r *gateway.Route) { r.Schemes = []string{"apstrata", "apstrata"} }), "listed twice"},
		{"ftp upstream", with(func(r *gateway.Route) { r.Upstreams = []string{"ftp://h/"} }), "scheme must be http or https"},
		{"relative upstream", with(func(r *gateway.Route) { r.Upstreams = []string{"/local"} }), "scheme must be http or https"},
		{"upstream without host", with(func(r *gateway.Route) { r.Upstreams = []string{"http:///x"} }), "host missing"},
		{"upstream user info", with(func(r *gateway.Route) { r.Upstreams = []string{"http://u:p@h/"} }), "user info"},
		{"upstream query", with(func(r *gateway.Route) { r.Upstreams = []string{"http://h/?a=1"} }), "no query"},
		{"upstream not a URL", with(func(r *gateway.Route) { r.Upstreams = []string{"http://[::1"} }), "not a URL"},
		{"no upstream", with(func(r *gateway.Route) { r.Upstreams = nil }), "upstreams: 1 to 16"},
		{"bad name", with(func(r *gateway.Route) { r.Name = "Api Route" }), "name must be"},
		{"prefix trailing slash", with(func(r *gateway.Route) { r.PathPrefix = "/api/" }), "must not end with /"},
		{"prefix dot dot", with(func(r *gateway.Route) { r.PathPrefix = "/api/../oauth" }), "segments"},
		{"prefix double slash", with(func(r *gateway.Route) { r.PathPrefix = "//api" }), "segments"},
		{"prefix escape", with(func(r *gateway.Route) { r.PathPrefix = "/api%2e" }), "without spaces, %"},
		{"prefix relative", with(func(r *gateway.Route) { r.PathPrefix = "api" }), "must start with /"},
		{"prefix empty", with(func(r *gateway.Route) { r.PathPrefix = "" }), "must be set"},
		{"shadows token endpoint", with(func(r *gateway.Route) { r.PathPrefix = "/oauth/token" }), "inside /oauth"},
		{"shadows forward-auth", with(func(r *gateway.Route) { r.PathPrefix = "/gateway" }), "inside /gateway"},
		{"shadows admin", with(func(r *gateway.Route) { r.PathPrefix = "/admin/subscriptions" }), "inside /admin"},
		{"shadows TPV login", with(func(r *gateway.Route) { r.PathPrefix = "/api/v1/auth" }), "inside /api/v1/auth"},
		{"near a namespace is fine", with(func(r *gateway.Route) { r.PathPrefix = "/oauthx" }), ""},
		{"bad method", with(func(r *gateway.Route) { r.Methods = []string{"TRACE"} }), `"TRACE" is not one of`},
		{"host with port", with(func(r *gateway.Route) { r.Hosts = []string{"h.example:8080"} }), "not a host name"},
		{"wildcard host", with(func(r *gateway.Route) { r.Hosts = []string{"*.example"} }), "not a host name"},
		{"bad scope", with(func(r *gateway.Route) { r.Scope = "a\"b" }), "scope:"},
		{"bad resource", with(func(r *gateway.Route) { r.Resource = "Not A Name" }), "resource must be"},
		{"timeout too short", with(func(r *gateway.Route) { r.Timeout = gateway.Duration(time.Millisecond) }), "timeout"},
		{"duplicate names", []gateway.Route{ok(), func() gateway.Route { r := ok(); r.PathPrefix = "/other"; return r }()}, `name "api" is used twice`},
		{"identical matches", []gateway.Route{ok(), func() gateway.Route { r := ok(); r.Name = "api2"; return r }()}, "match the same requests"},
		{"identical after normalising case", []gateway.Route{
			func() gateway.Route {
				r := ok()
				r.Hosts = []string{"a.example"}
				r.Methods = []string{"get"}
				return r
			}(),
			func() gateway.Route {
				r := ok()
				r.Name = "api2"
				r.Hosts = []string{"A.example"}
				r.Methods = []string{"GET", "POST"}
				return r
			}(),
		}, "match the same requests"},
		{"every method overlaps one", []gateway.Route{ok(), func() gateway.Route { r := ok(); r.Name = "api2"; r.Methods = []string{"POST"}; return r }()}, "match the same requests"},
		{"disjoint methods", []gateway.Route{
			func() gateway.Route { r := ok(); r.Methods = []string{"GET"}; return r }(),
			func() gateway.Route { r := ok(); r.Name = "api2"; r.Methods = []string{"POST"}; return r }(),
		}, ""},
		{"host route beside any-host route", []gateway.Route{ok(), func() gateway.Route { r := ok(); r.Name = "api2"; r.Hosts = []string{"a.example"}; return r }()}, ""},
		{"other prefix", []gateway.Route{ok(), func() gateway.Route { r := ok(); r.Name = "api2"; r.PathPrefix = "/api/v2"; return r }()}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := gateway.DefaultConfig()
			cfg.Routes = tc.routes
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestConfigValidateSection(t *testing.T) {
	cfg := gateway.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	cfg.MaxBodyBytes, cfg.IdentityTTL, cfg.KeyRotation = 10, time.Second, time.Minute
	err := cfg.Validate()
	for _, want := range []string{"max_body_bytes", "identity_ttl", "key_rotation"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

// TestConfigForwardAuthCacheTTL: forward_auth_cache_ttl is off by default,
// whole seconds up to 10s, and at most half of identity_ttl.
func TestConfigForwardAuthCacheTTL(t *testing.T) {
	if gateway.DefaultConfig().ForwardAuthCacheTTL != 0 {
		t.Fatal("the check cache is on by default")
	}
	tests := []struct {
		ttl, identity time.Duration
		want          string // "" valid
	}{
		{0, time.Minute, ""},
		{time.Second, time.Minute, ""},
		{10 * time.Second, time.Minute, ""},
		{5 * time.Second, 10 * time.Second, ""},
		{-time.Second, time.Minute, "whole seconds up to 10s"},
		{11 * time.Second, time.Minute, "whole seconds up to 10s"},
		{1500 * time.Millisecond, time.Minute, "whole seconds up to 10s"},
		{6 * time.Second, 10 * time.Second, "at most half of identity_ttl"},
	}
	for _, tc := range tests {
		cfg := gateway.DefaultConfig()
		cfg.ForwardAuthCacheTTL, cfg.IdentityTTL = tc.ttl, tc.identity
		err := cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), "forward_auth_cache_ttl") || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("ttl %v identity_ttl %v: %v, want %q", tc.ttl, tc.identity, err, tc.want)
		}
	}
}
