package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	xoauth2 "golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authgate/authgate/internal/testutil/fronttest"
	"github.com/authgate/authgate/internal/testutil/phptest"
)

// gatewayConfig: every HTTP family enabled, a route per scheme. TPV's
// built-in resources are off, so the TPV API paths are the upstream's
// (authgate keeps the login at /api/v1/auth and checks the Signature).
func gatewayConfig(up *fronttest.Upstream) string {
	return `access_log: false
tpv:
  enabled: true
  resources: false
apstrata:
  enabled: true
taap:
  enabled: true
gateway:
  enabled: true
  routes:
    - name: bearer
      path_prefix: /bearer
      schemes: [oauth2-bearer]
      upstreams: [` + up.URL + `]
    - name: orders
      path_prefix: /orders
      schemes: [taap-pop]
      upstreams: [` + up.URL + `]
    - name: aps
      path_prefix: /aps
      schemes: [apstrata]
      upstreams: [` + up.URL + `]
    - name: api
      path_prefix: /api/v1
      schemes: [tpv-signature]
      upstreams: [` + up.URL + `]
`
}

// TestGatewayClients: real clients through the gateway mode reach the
// upstream, which accepts them only with an X-Authgate-Identity that
// authgate's JWKS verifies for the route: golang.org/x/oauth2 (client
// credentials and password grants), the TPV PHP sample (its sale and
// digital delivery signed), npm tmo-poptoken-builder (once, then refused
// as a replay), and Apstrata SaveDocument signed as the vendor's PHP SDK
// signs it (default and simple signature, owner and user), forwarded
// without the client's credentials.
func TestGatewayClients(t *testing.T) {
	up := fronttest.NewUpstream(t)
	n := startNode(t, gatewayConfig(up))
	verify := verifiedUpstream(t, n).Handler
	up.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The TPV API answers as the vendor's does, after the identity check.
		switch {
		case r.URL.Path == "/api/v1/tpv":
			rec := &capture{header: http.Header{}}
			verify.ServeHTTP(rec, r)
			if rec.status != 0 && rec.status != 200 {
				http.Error(w, string(rec.body), rec.status)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"success":"00012345678"}`))
		case strings.HasPrefix(r.URL.Path, "/api/v1/digital/send/"):
			rec := &capture{header: http.Header{}}
			verify.ServeHTTP(rec, r)
			if rec.status != 0 && rec.status != 200 {
				http.Error(w, string(rec.body), rec.status)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"success":"Digital delivery by email requested for ` + strings.TrimPrefix(r.URL.Path, "/api/v1/digital/send/") + `."}`))
		default:
			verify.ServeHTTP(w, r)
		}
	})
	ctx := context.Background()

	t.Run("golang.org/x/oauth2", func(t *testing.T) {
		key, secret := n.accessKey(t, "xoauth2")
		subject := ""
		for name, hc := range map[string]func() *http.Client{
			"client credentials": func() *http.Client {
				return (&clientcredentials.Config{ClientID: key, ClientSecret: secret, TokenURL: n.URL + "/oauth/token"}).Client(ctx)
			},
			"password": func() *http.Client {
				conf := &xoauth2.Config{Endpoint: xoauth2.Endpoint{TokenURL: n.URL + "/oauth/token"}}
				tok, err := conf.PasswordCredentialsToken(ctx, key, secret)
				if err != nil {
					t.Fatal(err)
				}
				return conf.Client(ctx, tok)
			},
		} {
			res, err := hc().Get(n.URL + "/bearer/reports?month=11")
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]string
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if res.StatusCode != 200 || body["sub"] == "" || subject != "" && body["sub"] != subject || body["scheme"] != "oauth2-bearer" {
				t.Fatalf("%s: %d %v (subject of the other grant %q)", name, res.StatusCode, body, subject)
			}
			subject = body["sub"]
			if got := up.Last(t); got.URI != "/bearer/reports?month=11" || got.Header.Get("Authorization") != "" {
				t.Fatalf("%s: upstream got %s %v", name, got.URI, got.Header)
			}
		}
	})

	t.Run("TPV PHP sample", func(t *testing.T) {
		php := phptest.Require(t)
		var brand struct {
			Token  string `json:"application_token"`
			Secret string `json:"application_secret"`
		}
		n.runJSON(t, &brand, "tpv", "brand", "create", "--name", "Gateway Energy", "--product", "555=Fixed 12 months")
		src, err := os.ReadFile("testdata/tpv_signed_sample.php")
		if err != nil {
			t.Fatal(err)
		}
		script := strings.NewReplacer(`"(token here)"`, strconv.Quote(brand.Token), `"(application secret)"`, strconv.Quote(brand.Secret),
			`"(client portal)"`, strconv.Quote(n.URL)).Replace(string(src))
		path := filepath.Join(t.TempDir(), "sample.php")
		if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
			t.Fatal(err)
		}
		before := up.Count()
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, php, path).CombinedOutput()
		if err != nil {
			t.Fatalf("php: %v\n%s", err, out)
		}
		if !regexp.MustCompile(`API Authenticated :: AUTH TOKEN IS \S+\n`).Match(out) ||
			!strings.Contains(string(out), "TPV Submission Successful :: Confirmation Code is 00012345678\n") ||
			!strings.Contains(string(out), "DIGITAL :: Digital delivery by email requested for 00012345678.") {
			t.Fatalf("the sample's output:\n%s", out)
		}
		reqs := up.Requests()[before:]
		if len(reqs) != 2 || reqs[0].URI != "/api/v1/tpv" || !strings.Contains(string(reqs[0].Body), `"authorizing_first_name":"John"`) ||
			reqs[1].URI != "/api/v1/digital/send/00012345678" {
			t.Fatalf("upstream got %d requests: %+v", len(reqs), reqs)
		}
		for _, r := range reqs {
			if r.Header.Get("X-Authgate-Scheme") != "tpv-signature" || r.Header.Get("X-Authgate-Subject") == "" ||
				r.Header.Get("Signature") != "" || r.Header.Get("Authorization") != "" {
				t.Fatalf("upstream got %s %v", r.URI, r.Header)
			}
		}
	})

	t.Run("npm tmo-poptoken-builder", func(t *testing.T) {
		client := n.taapClient(t, "gw-pop")
		at := n.taapToken(t, client)
		const uri = "/orders?state=open"
		body := `{"sku":"sim-5g","qty":2}`
		toks := npmPoP(t, client.KeyPEM,
			[][2]string{{"Authorization", "Bearer " + at}, {"uri", uri}, {"http-method", "GET"}},
			[][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer " + at}, {"uri", uri}, {"http-method", "POST"}, {"body", body}})
		get := func() (int, http.Header, string) {
			req, _ := http.NewRequest("GET", n.URL+uri, nil)
			req.Header.Set("Authorization", "Bearer "+at)
			req.Header.Set("X-Authorization", toks[0])
			return send(t, req)
		}
		if status, _, b := get(); status != 200 || !strings.Contains(b, `"scheme":"taap-pop"`) {
			t.Fatalf("PoP: %d %s", status, b)
		}
		n0 := up.Count()
		if status, hdr, _ := get(); status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_pop_token") || up.Count() != n0 {
			t.Fatalf("replayed PoP: %d %v, upstream reached %d times", status, hdr, up.Count()-n0)
		}
		// The body is buffered for a PoP that signs it, and forwarded.
		req, _ := http.NewRequest("POST", n.URL+uri, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+at)
		req.Header.Set("X-Authorization", toks[1])
		if status, _, b := send(t, req); status != 200 || string(up.Last(t).Body) != body {
			t.Fatalf("PoP over the body: %d %s, upstream body %q", status, b, up.Last(t).Body)
		}
	})

	t.Run("Apstrata SaveDocument as the PHP SDK signs it", func(t *testing.T) {
		php := phptest.Require(t)
		var acct struct {
			AuthKey string `json:"auth_key"`
			Secret  string `json:"secret"`
		}
		n.runJSON(t, &acct, "apstrata", "account", "--name", "gateway-docs")
		pw := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pw, []byte("jane's password"), 0o600); err != nil {
			t.Fatal(err)
		}
		n.run(t, "apstrata", "member", "--auth-key", acct.AuthKey, "--id", "jane", "--password-file", pw)
		script, _ := filepath.Abs("../../protocol/apstrata/testdata/php_sdk_action.php")
		for _, tc := range []struct{ mode, login, key string }{
			{"default", "", acct.Secret},
			{"simple", "", acct.Secret},
			{"default", "jane", "jane's password"},
			{"simple", "jane", "jane's password"},
		} {
			name := tc.mode + " " + map[bool]string{true: "owner", false: "user"}[tc.login == ""]
			t.Run(name, func(t *testing.T) {
				docKey := "doc-" + tc.mode + "-" + strconv.FormatBool(tc.login == "")
				out, err := exec.Command(php, script, n.URL+"/aps", acct.AuthKey, "SaveDocument", tc.mode, tc.login, tc.key,
					strconv.FormatInt(time.Now().Unix(), 10), "POST", "apsdb.documentKey="+docKey, "apsdb.store=DefaultStore", "title=Hello gateway").CombinedOutput()
				if err != nil || !strings.HasPrefix(string(out), "200\n") {
					t.Fatalf("php: %v\n%s", err, out)
				}
				got := up.Last(t)
				form, err := url.ParseQuery(string(got.Body))
				if err != nil || got.Method != "POST" || got.URI != "/aps/"+acct.AuthKey+"/SaveDocument" || form.Get("apsdb.documentKey") != docKey || form.Get("title") != "Hello gateway" {
					t.Fatalf("upstream got %s %s %q", got.Method, got.URI, got.Body)
				}
				for k := range form {
					if strings.HasPrefix(k, "apsws.") {
						t.Fatalf("the client's %s reached the upstream: %q", k, got.Body)
					}
				}
				if got.Header.Get("X-Authgate-Scheme") != "apstrata" || got.Header.Get("X-Authgate-Subject") == "" {
					t.Fatalf("upstream identity %v", got.Header)
				}
			})
		}
	})
}

// capture records what a handler answered.
type capture struct {
	header http.Header
	status int
	body   []byte
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(s int)   { c.status = s }
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = 200
	}
	c.body = append(c.body, b...)
	return len(b), nil
}
