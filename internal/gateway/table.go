package gateway

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/authgate/authgate/internal/scheme"
)

// route is a validated route ready to match and proxy.
type route struct {
	Route
	schemes   []scheme.Scheme // in the route's order
	scope     []string        // required scope tokens
	upstreams []*url.URL
	next      atomic.Uint64 // round-robin position
	source    string        // "config" or "database"
	series    routeSeries
	pattern   string // the request's Pattern in the listener's metrics: "gateway NAME"
}

// pick returns the upstream of this request, round-robin.
func (rt *route) pick() *url.URL {
	if len(rt.upstreams) == 1 {
		return rt.upstreams[0]
	}
	return rt.upstreams[(rt.next.Add(1)-1)%uint64(len(rt.upstreams))]
}

// methodOK reports whether the route takes method.
func (rt *route) methodOK(method string) bool {
	return len(rt.Methods) == 0 || slices.Contains(rt.Methods, method)
}

// compile checks r against the enabled schemes and prepares it.
func compile(r Route, set scheme.Set, source string) (*route, error) {
	r.Hosts, r.Methods = slices.Clone(r.Hosts), slices.Clone(r.Methods)
	r.Normalize()
	if err := r.Validate(); err != nil {
		return nil, err
	}
	rt := &route{Route: r, source: source, pattern: "gateway " + r.Name}
	for _, name := range r.Schemes {
		s, ok := set[name]
		if !ok {
			return nil, fmt.Errorf("scheme %s is not enabled (its protocol family is off)", name)
		}
		rt.schemes = append(rt.schemes, s)
	}
	rt.scope = strings.Fields(r.Scope)
	for _, u := range r.Upstreams {
		pu, err := parseUpstream(u)
		if err != nil {
			return nil, err
		}
		rt.upstreams = append(rt.upstreams, pu)
	}
	return rt, nil
}

// table is an immutable set of routes, indexed by host. Routes naming the
// request's host are tried before routes for any host; within each group
// the longest path prefix wins, and at equal prefixes the method decides
// (Validate keeps their methods disjoint).
type table struct {
	byHost  map[string][]*route // longest prefix first
	anyHost []*route
	byName  map[string]*route
}

func newTable(routes []*route) *table {
	t := &table{byHost: map[string][]*route{}, byName: map[string]*route{}}
	for _, rt := range routes {
		t.byName[rt.Name] = rt
		if len(rt.Hosts) == 0 {
			t.anyHost = append(t.anyHost, rt)
			continue
		}
		for _, h := range rt.Hosts {
			t.byHost[h] = append(t.byHost[h], rt)
		}
	}
	longestFirst := func(a, b *route) int {
		if d := len(b.PathPrefix) - len(a.PathPrefix); d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	}
	for _, list := range t.byHost {
		slices.SortFunc(list, longestFirst)
	}
	slices.SortFunc(t.anyHost, longestFirst)
	return t
}

// match finds the route of a request. When routes cover the path but
// none takes the method, allow lists the methods they take.
func (t *table) match(host, path, method string) (rt *route, allow []string) {
	for _, list := range [2][]*route{t.byHost[host], t.anyHost} {
		for _, c := range list {
			if !underPrefix(path, c.PathPrefix) {
				continue
			}
			if c.methodOK(method) {
				return c, nil
			}
			allow = append(allow, c.Methods...)
		}
	}
	slices.Sort(allow)
	return nil, slices.Compact(allow)
}

// requestHost is the request's host as routes name it: lower case,
// without port, trailing dot or IPv6 brackets.
func requestHost(hostport string) string {
	h := hostport
	split := false
	if strings.IndexByte(hostport, ':') >= 0 { // without one, SplitHostPort fails (and allocates its error)
		if host, _, err := net.SplitHostPort(hostport); err == nil {
			h, split = host, true
		}
	}
	if !split && strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
