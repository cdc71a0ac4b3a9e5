package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdkpop "github.com/authgate/authgate/sdk/pop"
)

// refreshFamily drives one family's refresh-token grant over HTTP.
type refreshFamily interface {
	// grant gets a first access and refresh token.
	grant(t *testing.T) (access, refresh string)
	// refresh exchanges rt on node i.
	refresh(t *testing.T, i int, rt string) reply
	// use calls a protected resource with access on node i.
	use(t *testing.T, i int, access string) reply
	// protocol names the family in the audit log.
	protocol() string
}

// oauth2Refresh: the bootstrap admin's password grant, /oauth/token refresh.
type oauth2Refresh struct {
	n *agtest.Env
	c *client
}

func (o oauth2Refresh) grant(t *testing.T) (string, string) {
	r := o.c.do(0, "POST", "/oauth/token", formHeader, passwordForm(o.n.Admin.Key, o.n.Admin.Secret))
	m := r.json(t)
	if r.status != 200 {
		t.Fatalf("password grant: %d %s", r.status, r.body)
	}
	return m["access_token"].(string), m["refresh_token"].(string)
}

func (o oauth2Refresh) refresh(_ *testing.T, i int, rt string) reply {
	return o.c.do(i, "POST", "/oauth/token", formHeader, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())
}

func (o oauth2Refresh) use(_ *testing.T, i int, access string) reply {
	return o.c.do(i, "GET", "/cluster/whoami", bearerHeader(access), "")
}

func (oauth2Refresh) protocol() string { return "oauth2" }

// taapRefresh: a TAAP client's token endpoint (Basic + PoP) and its device resource.
type taapRefresh struct {
	c     *client
	sdk   *sdkpop.Client
	iccid string
}

func newTAAPRefresh(t *testing.T, n *agtest.Env, c *client) taapRefresh {
	t.Helper()
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	info, err := taap.CreateClient(ctx, n.Svc, taap.ClientSpec{Name: "fan-out", PublicKeys: [][]byte{sdkpop.PublicKeyPEM(key)}})
	if err != nil {
		t.Fatal(err)
	}
	const iccid = "8901260000000000006"
	if _, err := taap.AddSIM(ctx, n.Svc, info.OrgID, taap.SIM{ICCID: iccid}); err != nil {
		t.Fatal(err)
	}
	sdk := &sdkpop.Client{BaseURL: c.urls[0], ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		Builder: &sdkpop.Builder{Key: key, Now: n.Clock.Now}, HTTP: c.http}
	return taapRefresh{c: c, sdk: sdk, iccid: iccid}
}

func (f taapRefresh) grant(t *testing.T) (string, string) {
	tr, err := f.sdk.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken, tr.RefreshToken
}

