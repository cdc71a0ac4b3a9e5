package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOrigin(t *testing.T) {
	reqOn := func(host, ip string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		local := &net.TCPAddr{IP: net.ParseIP(ip), Port: 8080}
		return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local)))
	}
	req := func(host string) *http.Request { return reqOn(host, "10.0.0.5") }
	pub, err := NewOrigin("https://auth.example.com/", nil, ClientAddr{})
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := NewOrigin("", []string{"Auth.Example.NET", "auth.example.net:8443"}, ClientAddr{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		o    Origin
		host string
		want string
	}{
		{pub, "evil.example", "https://auth.example.com"},
		{allowed, "auth.example.net", "http://auth.example.net"},
		{allowed, "AUTH.example.net:8443", "http://auth.example.net:8443"},
		{allowed, "auth.example.net:9999", "http://10.0.0.5:8080"},
		{allowed, "evil.example", "http://10.0.0.5:8080"},
		{Origin{}, "10.0.0.5:8080", "http://10.0.0.5:8080"},
		{Origin{}, "evil.example", "http://10.0.0.5:8080"},
		{Origin{}, "", "http://10.0.0.5:8080"},
		{Origin{}, "10.0.0.5:8080@evil.example", "http://10.0.0.5:8080"},
	}
	for _, tt := range tests {
		if got := tt.o.Base(req(tt.host)); got != tt.want {
			t.Errorf("Base(Host %q) = %q, want %q", tt.host, got, tt.want)
		}
	}
	// "localhost" names a loopback listener, with its port only.
	for _, tt := range []struct{ host, ip, want string }{
		{"localhost:8080", "127.0.0.1", "http://localhost:8080"},
		{"LOCALHOST:8080", "::1", "http://localhost:8080"},
		{"app.localhost:8080", "127.0.0.1", "http://app.localhost:8080"},
		{"localhost:9090", "127.0.0.1", "http://127.0.0.1:8080"},
		{"localhost:8080", "10.0.0.5", "http://10.0.0.5:8080"},
		{"localhost.evil.example:8080", "127.0.0.1", "http://127.0.0.1:8080"},
		{"evil.example/x.localhost:8080", "127.0.0.1", "http://127.0.0.1:8080"},
		{"evil.example@x.localhost:8080", "127.0.0.1", "http://127.0.0.1:8080"},
	} {
		if got := (Origin{}).Base(reqOn(tt.host, tt.ip)); got != tt.want {
			t.Errorf("Base(Host %q on %s) = %q, want %q", tt.host, tt.ip, got, tt.want)
		}
	}
	for _, bad := range []string{"ftp://x", "https://", "https://u:p@x.example", "https://x.example/?q=1", "not a url"} {
		if _, err := NewOrigin(bad, nil, ClientAddr{}); err == nil {
			t.Errorf("public_url %q accepted", bad)
		}
	}
	if _, err := NewOrigin("", []string{"evil.example/path"}, ClientAddr{}); err == nil {
		t.Error("allowed host with a path accepted")
	}
}

// localHost's TCP fast path gives what the general formatting gives.
func TestLocalHostTCPMatchesGeneral(t *testing.T) {
	for _, a := range []*net.TCPAddr{
		{IP: net.ParseIP("127.0.0.1"), Port: 8080},
		{IP: net.IPv4(10, 1, 2, 3).To4(), Port: 1},
		{IP: net.IPv4(10, 1, 2, 3), Port: 65535}, // 16-byte IPv4-mapped form
		{IP: net.ParseIP("::1"), Port: 443},
		{IP: net.ParseIP("2001:DB8::A:0:0:1"), Port: 80},
		{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "eth0"},
		{IP: net.ParseIP("::ffff:0:0"), Port: 80},
		{IP: net.ParseIP("::"), Port: 80},
		{IP: net.ParseIP("0.0.0.0"), Port: 0},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, a))
		if got, want := localHost(r), localHostOf(a); got != want {
			t.Errorf("%v: %q, want %q", a, got, want)
		}
	}
}

// BenchmarkOriginBase: the base of a request whose Host is the local
// address without its port (nginx's $host), as the gateway's identity
// token issuer asks it on every check: with a LocalOrigin (formatted per
// request) and with the Origin serve builds (NewOrigin: remembered).
func BenchmarkOriginBase(b *testing.B) {
	remembered, err := NewOrigin("", nil, ClientAddr{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Origin
	}{{"local", LocalOrigin(ClientAddr{})}, {"remembered", remembered}} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = "127.0.0.1"
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}))
			b.ReportAllocs()
			for b.Loop() {
				if tc.o.Base(r) != "http://127.0.0.1:8080" {
					b.Fatal(tc.o.Base(r))
				}
			}
		})
	}
}
