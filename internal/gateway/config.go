package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Config is the `gateway:` configuration section.
type Config struct {
	// Enabled mounts the route table on the main listener.
	Enabled bool `yaml:"enabled"`
	// MaxBodyBytes bounds a request body the gateway reads: buffered for a
	// scheme that signs it, or streamed upstream. Over it: 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// IdentityTTL is the life of the X-Authgate-Identity JWT.
	IdentityTTL time.Duration `yaml:"identity_ttl"`
	// KeyRotation is how long one identity signing key signs.
	KeyRotation time.Duration `yaml:"key_rotation"`
	// RoutePoll is how often a node checks whether the stored routes
	// changed: every node serves a change within it.
	RoutePoll time.Duration `yaml:"route_poll"`
	// ForwardAuthCacheTTL lets nginx keep an allow of the forward-auth
	// endpoint this long (X-Accel-Expires) when reusing it weakens
	// nothing (ForwardAuth); 0, the default: every check is asked.
	ForwardAuthCacheTTL time.Duration `yaml:"forward_auth_cache_ttl"`
	// Routes are the configured routes; routes stored in the database
	// (authgate route create) are added to them.
	Routes []Route `yaml:"routes"`
}

// DefaultConfig returns the defaults: off, 1 MiB bodies, 60 s identities.
func DefaultConfig() Config {
	return Config{MaxBodyBytes: 1 << 20, IdentityTTL: time.Minute, KeyRotation: 24 * time.Hour, RoutePoll: 2 * time.Second}
}

// Limits of a route definition.
const (
	MaxRoutes        = 1000
	maxHosts         = 32
	maxUpstreams     = 16
	maxPathPrefixLen = 512
	defaultTimeout   = 30 * time.Second
	// MaxForwardAuthCacheTTL bounds forward_auth_cache_ttl: how long a
	// revoked token may keep passing a front end's cache.
	MaxForwardAuthCacheTTL = 10 * time.Second
)

// Validate checks the section and every configured route, and that no two
// routes match the same requests.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		errs = append(errs, errors.New("max_body_bytes must be between 1024 and 1073741824"))
	}
	if c.IdentityTTL < 10*time.Second || c.IdentityTTL > time.Hour {
		errs = append(errs, fmt.Errorf("identity_ttl %v: must be between 10s and 1h", c.IdentityTTL))
	}
	if c.KeyRotation < time.Hour || c.KeyRotation > 90*24*time.Hour {
		errs = append(errs, fmt.Errorf("key_rotation %v: must be between 1h and 2160h", c.KeyRotation))
	}
	if c.RoutePoll < 100*time.Millisecond || c.RoutePoll > time.Minute {
		errs = append(errs, fmt.Errorf("route_poll %v: must be between 100ms and 1m", c.RoutePoll))
	}
	// Whole seconds (X-Accel-Expires counts them), and at most half the
	// identity token's life: an identity token is handed out again while
	// half of its life is left (identityCache), so the one in a cached
	// answer is still valid when the front end drops the answer.
	if t := c.ForwardAuthCacheTTL; t < 0 || t > MaxForwardAuthCacheTTL || t%time.Second != 0 {
		errs = append(errs, fmt.Errorf("forward_auth_cache_ttl %v: must be 0 (off) or whole seconds up to %v", t, MaxForwardAuthCacheTTL))
	} else if 2*t > c.IdentityTTL {
		errs = append(errs, fmt.Errorf("forward_auth_cache_ttl %v: at most half of identity_ttl (%v)", t, c.IdentityTTL))
	}
	if len(c.Routes) > MaxRoutes {
		errs = append(errs, fmt.Errorf("routes: at most %d", MaxRoutes))
	}
	for i, r := range c.Routes {
		if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("routes[%d] (%s): %w", i, r.Name, err))
		}
	}
	if err := checkOverlaps(c.Routes); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// KnownSchemes are the scheme names a route may accept (internal/scheme
// implementations of the protocol families).
var KnownSchemes = []string{"oauth2-bearer", "device-mtls", "device-psk", "tpv-signature", "apstrata", "taap-pop"}

// Reserved are the path namespaces of authgate's own endpoints, always
// served by authgate: a route's path_prefix may not be one of them or lie
// inside one (it could never be reached). A route at a shorter prefix
// ("/", "/api") still never receives them: built-in routes take
// precedence on every host.
var Reserved = []string{
	"/oauth", "/oauth2", "/gateway", "/admin", "/accesskeys", "/identities", "/ca", "/apsdb", "/taap",
	"/.well-known", "/healthz", "/readyz", "/metrics", "/versions", "/pop", "/wsdl", "/iot-connectivity", "/api/v1/auth",
}

