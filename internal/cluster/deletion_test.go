package cluster

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
	sdktpv "github.com/authgate/authgate/sdk/tpv"
)

// deletionBound is how long a node may still accept a deleted object's
// credentials after another node deleted it: read_cache_max_age and
// oauth2.token_cache_max_age, both 1 s as serve runs on PostgreSQL.
const deletionBound = time.Second

// twoCachingNodes starts two nodes on one PostgreSQL database with the
// read cache on and manual clocks, as serve runs them.
func twoCachingNodes(t *testing.T) ([]*agtest.Env, *client) {
	t.Helper()
	dsn, master, start := pgtest.DSN(t), newMasterKey(t), time.Now()
	var nodes []*agtest.Env
	var urls []string
	for range 2 {
		n := startNode(t, nodeOptions{dsn: dsn, master: master, clock: start, readCache: deletionBound})
		nodes = append(nodes, n)
		urls = append(urls, n.URL)
	}
	return nodes, newClient(urls...)
}

// refusedAfterDeletion checks the answers of node 0 (the deleting one)
// and node 1 to send once the object is deleted: node 0 refuses at once,
// node 1 at the latest one deletionBound later (on the manual clock).
// With cached, node 1 has what send uses in its caches and must still
// answer 200 just inside the bound: the documented trade-off, and the
// proof that the refusal after it is the bound's doing.
func refusedAfterDeletion(t *testing.T, nodes []*agtest.Env, what string, cached bool, send func(node int) reply, refused func(reply) bool) {
	t.Helper()
	if r := send(0); !refused(r) {
		t.Fatalf("%s: node 0 answered %d %s right after deleting through it, want a refusal", what, r.status, r.body)
	}
	if cached {
		nodes[1].Clock.Advance(deletionBound - time.Millisecond)
		if r := send(1); r.status != http.StatusOK {
			t.Fatalf("%s: node 1 answered %d %s inside the bound: its caches were not in use (premise)", what, r.status, r.body)
		}
		nodes[1].Clock.Advance(time.Millisecond)
	} else {
		nodes[1].Clock.Advance(deletionBound)
	}
	if r := send(1); !refused(r) {
		t.Fatalf("%s: node 1 answered %d %s one bound (%s) after the deletion, want a refusal", what, r.status, r.body, deletionBound)
	}
}

// TestAttack_DeletedTAAPClientAcrossNodes: a TAAP client whose token and
// keys both nodes have used is deleted through node 0 (taap.Admin, the
// admin API's and CLI's operation). Its PoP-signed calls with the token
// issued before, and new token requests with its secret, are refused by
// node 0 at once and by node 1 within the bound.
func TestAttack_DeletedTAAPClientAcrossNodes(t *testing.T) {
	nodes, c := twoCachingNodes(t)
	p := newPoPClient(t, nodes[0], c)
	call := func(node int) reply {
		req, err := p.request()
		if err != nil {
			t.Fatal(err)
		}
		r := c.do(node, req.Method, req.URL.RequestURI(), req.Header, "")
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	}
	for i := range nodes {
		if r := call(i); !p.accepted(r) {
			t.Fatalf("node %d before the deletion: %d %s", i, r.status, r.body)
		}
	}
	del, err := taap.NewAdmin(nodes[0].Svc).DeleteClient(ctxT(t), core.Operator{}, p.sdk.ClientID)
	if err != nil || !del.Deleted {
		t.Fatalf("delete: %+v %v", del, err)
	}
	unauthorized := func(r reply) bool { return r.status == http.StatusUnauthorized }
	refusedAfterDeletion(t, nodes, "PoP call with the token issued before", true, call, unauthorized)
	token := func(node int) reply {
		r := c.do(node, http.MethodPost, "/oauth2/v6/tokens", basicHeader(p.sdk.ClientID, p.sdk.ClientSecret), "")
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	}
	refusedAfterDeletion(t, nodes, "token request with the client's secret", false, token, unauthorized)
}

// TestAttack_DeletedTPVBrandAcrossNodes: a brand that logged in and whose
// signed requests both nodes accepted is deleted through node 0
// (tpv.Admin). Its signed requests with the auth token from before, and a
// new login with its application token, are refused by node 0 at once
// and by node 1 within the bound.
func TestAttack_DeletedTPVBrandAcrossNodes(t *testing.T) {
	nodes, c := twoCachingNodes(t)
	brand, err := tpv.CreateBrand(context.Background(), nodes[0].Svc, "", "Deleted Brand")
	if err != nil {
		t.Fatal(err)
	}
	login := func(node int) reply {
		r := c.do(node, "POST", sdktpv.LoginURL("", brand.ApplicationToken, brand.AppSecret, nodes[node].Clock.Now()), nil, "")
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	}
	first := login(0)
	if first.status != http.StatusOK {
		t.Fatalf("login: %d %s", first.status, first.body)
	}
	authToken, _ := first.json(t)["auth_token"].(string)
	seq := 0
	signed := func(node int) reply {
		seq++
		path, h := tpvSigned(t, brand.AppSecret, authToken, seq, nodes[node].Clock.Now())
		r := c.do(node, "GET", path, h, "")
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	}
	for i := range nodes {
		if r := signed(i); r.status != http.StatusOK {
			t.Fatalf("node %d before the deletion: %d %s", i, r.status, r.body)
		}
	}
	del, err := tpv.NewAdmin(nodes[0].Svc).DeleteBrand(ctxT(t), core.Operator{}, brand.BrandID)
	if err != nil || !del.Deleted {
		t.Fatalf("delete: %+v %v", del, err)
	}
	unauthorized := func(r reply) bool { return r.status == http.StatusUnauthorized }
	refusedAfterDeletion(t, nodes, "signed request with the auth token from before", true, signed, unauthorized)
	refusedAfterDeletion(t, nodes, "login with the application token", false, login, unauthorized)
}
