package fuzz

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/gateway"
)

// FuzzDescribeOriginal: whatever a front end's description is accepted
// as has an origin-form URI with a canonical path, a method token, no
// X-Authgate-* or describing header left, and describes itself again when
// sent on as nginx would describe it.
func FuzzDescribeOriginal(f *testing.F) {
	for _, s := range [][3]string{
		{"/gateway/check", "/api/x?a=1", "GET"},
		{"/gateway/check", "/a/../b", "POST"},
		{"/gateway/check/api/x?b=%2F", "", ""},
		{"/gateway/check", "/%2e%2e/x", "get"},
		{"/gateway/check", "//h/x", "GET"},
	} {
		f.Add(s[0], s[1], s[2], "api.example")
	}
	f.Fuzz(func(t *testing.T, target, uri, method, host string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		r := (&http.Request{Method: "GET", URL: u, RequestURI: target, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(context.Background())
		r.Host = "authgate.internal"
		if uri != "" {
			r.Header.Set("X-Original-URI", uri)
			r.Header.Set("X-Original-Method", method)
		}
		if host != "" {
			r.Header.Set("X-Forwarded-Host", host)
		}
		d, err := gateway.DescribeOriginal(r)
		if err != nil {
			return
		}
		o := d.Request
		p := o.URL.Path
		if !strings.HasPrefix(o.RequestURI, "/") || strings.HasPrefix(o.RequestURI, "//") {
			t.Fatalf("accepted URI %q", o.RequestURI)
		}
		if c := path.Clean(p); c != p && c+"/" != p {
			t.Fatalf("accepted a non-canonical path %q", p)
		}
		if o.Method == "" || strings.ContainsAny(o.Method, " \r\n/") {
			t.Fatalf("accepted method %q", o.Method)
		}
		for name := range o.Header {
			if strings.HasPrefix(http.CanonicalHeaderKey(name), "X-Authgate-") || name == "X-Original-Uri" || name == "X-Forwarded-Host" {
				t.Fatalf("header %s left in the original", name)
			}
		}
		again := httptest.NewRequest("GET", "http://authgate/gateway/check", nil)
		again.Host = o.Host
		again.Header.Set("X-Original-URI", o.RequestURI)
		again.Header.Set("X-Original-Method", o.Method)
		d2, err := gateway.DescribeOriginal(again)
		if err != nil || d2.Request.RequestURI != o.RequestURI || d2.Request.Method != o.Method || d2.Request.Host != o.Host {
			t.Fatalf("%q %q %q does not describe itself again: %v", o.Method, o.RequestURI, o.Host, err)
		}
	})
}