// send sends req to node i; PoP tokens cover the path, not the host.
func (f taapRefresh) send(i int, req *http.Request) reply {
	u, _ := url.Parse(f.c.urls[i])
	req.URL.Host = u.Host
	resp, err := f.c.http.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

func (f taapRefresh) refresh(t *testing.T, i int, rt string) reply {
	return f.tokenRequest(t, i, "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt))
}

// tokenRequest posts a form body to the token endpoint of node i, with
// the client's Basic credentials and a PoP token over the body.
func (f taapRefresh) tokenRequest(t *testing.T, i int, body string) reply {
	req, err := http.NewRequest("POST", f.c.urls[0]+taap.RouteToken, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return reply{err: err}
	}
	req.SetBasicAuth(f.sdk.ClientID, f.sdk.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := f.sdk.Builder.Sign(req, "Content-Type", "Authorization"); err != nil {
		t.Error(err)
		return reply{err: err}
	}
	return f.send(i, req)
}

func (f taapRefresh) use(t *testing.T, i int, access string) reply {
	req, err := f.sdk.NewRequest(context.Background(), "GET", "/iot-connectivity/v1/devices/"+f.iccid, nil, access)
	if err != nil {
		t.Fatal(err)
	}
	return f.send(i, req)
}

func (taapRefresh) protocol() string { return "taap" }

// auditedReason reports whether a failure event of protocol has a reason containing s.
func auditedReason(t *testing.T, n *agtest.Env, protocol, s string) bool {
	t.Helper()
	events, err := n.Svc.Audit.List(t.Context(), core.AuditFilter{Action: core.AuditAuthFailure, Protocol: protocol, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if strings.Contains(ev.Reason, s) {
			return true
		}
	}
	return false
}

// TestAttack_ParallelRefreshFanOutBounded: whoever holds one refresh token
// sends 200 exchanges of it at once, spread over the nodes, inside the
// grace window. Before the fix every one of them returned a distinct live
// pair that could refresh on. Now, for OAuth2 and TAAP alike (the rule is
// core.Tokens.ExchangeRefresh), exactly two exchanges succeed across the
// cluster, every other one is refused with invalid_grant and audited,
// nothing is revoked by the refusals, both pairs work, the first of them
// refreshed goes on and its sibling is void; and the same token presented
// after the window revokes the whole family on every node.
func TestAttack_ParallelRefreshFanOutBounded(t *testing.T) {
	const parallel = 200
	const grace = time.Minute
	backends := []struct {
		name  string
		nodes int
		dsn   func(t *testing.T) string
	}{
		{"sqlite", 1, func(*testing.T) string { return "" }},
		{"postgres-two-nodes", 2, func(t *testing.T) string { return pgtest.DSN(t) }},
	}
	families := []struct {
		name string
		make func(t *testing.T, n *agtest.Env, c *client) refreshFamily
	}{
		{"oauth2", func(_ *testing.T, n *agtest.Env, c *client) refreshFamily { return oauth2Refresh{n: n, c: c} }},
		{"taap", func(t *testing.T, n *agtest.Env, c *client) refreshFamily { return newTAAPRefresh(t, n, c) }},
	}
	for _, b := range backends {
		for _, fam := range families {
			t.Run(b.name+"/"+fam.name, func(t *testing.T) {
				// Manual clocks, one per node at the same instant: the whole
				// burst is inside the window however slow the machine is.
				o := nodeOptions{dsn: b.dsn(t), master: newMasterKey(t), clock: time.Now().Truncate(time.Second),
					oauth2: func(c *oauth2.Config) { c.RefreshGrace = grace },
					taap:   func(c *taap.Config) { c.RefreshGrace = grace }}
				var nodes []*agtest.Env
				var urls []string
				for range b.nodes {
					n := startNode(t, o)
					nodes, urls = append(nodes, n), append(urls, n.URL)
				}
				c := newClient(urls...)
				f := fam.make(t, nodes[0], c)
				access0, rt := f.grant(t)

				results := make([]reply, parallel)
				var wg sync.WaitGroup
				for i := range parallel {
					wg.Add(1)
					go func() {
						defer wg.Done()
						results[i] = f.refresh(t, i%len(urls), rt)
					}()
				}
				wg.Wait()
				var pairs [][2]string
				for i, r := range results {
					switch {
					case r.err != nil:
						t.Fatalf("exchange %d: %v", i, r.err)
					case r.status == 200:
						m := r.json(t)
						pairs = append(pairs, [2]string{m["access_token"].(string), m["refresh_token"].(string)})
					case r.status != 400 || jsonMap(r.body)["error"] != "invalid_grant" || strings.Contains(string(r.body), "_token\":\""):
						t.Fatalf("exchange %d: %d %s, want 200 or 400 invalid_grant without tokens", i, r.status, r.body)
					}
				}
				if len(pairs) != core.MaxRefreshExchanges {
					t.Fatalf("%d of %d parallel exchanges of one refresh token succeeded, want %d", len(pairs), parallel, core.MaxRefreshExchanges)
				}
				if pairs[0][1] == pairs[1][1] || pairs[0][0] == pairs[1][0] {
					t.Fatal("the two exchanges returned the same tokens")
				}
				// The refusals revoked nothing: the first grant and both pairs
				// work on every node, and each pair refreshes on.
				for node := range urls {
					for i, tok := range []string{access0, pairs[0][0], pairs[1][0]} {
						if r := f.use(t, node, tok); r.status != 200 {
							t.Fatalf("access token %d on node %d after the refused exchanges: %d %s", i, node, r.status, r.body)
						}
					}
				}
				// Either pair refreshes on; the first one used is the only
				// line that goes on, its sibling is void from then on (refused
				// and nothing revoked), so the family never grows past two.
				r := f.refresh(t, 1%len(urls), pairs[1][1])
				if r.status != 200 {
					t.Fatalf("pair 1 does not refresh on: %d %s", r.status, r.body)
				}
				next := []string{r.json(t)["access_token"].(string)}
				r = f.refresh(t, 0, pairs[0][1])
				if r.status != 400 || jsonMap(r.body)["error"] != "invalid_grant" || !strings.Contains(string(r.body), "void") {
					t.Fatalf("the sibling of the refresh token used: %d %s, want invalid_grant", r.status, r.body)
				}
				if r := f.use(t, 0, next[0]); r.status != 200 {
					t.Fatalf("the line that went on after its void sibling was refused: %d %s", r.status, r.body)
				}
				events, err := nodes[0].Svc.Audit.List(t.Context(), core.AuditFilter{Action: core.AuditAuthFailure, Protocol: f.protocol(), Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				refused := 0
				for _, ev := range events {
					if strings.Contains(ev.Reason, "already exchanged") {
						refused++
					}
				}
				if refused != parallel-core.MaxRefreshExchanges {
					t.Fatalf("%d refused exchanges audited, want %d", refused, parallel-core.MaxRefreshExchanges)
				}
				if !auditedReason(t, nodes[0], f.protocol(), "void") {
					t.Fatal("the void sibling's refusal is not audited")
				}

				// After the window the same token is reuse: the family dies everywhere.
				for _, n := range nodes {
					n.Clock.Advance(grace + time.Second)
				}
				if r := f.refresh(t, len(urls)-1, rt); r.status != 400 || jsonMap(r.body)["error"] != "invalid_grant" {
					t.Fatalf("reuse after the window: %d %s", r.status, r.body)
				}
				for node := range urls {
					for i, tok := range append([]string{access0, pairs[0][0], pairs[1][0]}, next...) {
						if r := f.use(t, node, tok); r.status != 401 {
							t.Fatalf("access token %d of the revoked family on node %d: %d %s", i, node, r.status, r.body)
						}
					}
				}
			})
		}
	}
}
