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
