package gateway

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func checkReq(target string, hdr ...string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "authgate.internal:8080"
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

// TestDescribeOriginal: each front end's description rebuilds the same
// original request; what a scheme must not see is gone.
func TestDescribeOriginal(t *testing.T) {
	tests := []struct {
		name        string
		req         *http.Request
		front       Front
		method, uri string
		host        string
		https       bool
		body        bool
	}{
		{"nginx auth_request", checkReq("/gateway/check", "X-Original-URI", "/api/v1/x?b=2&a=1", "X-Original-Method", "POST", "Host", "api.example"),
			FrontOriginal, "POST", "/api/v1/x?b=2&a=1", "api.example", false, false},
		{"caddy forward_auth (query appended to the check path)", checkReq("/gateway/check?b=2&a=1", "X-Forwarded-Uri", "/api/v1/x?b=2&a=1", "X-Forwarded-Method", "PUT",
			"X-Forwarded-Host", "api.example", "X-Forwarded-Proto", "https"),
			FrontForwarded, "PUT", "/api/v1/x?b=2&a=1", "api.example", true, false},
		{"traefik forwardAuth", checkReq("/gateway/check", "X-Forwarded-Uri", "/", "X-Forwarded-Method", "GET", "X-Forwarded-Host", "API.example:8443", "X-Forwarded-Proto", "http"),
			FrontForwarded, "GET", "/", "API.example:8443", false, false},
		{"both styles agreeing", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Forwarded-Uri", "/a", "X-Original-Method", "GET", "X-Forwarded-Method", "GET"),
			FrontOriginal, "GET", "/a", "authgate.internal:8080", false, false},
		{"envoy path prefix", checkReq("/gateway/check/api/v1/x?a=%20", "Host", "api.example"),
			FrontPathPrefix, "GET", "/api/v1/x?a=%20", "api.example", false, false},
		{"envoy with the whole body", checkReq("/gateway/check/api", "X-Envoy-Auth-Partial-Body", "false"),
			FrontPathPrefix, "GET", "/api", "authgate.internal:8080", false, true},
		{"envoy with a cut body", checkReq("/gateway/check/api", "X-Envoy-Auth-Partial-Body", "true"),
			FrontPathPrefix, "GET", "/api", "authgate.internal:8080", false, false},
		{"case-sensitive method kept as signed", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-Method", "post"),
			FrontOriginal, "post", "/a", "authgate.internal:8080", false, false},
		{"trailing slash kept", checkReq("/gateway/check", "X-Original-URI", "/a/b/", "X-Original-Method", "GET"),
			FrontOriginal, "GET", "/a/b/", "authgate.internal:8080", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Header.Set("Authorization", "Bearer x")
			tc.req.Header.Set("Connection", "keep-alive, X-Hop")
			tc.req.Header.Set("X-Hop", "1")
			tc.req.Header.Set("Content-Length", "0")
			tc.req.Header.Set("X-Envoy-Expected-Rq-Timeout-Ms", "200")
			d, err := DescribeOriginal(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			o := d.Request
			if d.Front != tc.front || o.Method != tc.method || o.RequestURI != tc.uri || o.URL.RequestURI() != tc.uri || o.Host != tc.host || o.URL.Host != tc.host {
				t.Fatalf("got %s %s %s %s (url %s)", d.Front, o.Method, o.RequestURI, o.Host, o.URL)
			}
			if (o.TLS != nil) != tc.https || (o.URL.Scheme == "https") != tc.https || d.BodyForwarded != tc.body {
				t.Fatalf("tls %v scheme %s body %v", o.TLS != nil, o.URL.Scheme, d.BodyForwarded)
			}
			if o.Header.Get("Authorization") != "Bearer x" {
				t.Fatal("the original's credentials were dropped")
			}
			for _, name := range append([]string{"X-Hop", "Connection", "Content-Length", "X-Envoy-Expected-Rq-Timeout-Ms", "X-Envoy-Auth-Partial-Body"}, describing...) {
				if o.Header.Get(name) != "" {
					t.Fatalf("%s kept in the original's headers", name)
				}
			}
			want := int64(0) // header front ends: no body declared
			if tc.front == FrontPathPrefix {
				want = -1
			}
			if o.ContentLength != want {
				t.Fatalf("content length %d, want %d", o.ContentLength, want)
			}
		})
	}
}

// TestDescribeOriginalLength: the front end's statement of the body's
// length becomes the original's ContentLength.
func TestDescribeOriginalLength(t *testing.T) {
	for _, tc := range []struct {
		target string
		hdr    []string
		want   int64
	}{
		{"/gateway/check", []string{"X-Original-Content-Length", "0"}, 0},
		{"/gateway/check", []string{"X-Original-Content-Length", "17"}, 17},
		{"/gateway/check", []string{"X-Original-Content-Length", "unknown"}, -1},
		{"/gateway/check", nil, 0},
		{"/gateway/check/a", nil, -1},
		{"/gateway/check/a", []string{"X-Original-Content-Length", "5"}, 5},
	} {
		hdr := tc.hdr
		if tc.target == "/gateway/check" {
			hdr = append(hdr, "X-Original-URI", "/a", "X-Original-Method", "GET")
		}
		d, err := DescribeOriginal(checkReq(tc.target, hdr...))
		if err != nil || d.Request.ContentLength != tc.want || d.Request.Header.Get(HeaderOriginalLength) != "" {
			t.Errorf("%s %v: %v length %d, want %d", tc.target, tc.hdr, err, d.Request.ContentLength, tc.want)
		}
	}
}

// TestAttack_DescribeOriginal: descriptions that could make the check
// decide for another request than the one the front end passes on.
func TestAttack_DescribeOriginal(t *testing.T) {
	tests := []struct {
		name string
		req  *http.Request
		want string
	}{
		{"spoofed identity header", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-Method", "GET", "X-Authgate-Subject", "admin"), "X-Authgate-*"},
		{"spoofed identity header, odd case", checkReq("/gateway/check/a", "x-authgate-anything", "1"), "X-Authgate-*"},
		{"no description", checkReq("/gateway/check"), "describes no original request"},
		{"uri without method", checkReq("/gateway/check", "X-Original-URI", "/a"), "without X-Original-Method"},
		{"header uri on a prefixed path", checkReq("/gateway/check/b", "X-Original-URI", "/a", "X-Original-Method", "GET"), "must go to"},
		{"two uris", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-URI", "/admin", "X-Original-Method", "GET"), "more than once"},
		{"styles disagree", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Forwarded-Uri", "/admin", "X-Original-Method", "GET"), "disagree"},
		{"methods disagree", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-Method", "GET", "X-Forwarded-Method", "DELETE"), "disagree"},
		{"two hosts", checkReq("/gateway/check", "X-Forwarded-Uri", "/a", "X-Forwarded-Method", "GET", "X-Forwarded-Host", "a", "X-Forwarded-Host", "b"), "more than once"},
		{"dot segments", checkReq("/gateway/check", "X-Original-URI", "/public/../admin", "X-Original-Method", "GET"), "not canonical"},
		{"encoded dot segments", checkReq("/gateway/check", "X-Original-URI", "/public/%2e%2e/admin", "X-Original-Method", "GET"), "not canonical"},
		{"empty segment", checkReq("/gateway/check", "X-Original-URI", "/public//admin", "X-Original-Method", "GET"), "not canonical"},
		{"encoded slash", checkReq("/gateway/check", "X-Original-URI", "/public%2F..%2Fadmin", "X-Original-Method", "GET"), "encoded"},
		{"backslash", checkReq("/gateway/check", "X-Original-URI", "/public\\..\\admin", "X-Original-Method", "GET"), "'\\'"},
		{"absolute uri", checkReq("/gateway/check", "X-Original-URI", "http://evil/a", "X-Original-Method", "GET"), "origin-form"},
		{"scheme-relative uri", checkReq("/gateway/check", "X-Original-URI", "//evil/a", "X-Original-Method", "GET"), "origin-form"},
		{"fragment", checkReq("/gateway/check", "X-Original-URI", "/a#b", "X-Original-Method", "GET"), "'#'"},
		{"huge uri", checkReq("/gateway/check", "X-Original-URI", "/"+strings.Repeat("a", maxDescribedURI), "X-Original-Method", "GET"), "too long"},
		{"method with a space", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-Method", "GET /admin"), "method token"},
		{"huge method", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-Method", strings.Repeat("A", 64)), "method token"},
		{"host with user info", checkReq("/gateway/check", "X-Forwarded-Uri", "/a", "X-Forwarded-Method", "GET", "X-Forwarded-Host", "user@evil"), "host[:port]"},
		{"odd proto", checkReq("/gateway/check", "X-Forwarded-Uri", "/a", "X-Forwarded-Method", "GET", "X-Forwarded-Proto", "gopher"), "neither http nor https"},
		{"envoy dot segments", checkReq("/gateway/check/public/../admin"), "not canonical"},
		{"negative length", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-Method", "GET", "X-Original-Content-Length", "-1"), "neither a length"},
		{"signed length", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-Method", "GET", "X-Original-Content-Length", "+5"), "neither a length"},
		{"two lengths", checkReq("/gateway/check", "X-Original-URI", "/a", "X-Original-Method", "GET", "X-Original-Content-Length", "0", "X-Original-Content-Length", "9"), "more than once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DescribeOriginal(tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestDescribingNamesCanonical: DescribeOriginal reads the describing
// headers from the map by these names, without canonicalising them per
// check; a name that is not canonical would never be found.
func TestDescribingNamesCanonical(t *testing.T) {
	for _, name := range append([]string{envoyPartialBody}, describing...) {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("%q is not canonical (%q)", name, c)
		}
	}
}

// TestDescribedHeaderSharesNoSpare: the described header's values are the
// check request's own slices (no copy). Appending to one, on either side,
// must not write into an array the other still reads: net/textproto's one
// array for all of a request's values (the next header's value), or the
// spare capacity of a header added value by value.
func TestDescribedHeaderSharesNoSpare(t *testing.T) {
	raw := "GET /gateway/check HTTP/1.1\r\nHost: api.example\r\nX-Original-URI: /api/x\r\nX-Original-Method: GET\r\n" +
		"A-First: 1\r\nB-Second: 2\r\nC-Third: 3\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} { // three values: capacity four
		r.Header.Add("M-Multi", v)
	}
	d, err := DescribeOriginal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"A-First", "B-Second", "C-Third", "M-Multi"} {
		d.Request.Header[name] = append(d.Request.Header[name], "appended")
	}
	r.Header.Add("M-Multi", "late")
	for name, want := range map[string]string{"A-First": "1", "B-Second": "2", "C-Third": "3", "X-Original-Method": "GET"} {
		if got := r.Header[name]; len(got) != 1 || got[0] != want {
			t.Errorf("check request's %s = %q after appending to the description's, want [%s]", name, got, want)
		}
	}
	for name, want := range map[string]string{"A-First": "1", "B-Second": "2", "C-Third": "3"} {
		if got := d.Request.Header[name]; len(got) != 2 || got[0] != want || got[1] != "appended" {
			t.Errorf("described %s = %q, want [%s appended]", name, got, want)
		}
	}
	if got := d.Request.Header["M-Multi"]; strings.Join(got, ",") != "a,b,c,appended" {
		t.Errorf("described M-Multi = %q after the check request's own append, want [a b c appended]", got)
	}
}
