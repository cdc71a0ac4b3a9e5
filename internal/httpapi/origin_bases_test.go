package httpapi

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestOriginRemembersBoundedBases: an Origin from NewOrigin gives the
// bases the per-request formatting gives, the first time and every time
// after; it remembers those of allowed hosts and local addresses only
// (never a localhost name the client chose), at most maxOriginBases.
func TestOriginRemembersBoundedBases(t *testing.T) {
	reqOn := func(host, ip string, port int) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		local := &net.TCPAddr{IP: net.ParseIP(ip), Port: port}
		return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local)))
	}
	o, err := NewOrigin("", []string{"auth.example.net"}, ClientAddr{})
	if err != nil {
		t.Fatal(err)
	}
	plain := Origin{allowed: o.allowed} // the same Origin, formatting every time
	cases := []struct {
		host, ip   string
		remembered bool
	}{
		{"auth.example.net", "10.0.0.5", true},
		{"AUTH.example.net", "10.0.0.5", true},
		{"10.0.0.5:8080", "10.0.0.5", true},
		{"evil.example", "10.0.0.5", true}, // answered with the local address
		{"127.0.0.1", "127.0.0.1", true},   // nginx's $host: the local address
		{"[::1]:8080", "::1", true},
		{"localhost:8080", "127.0.0.1", false},
		{"app.localhost:8080", "127.0.0.1", false},
	}
	for round := range 2 {
		for _, tc := range cases {
			before := o.bases.len()
			r := reqOn(tc.host, tc.ip, 8080)
			got, want := o.Base(r), plain.Base(r)
			if got != want {
				t.Errorf("round %d, Host %q on %s: %q, want %q", round, tc.host, tc.ip, got, want)
			}
			if round == 1 && o.bases.len() != before {
				t.Errorf("Host %q on %s: remembered again", tc.host, tc.ip)
			}
		}
	}
	// The allowed host, 10.0.0.5:8080, 127.0.0.1:8080, [::1]:8080; no localhost name.
	if n := o.bases.len(); n != 4 {
		t.Fatalf("%d bases remembered, want 4 (no localhost name)", n)
	}
	// Over TLS the same host has a base of its own.
	r := reqOn("auth.example.net", "10.0.0.5", 8080)
	r.TLS = &tls.ConnectionState{}
	if got := o.Base(r); got != "https://auth.example.net" {
		t.Fatalf("TLS: %q", got)
	}
	r.TLS = nil
	if got := o.Base(r); got != "http://auth.example.net" {
		t.Fatalf("after TLS: %q", got)
	}
	for port := range 2 * maxOriginBases {
		r := reqOn("x.example", "10.0.0.5", 1000+port)
		if got, want := o.Base(r), fmt.Sprintf("http://10.0.0.5:%d", 1000+port); got != want {
			t.Fatalf("port %d: %q, want %q", 1000+port, got, want)
		}
	}
	if n := o.bases.len(); n > 2*maxOriginBases || len(o.bases.byHost[0]) > maxOriginBases {
		t.Fatalf("%d bases remembered, bound %d per scheme", n, maxOriginBases)
	}
}
