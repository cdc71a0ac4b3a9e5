package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
)

// TestCARolloverTwoNodes: a CA rollover made through node 0 is used by
// node 1 within the documented bound (about 10 s: the CA's 5 s version
// check and the mTLS listener's 5 s issuer refresh; a manual clock shows
// it without sleeping): node 1 issues from the new generation, its mTLS
// listener accepts device certificates of both generations, and after a
// forced retirement only the new generation's.
func TestCARolloverTwoNodes(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	nodes, serverRoots := startIDNodes(t, 2, t0, 5*time.Second)
	plain := &http.Client{Timeout: 10 * time.Second}
	grant := func(n int, key, secret string) string {
		st, m := send(t, plain, "POST", nodes[n].env.URL+"/oauth/token", formHeader, passwordForm(key, secret))
		if st != 200 {
			t.Fatalf("password grant: %d %v", st, m)
		}
		return m["access_token"].(string)
	}
	bearer := func(tok string) http.Header {
		return http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
	}
	admin := grant(0, nodes[0].env.Admin.Key, nodes[0].env.Admin.Secret)
	st, org := send(t, plain, "POST", nodes[0].env.URL+"/accesskeys", bearer(admin), `{"Name":"Fleet"}`)
	if st != 201 {
		t.Fatalf("org: %d %v", st, org)
	}
	user := grant(0, org["Key"].(string), org["Secret"].(string))
	issue := func(n int, name string) (*http.Client, *x509.Certificate) {
		t.Helper()
		st, issued := send(t, plain, "POST", nodes[n].env.URL+"/identities/certificates", bearer(user), `{"Name":"`+name+`"}`)
		if st != 201 {
			t.Fatalf("issue on node %d: %d %v", n, st, issued)
		}
		pair, err := tls.X509KeyPair([]byte(issued["Certificate"].(string)), []byte(issued["PrivateKey"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode([]byte(issued["Certificate"].(string)))
		leaf, _ := x509.ParseCertificate(b.Bytes)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverRoots, Certificates: []tls.Certificate{pair}}}}, leaf
	}
	current := func(c *http.Client, n int) int {
		t.Helper()
		defer c.CloseIdleConnections()
		resp, err := c.Get(nodes[n].mtlsURL + "/identities/current")
		if err != nil {
			return 0 // handshake refused
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	advance := func(d time.Duration) {
		for _, nd := range nodes {
			nd.env.Clock.Advance(d)
		}
	}
	oldDev, _ := issue(0, "meter-old")
	if s := current(oldDev, 1); s != 200 {
		t.Fatalf("node 1 before the rollover: %d", s)
	}
	newRoot, err := nodes[0].authority.Rollover(context.Background(), ca.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	advance(5 * time.Second)
	newDev, leaf := issue(1, "meter-new")
	devCA, err := nodes[1].authority.IssuingCA(context.Background(), ca.CADevice)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(newRoot)
	inter.AddCert(devCA)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: nodes[1].env.Clock.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("node 1 issues from the old generation after the bound: %v", err)
	}
	for n := range nodes {
		if s := current(oldDev, n); s != 200 {
			t.Errorf("previous-generation device on node %d: %d", n, s)
		}
		if s := current(newDev, n); s != 200 {
			t.Errorf("new-generation device on node %d: %d", n, s)
		}
	}
	if _, err := nodes[1].authority.RetirePrevious(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	advance(5 * time.Second)
	for n := range nodes {
		if s := current(oldDev, n); s != 0 {
			t.Errorf("retired generation's device on node %d: %d, want a refused handshake", n, s)
		}
		if s := current(newDev, n); s != 200 {
			t.Errorf("new-generation device on node %d after retirement: %d", n, s)
		}
	}
}
