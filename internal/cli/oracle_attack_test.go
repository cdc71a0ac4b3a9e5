package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/testutil/admintest"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/keytest"
)

// answer is what a caller learns from one request: the status, the body
// and the headers that are not per request (Date, X-Request-Id).
type answer struct {
	status int
	header http.Header
	body   string
}

func ask(t *testing.T, base, token, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := resp.Header.Clone()
	h.Del("Date")
	h.Del("X-Request-Id")
	return answer{status: resp.StatusCode, header: h, body: string(b)}
}

func (a answer) String() string {
	return strconv.Itoa(a.status) + " " + strings.TrimSpace(a.body)
}

func (a answer) same(b answer) bool {
	if a.status != b.status || a.body != b.body || len(a.header) != len(b.header) {
		return false
	}
	for k, v := range a.header {
		if strings.Join(v, "\n") != strings.Join(b.header[k], "\n") {
			return false
		}
	}
	return true
}

// luhnICCID completes the 18 digits of prefix with their Luhn check digit.
func luhnICCID(prefix string) string {
	sum := 0
	for i := len(prefix) - 1; i >= 0; i-- {
		d := int(prefix[i] - '0')
		if (len(prefix)-1-i)%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return prefix + strconv.Itoa((10-sum%10)%10)
}

// oracleWorld is the composed server with organisation A (an owner and a
// user asking) and one object of every type of the admin API in other
// organisations, made by an administrator through the admin API.
type oracleWorld struct {
	env                 *agtest.Env
	admin               string
	askers              map[core.PrincipalKind]string // organisation A's tokens
	askerIDs            map[string]bool               // their principal ids
	orgB, principalB    string
	credentialB, keyB   string // a credential id, an OAuth2 access key
	psk                 string // a PSK identity of B
	client, kid         string // a TAAP client of B and its key
	taapSIM             string
	brand               string // a TPV brand of B, with product 555
	apiKey              string // an M2MApiKey of acme (an organisation of its own)
	m2mSIM              string
	job                 string // a failed outbox job about acme
	account, accountOrg string // an Apstrata account (its own organisation) with member jane
}

func newOracleWorld(t *testing.T) *oracleWorld {
	t.Helper()
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		cfg := composedConfig(t)
		cfg.M2M.TA.Partners = []m2m.PartnerConfig{{Name: "acme"}}
		rt := &runtime{cfg: cfg, log: slog.New(slog.DiscardHandler), svc: svc}
		m, err := buildModules(context.Background(), rt)
		if err != nil {
			t.Fatal(err)
		}
		return m.http
	})
	ctx := context.Background()
	svc := env.Svc
	w := &oracleWorld{env: env, askers: map[core.PrincipalKind]string{}, askerIDs: map[string]bool{}}
	orgA := admintest.Org(t, svc, "org-a")
	w.admin = admintest.Token(t, svc, orgA, core.PrincipalAdmin)
	for _, k := range []core.PrincipalKind{core.PrincipalOwner, core.PrincipalUser} {
		w.askers[k] = admintest.Token(t, svc, orgA, k)
	}
	admin := func(method, path, body string) map[string]any {
		t.Helper()
		a := ask(t, env.URL, w.admin, method, path, body)
		if a.status/100 != 2 {
			t.Fatalf("admin %s %s: %s", method, path, a)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(a.body), &m); err != nil {
			t.Fatalf("admin %s %s: %v", method, path, err)
		}
		return m
	}
	str := func(m map[string]any, k string) string {
		t.Helper()
		s, ok := m[k].(string)
		if !ok || s == "" {
			t.Fatalf("no %s in %v", k, m)
		}
		return s
	}
	w.orgB = str(admin("POST", "/admin/organisations", `{"name":"org-b"}`), "id")
	w.principalB = str(admin("POST", "/admin/principals", `{"org_id":"`+w.orgB+`","kind":"owner","name":"b-owner"}`), "id")
	cred := admin("POST", "/admin/credentials", `{"principal_id":"`+w.principalB+`"}`)
	w.credentialB, w.keyB = str(cred, "id"), str(cred, "lookup")

	// A PSK identity of B, made by B's owner through the device-server API.
	psk := ask(t, env.URL, admintest.Token(t, svc, w.orgB, core.PrincipalOwner), "POST", "/identities/psk", "")
	var pv struct{ Identity string }
	if err := json.Unmarshal([]byte(psk.body), &pv); psk.status != http.StatusCreated || err != nil || pv.Identity == "" {
		t.Fatalf("PSK identity of B: %s (%v)", psk, err)
	}
	w.psk = pv.Identity

	pem, _ := json.Marshal(string(keytest.PublicKeyPEM(keytest.FakeRSAKey(2048))))
	c := admin("POST", "/admin/taap/clients", `{"org_id":"`+w.orgB+`","name":"b-client","public_keys":[`+string(pem)+`]}`)
	w.client = str(c, "client_id")
	kids, _ := c["kids"].([]any)
	if len(kids) != 1 {
		t.Fatalf("client kids: %v", c)
	}
	w.kid = kids[0].(string)
	w.taapSIM = luhnICCID("890126012345678901")
	admin("POST", "/admin/taap/sims", `{"org_id":"`+w.orgB+`","iccid":"`+w.taapSIM+`"}`)

	w.brand = str(admin("POST", "/admin/tpv/brands", `{"org_id":"`+w.orgB+`","name":"b-brand"}`), "brand_id")
	admin("POST", "/admin/tpv/brands/"+w.brand+"/products", `{"program_code":"555","name":"five"}`)

	w.apiKey = str(admin("POST", "/admin/m2m/apikeys", `{"partner":"acme"}`), "id")
	w.m2mSIM = luhnICCID("894902000000000002")
	admin("POST", "/admin/m2m/sims", `{"partner":"acme","iccid":"`+w.m2mSIM+`"}`)
	w.job = core.NewID()
	now := time.Now()
	if err := svc.Store.EnqueueJob(ctx, core.Job{ID: w.job, Queue: "m2m." + m2m.EnvTA, Payload: json.RawMessage(`{"kind":"admcl","partner":"acme"}`), RunAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Store.FailJob(ctx, w.job, now, "refused"); err != nil {
		t.Fatal(err)
	}

	acct := admin("POST", "/admin/apstrata/accounts", `{"name":"b-account"}`)
	w.account, w.accountOrg = str(acct, "auth_key"), str(acct, "org_id")
	admin("POST", "/admin/apstrata/accounts/"+w.account+"/members", `{"name":"jane"}`)
	return w
}

// forbiddenReasons are the audited refusals so far.
func forbiddenReasons(t *testing.T, svc core.Services) []string {
	t.Helper()
	ev, err := svc.Audit.List(context.Background(), core.AuditFilter{Action: core.AuditForbidden, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(ev))
	for _, e := range ev {
		out = append(out, e.Reason)
	}
	return out
}

// TestAttack_AdminExistenceOracle: an owner or a user of organisation A
// naming another organisation's existing object (every object type of the
// admin API, by its path, a sub-resource or a listing filter; read or
// change) gets byte for byte the answer for an identifier that names
// nothing: 404 in the operation's own words where the action is granted
// to its kind, 403 before anything is looked up where it is not. The
// refusal of the existing object is audited with its real reason.
func TestAttack_AdminExistenceOracle(t *testing.T) {
	w := newOracleWorld(t)
	nosuch := core.NewID()
	noICCID := luhnICCID("894902000000000009")
	productBody := `{"program_code":"556","name":"x"}`
	pem, _ := json.Marshal(string(keytest.PublicKeyPEM(keytest.FakeRSAKey(2048))))
	keyBody := `{"public_key":` + string(pem) + `}`
	const notFound, forbidden = http.StatusNotFound, http.StatusForbidden
	for _, tt := range []struct {
		name             string
		method           string
		path, nosuchPath string
		body             string
		want             int
		reason           string // in the audited refusal of the existing object
	}{
		{"organisation", "GET", "/admin/organisations/" + w.orgB, "/admin/organisations/" + nosuch, "", notFound, "organisations.read: organisations.read on another organisation's object"},
		{"principal", "GET", "/admin/principals/" + w.principalB, "/admin/principals/" + nosuch, "", notFound, "on another organisation's object"},
		{"principal disable", "POST", "/admin/principals/" + w.principalB + "/disable", "/admin/principals/" + nosuch + "/disable", "", forbidden, "is not granted"},
		{"credential", "GET", "/admin/credentials/" + w.credentialB, "/admin/credentials/" + nosuch, "", notFound, "credentials.read on another organisation's object"},
		{"credentials of a principal", "GET", "/admin/credentials?principal=" + w.principalB, "/admin/credentials?principal=" + nosuch, "", notFound, "credentials.read on another organisation's object"},
		{"credential revoke", "POST", "/admin/credentials/" + w.credentialB + "/revoke", "/admin/credentials/" + nosuch + "/revoke", "", forbidden, "is not granted"},

		{"TAAP client", "GET", "/admin/taap/clients/" + w.client, "/admin/taap/clients/" + nosuch, "", notFound, "taap.clients.read on another organisation's object"},
		{"TAAP client delete", "DELETE", "/admin/taap/clients/" + w.client, "/admin/taap/clients/" + nosuch, "", forbidden, "is not granted"},
		{"TAAP client keys", "GET", "/admin/taap/clients/" + w.client + "/keys", "/admin/taap/clients/" + nosuch + "/keys", "", notFound, "taap.clients.keys.read on another organisation's object"},
		{"TAAP client key", "GET", "/admin/taap/clients/" + w.client + "/keys/" + w.kid, "/admin/taap/clients/" + nosuch + "/keys/" + w.kid, "", notFound, "taap.clients.keys.read on another organisation's object"},
		{"TAAP client key add", "POST", "/admin/taap/clients/" + w.client + "/keys", "/admin/taap/clients/" + nosuch + "/keys", keyBody, forbidden, "is not granted"},
		{"TAAP client key revoke", "POST", "/admin/taap/clients/" + w.client + "/keys/" + w.kid + "/revoke", "/admin/taap/clients/" + nosuch + "/keys/" + w.kid + "/revoke", "", forbidden, "is not granted"},
		{"TAAP SIM", "GET", "/admin/taap/sims/" + w.taapSIM, "/admin/taap/sims/" + noICCID, "", notFound, "taap.sims.read on another organisation's object"},
		{"TAAP SIM delete", "DELETE", "/admin/taap/sims/" + w.taapSIM, "/admin/taap/sims/" + noICCID, "", forbidden, "is not granted"},

		{"TPV brand", "GET", "/admin/tpv/brands/" + w.brand, "/admin/tpv/brands/" + nosuch, "", notFound, "tpv.brands.read on another organisation's object"},
		{"TPV brand delete", "DELETE", "/admin/tpv/brands/" + w.brand, "/admin/tpv/brands/" + nosuch, "", forbidden, "is not granted"},
		{"TPV products", "GET", "/admin/tpv/brands/" + w.brand + "/products", "/admin/tpv/brands/" + nosuch + "/products", "", notFound, "tpv.products.read on another organisation's object"},
		{"TPV product", "GET", "/admin/tpv/brands/" + w.brand + "/products/555", "/admin/tpv/brands/" + nosuch + "/products/555", "", notFound, "tpv.products.read on another organisation's object"},
		{"TPV product add", "POST", "/admin/tpv/brands/" + w.brand + "/products", "/admin/tpv/brands/" + nosuch + "/products", productBody, forbidden, "is not granted"},
		{"TPV product delete", "DELETE", "/admin/tpv/brands/" + w.brand + "/products/555", "/admin/tpv/brands/" + nosuch + "/products/555", "", forbidden, "is not granted"},

		{"M2M partner", "GET", "/admin/m2m/partners/acme", "/admin/m2m/partners/nosuch", "", notFound, "m2m.partners.read on another organisation's object"},
		{"M2M keys of a partner", "GET", "/admin/m2m/apikeys?partner=acme", "/admin/m2m/apikeys?partner=nosuch", "", notFound, "m2m.apikeys.read on another organisation's object"},
		{"M2M SIMs of a partner", "GET", "/admin/m2m/sims?partner=acme", "/admin/m2m/sims?partner=nosuch", "", notFound, "m2m.sims.read on another organisation's object"},
		{"M2M key", "GET", "/admin/m2m/apikeys/" + w.apiKey, "/admin/m2m/apikeys/" + nosuch, "", notFound, "m2m.apikeys.read on another organisation's object"},
		{"M2M key revoke", "POST", "/admin/m2m/apikeys/" + w.apiKey + "/revoke", "/admin/m2m/apikeys/" + nosuch + "/revoke", "", forbidden, "is not granted"},
		{"M2M SIM", "GET", "/admin/m2m/sims/" + w.m2mSIM, "/admin/m2m/sims/" + noICCID, "", notFound, "m2m.sims.read on another organisation's object"},
		{"M2M SIM delete", "DELETE", "/admin/m2m/sims/" + w.m2mSIM, "/admin/m2m/sims/" + noICCID, "", forbidden, "is not granted"},
		{"M2M outbox job requeue", "POST", "/admin/m2m/outbox/" + w.job + "/requeue", "/admin/m2m/outbox/" + nosuch + "/requeue", "", forbidden, "is not granted"},

		{"Apstrata account", "GET", "/admin/apstrata/accounts/" + w.account, "/admin/apstrata/accounts/" + nosuch, "", notFound, "apstrata.accounts.read on another organisation's object"},
		{"Apstrata account delete", "DELETE", "/admin/apstrata/accounts/" + w.account, "/admin/apstrata/accounts/" + nosuch, "", forbidden, "is not granted"},
		{"Apstrata members", "GET", "/admin/apstrata/accounts/" + w.account + "/members", "/admin/apstrata/accounts/" + nosuch + "/members", "", notFound, "apstrata.members.read on another organisation's object"},
		{"Apstrata member", "GET", "/admin/apstrata/accounts/" + w.account + "/members/jane", "/admin/apstrata/accounts/" + nosuch + "/members/jane", "", notFound, "apstrata.members.read on another organisation's object"},
		{"Apstrata member add", "POST", "/admin/apstrata/accounts/" + w.account + "/members", "/admin/apstrata/accounts/" + nosuch + "/members", `{"name":"joe"}`, forbidden, "is not granted"},
		{"Apstrata member delete", "DELETE", "/admin/apstrata/accounts/" + w.account + "/members/jane", "/admin/apstrata/accounts/" + nosuch + "/members/jane", "", forbidden, "is not granted"},

		// The device-server API (/accesskeys, /identities) answers in its own shape, by the same rule.
		{"OAuth2 access key", "GET", "/accesskeys/" + w.keyB, "/accesskeys/" + nosuch, "", notFound, "accesskeys.read on another organisation's object"},
		{"OAuth2 access key delete", "DELETE", "/accesskeys/" + w.keyB, "/accesskeys/" + nosuch, "", notFound, "accesskeys.delete on another organisation's object"},
		{"PSK identity", "GET", "/identities/psk/" + w.psk, "/identities/psk/" + nosuch, "", notFound, "identities.read on another organisation's object"},
		{"PSK identity delete", "DELETE", "/identities/psk/" + w.psk, "/identities/psk/" + nosuch, "", notFound, "identities.psk.delete on another organisation's object"},
		// The legacy TAAP admin API is administrators' only: 403 before any lookup.
		{"legacy TAAP client key add", "POST", "/taap/v1/clients/" + w.client + "/keys", "/taap/v1/clients/" + nosuch + "/keys", keyBody, forbidden, "is not granted"},
	} {
		for kind, tok := range w.askers {
			t.Run(tt.name+"/"+string(kind), func(t *testing.T) {
				before := len(forbiddenReasons(t, w.env.Svc))
				got := ask(t, w.env.URL, tok, tt.method, tt.path, tt.body)
				refusals := forbiddenReasons(t, w.env.Svc)
				if got.status != tt.want {
					t.Fatalf("%s %s: %s, want %d", tt.method, tt.path, got, tt.want)
				}
				if len(refusals) != before+1 || !strings.Contains(refusals[0], tt.reason) {
					t.Fatalf("%s %s: refusals audited %d -> %d (newest %q), want one more with %q", tt.method, tt.path, before, len(refusals), refusals[0], tt.reason)
				}
				unknown := ask(t, w.env.URL, tok, tt.method, tt.nosuchPath, tt.body)
				if !got.same(unknown) {
					t.Fatalf("existing and unknown told apart:\n%s %s: %s %v\n%s %s: %s %v", tt.method, tt.path, got, got.header,
						tt.method, tt.nosuchPath, unknown, unknown.header)
				}
			})
		}
	}
	// Nothing changed, and an administrator still sees every object.
	if cr, err := w.env.Svc.Store.FindCredential(context.Background(), core.CredPSK, w.psk); err != nil || cr.RevokedAt != nil {
		t.Errorf("PSK identity after the refused delete: %+v, %v", cr, err)
	}
	for _, p := range []string{"/admin/principals/" + w.principalB, "/admin/taap/clients/" + w.client, "/admin/tpv/brands/" + w.brand + "/products/555",
		"/admin/m2m/sims/" + w.m2mSIM, "/admin/apstrata/accounts/" + w.account + "/members/jane", "/admin/organisations/" + w.orgB} {
		if a := ask(t, w.env.URL, w.admin, "GET", p, ""); a.status != 200 || bytes.Contains([]byte(a.body), []byte(`"deleted_at"`)) || bytes.Contains([]byte(a.body), []byte(`"disabled":true`)) {
			t.Errorf("admin GET %s: %s", p, a)
		}
	}
}
