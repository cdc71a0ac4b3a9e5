package gateway

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"reflect"
	"testing"
)

// TestSetForwardedIsSetXForwarded: setForwarded sets what
// httputil.ProxyRequest.SetXForwarded sets (then X-Forwarded-Proto https
// when secure), for every combination of client address, chain so far,
// Host and TLS.
func TestSetForwardedIsSetXForwarded(t *testing.T) {
	for _, remote := range []string{"198.51.100.7:40000", "[2001:db8::1]:443", "198.51.100.7", "", "garbage:"} {
		for _, prior := range [][]string{nil, {}, {"203.0.113.1"}, {"203.0.113.1, 203.0.113.2", "203.0.113.3"}} {
			for _, host := range []string{"api.example", "", "API.example:8443"} {
				for _, overTLS := range []bool{false, true} {
					for _, secure := range []bool{false, true} {
						in := httptest.NewRequest("GET", "/x", nil)
						in.RemoteAddr, in.Host = remote, host
						if overTLS {
							in.TLS = &tls.ConnectionState{}
						} else {
							in.TLS = nil
						}
						want, got := in.Clone(in.Context()), in.Clone(in.Context())
						for _, out := range []*http.Request{want, got} {
							out.Header = http.Header{"Accept": {"*/*"}}
							if prior != nil {
								out.Header["X-Forwarded-For"] = prior
							}
						}
						pr := &httputil.ProxyRequest{In: in, Out: want}
						pr.SetXForwarded()
						if secure {
							want.Header.Set("X-Forwarded-Proto", "https")
						}
						var vals [3]string
						setForwarded(got, in, secure, &vals)
						name := fmt.Sprintf("remote %q, prior %q, host %q, TLS %v, secure %v", remote, prior, host, overTLS, secure)
						if !reflect.DeepEqual(got.Header, want.Header) {
							t.Errorf("%s:\n got %v\nwant %v", name, got.Header, want.Header)
						}
					}
				}
			}
		}
	}
}
