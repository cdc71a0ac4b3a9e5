package oauth2_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestIdentitiesRefusalGolden pins the device-server shapes of the
// identities routes' refusals (status, challenge, body) and of the mTLS
// listener's certificate refusal in golden files, taken before the
// identities left the oauth2 package: the move changed no byte.
func TestIdentitiesRefusalGolden(t *testing.T) {
	w := newIDWorld(t)
	n := &normaliser{repl: map[string]string{w.env.URL: "http://localhost:8080", w.mtlsURL: "https://localhost:8443"}, count: map[string]int{}}
	send := func(c *http.Client, method, u string, h map[string]string, body string) resp {
		t.Helper()
		req, err := http.NewRequest(method, u, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return resp{Status: res.StatusCode, Header: res.Header, Body: b}
	}
	render := func(r resp) string {
		return "WWW-Authenticate: " + r.Header.Get("WWW-Authenticate") + "\nRetry-After: " + r.Header.Get("Retry-After") + "\n" + n.render(r)
	}
	c := http.DefaultClient
	golden(t, "identities_refusal_missing", render(send(c, "GET", w.env.URL+"/identities", nil, "")))
	golden(t, "identities_refusal_malformed", render(send(c, "GET", w.env.URL+"/identities", map[string]string{"Authorization": "Bearer a b"}, "")))
	golden(t, "identities_refusal_invalid", render(send(c, "GET", w.env.URL+"/identities/psk", bearer("not-a-token"), "")))
	golden(t, "identities_refusal_media_type", render(send(c, "POST", w.env.URL+"/identities/certificates", with(bearer(w.token), "Content-Type", "text/plain"), "x")))
	golden(t, "identities_refusal_paging", render(send(c, "GET", w.env.URL+"/identities/psk?pageSize=0", bearer(w.token), "")))
	golden(t, "identities_refusal_not_found", render(send(c, "GET", w.env.URL+"/identities/psk/unknown", bearer(w.token), "")))

	ok, _ := issueDevice(t, w, "golden-device")
	dc := w.mtlsClient(t, ok)
	res, err := dc.PostForm(w.mtlsURL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := (resp{Status: res.StatusCode, Body: body}).json(t)["access_token"].(string)
	golden(t, "identities_refusal_device_manages", render(send(dc, "POST", w.mtlsURL+"/identities/psk", bearer(tok), "")))

	disabled, disabledCert := issueDevice(t, w, "golden-disabled")
	if err := w.env.Svc.Store.SetPrincipalDisabled(context.Background(), disabledCert.Subject.CommonName, true); err != nil {
		t.Fatal(err)
	}
	golden(t, "identities_refusal_current_disabled", render(send(w.mtlsClient(t, disabled), "GET", w.mtlsURL+"/identities/current", nil, "")))
	golden(t, "identities_refusal_tls_client_auth_disabled", render(send(w.mtlsClient(t, disabled), "POST", w.mtlsURL+"/oauth/token",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "grant_type=client_credentials")))
}
