package oauth2_test

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

var placeholderN = regexp.MustCompile(`_[0-9]+>`)

// firstPlaceholders renumbers every <KIND_n> placeholder to <KIND_1>, so a
// lone response compares with a golden file recorded mid-sequence.
func firstPlaceholders(s string) string { return placeholderN.ReplaceAllString(s, "_1>") }

// TestGrantTypeUpperCaseAsDeviceServerAccepted: the device server
// accepted grant_type=PASSWORD (any case); authgate answered
// unsupported_grant_type. Every spelling of the three grants is accepted
// now, and the answer is exactly the documented one (the golden files of
// TestDeviceServerDocumentedExamples) in each representation.
func TestGrantTypeUpperCaseAsDeviceServerAccepted(t *testing.T) {
	const devserver = "application/vnd.imgtec.com.oauthtoken+json"
	for _, shape := range []string{"flat", "wrapped"} {
		t.Run(shape, func(t *testing.T) {
			e := start(t, agtest.Options{}, true, func(c *oauth2.Config) { c.DeviceServerResponse = shape })
			render := func(r resp) string {
				n := &normaliser{repl: map[string]string{e.URL: "http://localhost:8080"}, count: map[string]int{}}
				n.name(e.Admin.Key, "ADMIN_KEY")
				return n.render(r)
			}
			goldenFile := func(name string) string {
				b, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
				if err != nil {
					t.Fatal(err)
				}
				return firstPlaceholders(string(b))
			}
			password := func(gt, accept string) resp {
				return e.do("POST", "/oauth/token", with(formHeader(), "Accept", accept),
					url.Values{"grant_type": {gt}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}}.Encode())
			}
			for _, gt := range []string{"PASSWORD", "Password", "pAsSwOrD"} {
				if got, want := render(password(gt, "application/json")), goldenFile("token_password"); got != want {
					t.Errorf("grant_type=%s:\n%s\nwant\n%s", gt, got, want)
				}
				if got, want := render(password(gt, devserver)), goldenFile("token_password_devserver_"+shape); got != want {
					t.Errorf("grant_type=%s, device server type:\n%s\nwant\n%s", gt, got, want)
				}
			}
			for _, gt := range []string{"REFRESH_TOKEN", "Refresh_Token"} {
				_, rt := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
				r := e.do("POST", "/oauth/token", with(formHeader(), "Accept", devserver), url.Values{"grant_type": {gt}, "refresh_token": {rt}}.Encode())
				if got, want := render(r), goldenFile("token_refresh_devserver_"+shape); got != want {
					t.Errorf("grant_type=%s:\n%s\nwant\n%s", gt, got, want)
				}
			}
			cc := func(gt string) string {
				return render(e.do("POST", "/oauth/token", with(formHeader(), "Authorization", "Basic "+b64(url.QueryEscape(e.Admin.Key)+":"+url.QueryEscape(e.Admin.Secret))),
					url.Values{"grant_type": {gt}}.Encode()))
			}
			if got, want := cc("CLIENT_CREDENTIALS"), cc("client_credentials"); got != want {
				t.Errorf("grant_type=CLIENT_CREDENTIALS:\n%s\nwant\n%s", got, want)
			}
			// Still a client_credentials grant: client authentication required.
			checkError(t, e.do("POST", "/oauth/token", formHeader(), "grant_type=Client_Credentials"), 401, "invalid_client", "client authentication required", "Basic")
			// Other names stay unsupported, and are echoed as sent.
			checkError(t, password("PASSWORD2", "application/json"), 400, "unsupported_grant_type", "grant_type PASSWORD2 is not supported", "")
			checkError(t, password("authorization_code", "application/json"), 400, "unsupported_grant_type", "authorization_code", "")
		})
	}
}