// Route is one gateway route. The same definition comes from the
// configuration file (yaml) or the admin API (json).
type Route struct {
	Name        string   `yaml:"name" json:"name"`
	Hosts       []string `yaml:"hosts" json:"hosts,omitempty"`       // empty: any host
	PathPrefix  string   `yaml:"path_prefix" json:"path_prefix"`     // "/api" matches /api and /api/..., not /apix
	Methods     []string `yaml:"methods" json:"methods,omitempty"`   // empty: every method
	Schemes     []string `yaml:"schemes" json:"schemes"`             // any of them authenticates
	Resource    string   `yaml:"resource" json:"resource,omitempty"` // API subscription resource; "": privilege check only
	Scope       string   `yaml:"scope" json:"scope,omitempty"`       // scope tokens the caller must all hold
	Upstreams   []string `yaml:"upstreams" json:"upstreams"`         // base URLs, used round-robin
	StripPrefix bool     `yaml:"strip_prefix" json:"strip_prefix,omitempty"`
	// Timeout bounds the upstream exchange up to the response headers
	// (0: 30 s).
	Timeout         Duration `yaml:"timeout" json:"timeout,omitempty"`
	PassCredentials bool     `yaml:"pass_credentials" json:"pass_credentials,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("30s") in
// YAML and JSON.
type Duration time.Duration

// MarshalText writes the duration as "30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration must be like \"30s\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// timeout is the route's upstream timeout with the default applied.
func (r *Route) timeout() time.Duration {
	if r.Timeout == 0 {
		return defaultTimeout
	}
	return time.Duration(r.Timeout)
}

var (
	routeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	hostLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	resourceRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

var allowedMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Normalize puts the route in canonical form (lower-case hosts without a
// trailing dot or IPv6 brackets, upper-case methods), as Validate and matching expect it.
func (r *Route) Normalize() {
	for i, h := range r.Hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") { // IPv6 literal as in a Host header
			h = h[1 : len(h)-1]
		}
		r.Hosts[i] = strings.TrimSuffix(h, ".")
	}
	for i, m := range r.Methods {
		r.Methods[i] = strings.ToUpper(strings.TrimSpace(m))
	}
}

// Validate checks one route on its own (Config.Validate and the admin API
// also check it against the others). It normalises a copy, so a route
// that differs only in case is judged as it will be matched.
func (r Route) Validate() error {
	r.Hosts, r.Methods = slices.Clone(r.Hosts), slices.Clone(r.Methods)
	r.Normalize()
	var errs []string
	if !routeNameRE.MatchString(r.Name) {
		errs = append(errs, "name must be 1 to 64 of a-z 0-9 . _ - (starting with a letter or digit)")
	}
	if len(r.Hosts) > maxHosts {
		errs = append(errs, fmt.Sprintf("hosts: at most %d", maxHosts))
	}
	for _, h := range r.Hosts {
		if !validHost(h) {
			errs = append(errs, fmt.Sprintf("hosts: %q is not a host name or IP address (no port, no wildcard)", h))
		}
	}
	if dup := firstDup(r.Hosts); dup != "" {
		errs = append(errs, fmt.Sprintf("hosts: %q listed twice", dup))
	}
	if err := validPrefix(r.PathPrefix); err != nil {
		errs = append(errs, err.Error())
	}
	for _, m := range r.Methods {
		if !slices.Contains(allowedMethods, m) {
			errs = append(errs, fmt.Sprintf("methods: %q is not one of %s", m, strings.Join(allowedMethods, ", ")))
		}
	}
	if dup := firstDup(r.Methods); dup != "" {
		errs = append(errs, fmt.Sprintf("methods: %q listed twice", dup))
	}
	if len(r.Schemes) == 0 {
		errs = append(errs, "schemes: at least one of "+strings.Join(KnownSchemes, ", "))
	}
	for _, s := range r.Schemes {
		if !slices.Contains(KnownSchemes, s) {
			errs = append(errs, fmt.Sprintf("schemes: unknown scheme %q (known: %s)", s, strings.Join(KnownSchemes, ", ")))
		}
	}
	if dup := firstDup(r.Schemes); dup != "" {
		errs = append(errs, fmt.Sprintf("schemes: %q listed twice", dup))
	}
	if r.Resource != "" && !resourceRE.MatchString(r.Resource) {
		errs = append(errs, "resource must be an API resource name (a-z 0-9 . _ -, at most 64)")
	}
	if r.Scope != "" {
		if _, err := core.ParseScope(r.Scope); err != nil {
			errs = append(errs, "scope: "+err.Error())
		}
	}
	if len(r.Upstreams) == 0 || len(r.Upstreams) > maxUpstreams {
		errs = append(errs, fmt.Sprintf("upstreams: 1 to %d base URLs", maxUpstreams))
	}
	for _, u := range r.Upstreams {
		if _, err := parseUpstream(u); err != nil {
			errs = append(errs, "upstreams: "+err.Error())
		}
	}
	if dup := firstDup(r.Upstreams); dup != "" {
		errs = append(errs, fmt.Sprintf("upstreams: %q listed twice", dup))
	}
	if t := time.Duration(r.Timeout); t != 0 && (t < time.Second || t > 10*time.Minute) {
		errs = append(errs, fmt.Sprintf("timeout %v: must be between 1s and 10m", t))
	}
	if len(errs) > 0 {
		return &core.Error{Kind: core.KindInvalidInput, Reason: strings.Join(errs, "; "), Reasons: errs}
	}
	return nil
}

func firstDup(list []string) string {
	for i, v := range list {
		if slices.Contains(list[:i], v) {
			return v
		}
	}
	return ""
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, l := range strings.Split(h, ".") {
		if !hostLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// validPrefix accepts a clean absolute path: no empty, "." or ".."
// segments, no trailing slash (except "/" itself), no escapes, query or
// fragment, and not inside an authgate namespace.
func validPrefix(p string) error {
	switch {
	case p == "":
		return errors.New("path_prefix must be set (\"/\" for every path)")
	case len(p) > maxPathPrefixLen:
		return fmt.Errorf("path_prefix: at most %d characters", maxPathPrefixLen)
	case p[0] != '/':
		return errors.New("path_prefix must start with /")
	case p == "/":
		return nil
	case strings.HasSuffix(p, "/"):
		return errors.New("path_prefix must not end with / (\"/api\" matches /api and /api/...)")
	}
	for _, c := range []byte(p) {
		if c <= 0x20 || c >= 0x7f || strings.IndexByte("%?#\\", c) >= 0 {
			return errors.New("path_prefix must be printable ASCII without spaces, %, ?, # or \\")
		}
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("path_prefix must not have empty, . or .. segments")
		}
	}
	for _, res := range Reserved {
		if underPrefix(p, res) {
			return fmt.Errorf("path_prefix %s is inside %s, which authgate serves itself", p, res)
		}
	}
	return nil
}

// underPrefix reports whether path is prefix or below it ("/api" covers
// /api and /api/x, not /apix); "/" covers every path.
func underPrefix(path, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == prefix || len(path) > len(prefix) && path[len(prefix)] == '/' && path[:len(prefix)] == prefix
}

// parseUpstream checks one upstream base URL: http or https, a host, no
// user info, query or fragment; its path is joined before the request's.
func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q: host missing", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q: user info is not allowed (credentials in URLs leak into logs)", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%q: no query or fragment", s)
	case u.Opaque != "":
		return nil, fmt.Errorf("%q is not a base URL", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// checkOverlaps refuses two routes that match the same requests: the same
// path prefix, a host in common (or both for any host) and a method in
// common (or either for every method). Names must be unique too.
func checkOverlaps(routes []Route) error {
	var errs []error
	for i := range routes {
		a := normalized(routes[i])
		for j := range i {
			b := normalized(routes[j])
			if a.Name == b.Name {
				errs = append(errs, fmt.Errorf("routes: name %q is used twice", a.Name))
				continue
			}
			if overlap(a, b) {
				errs = append(errs, fmt.Errorf("routes %q and %q match the same requests (path_prefix %s, hosts and methods overlap)", b.Name, a.Name, a.PathPrefix))
			}
		}
	}
	return errors.Join(errs...)
}

func normalized(r Route) Route {
	r.Hosts, r.Methods = slices.Clone(r.Hosts), slices.Clone(r.Methods)
	r.Normalize()
	return r
}

// overlap reports whether normalised routes a and b match a request in common.
func overlap(a, b Route) bool {
	if a.PathPrefix != b.PathPrefix {
		return false
	}
	common := func(x, y []string) bool {
		if len(x) == 0 || len(y) == 0 {
			return true // every method
		}
		for _, v := range x {
			if slices.Contains(y, v) {
				return true
			}
		}
		return false
	}
	hostsCommon := (len(a.Hosts) == 0 && len(b.Hosts) == 0) || (len(a.Hosts) > 0 && len(b.Hosts) > 0 && common(a.Hosts, b.Hosts))
	return hostsCommon && common(a.Methods, b.Methods)
}
