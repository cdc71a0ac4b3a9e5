package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/device"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/pgtest"
)

// TestAttack_CARevokeCommandLeavesNoLiveTokens: the real `authgate ca
// revoke` command, run as an operator would against a running node's
// PostgreSQL database, revokes the device certificate's credential and
// every token issued on it, not only the CA record (which left the
// device's tokens working).
func TestAttack_CARevokeCommandLeavesNoLiveTokens(t *testing.T) {
	dsn := pgtest.DSN(t)
	master := make([]byte, core.MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	var authority *ca.Authority
	env := agtest.Start(t, agtest.Options{PostgresDSN: dsn, MasterKey: master}, func(svc core.Services) []httpapi.Module {
		o, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		authority = ca.New(ca.DefaultConfig(), ca.DepsFrom(svc))
		ids, err := device.New(svc, authority, device.DefaultConfig(), device.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{o, ids}
	})
	ctx := context.Background()
	if _, err := authority.Init(ctx, ca.InitOptions{Algorithm: "ecdsa"}); err != nil {
		t.Fatal(err)
	}
	post := func(path, token, ctype, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest("POST", env.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	const form = "application/x-www-form-urlencoded"
	grant := func(key, secret string) string {
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		if st := post("/oauth/token", "", form, url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}}.Encode(), &tr); st != 200 {
			t.Fatalf("password grant: %d", st)
		}
		return tr.AccessToken
	}
	var org struct{ Key, Secret string }
	if st := post("/accesskeys", grant(env.Admin.Key, env.Admin.Secret), "application/json", `{"Name":"Fleet"}`, &org); st != 201 {
		t.Fatalf("org: %d", st)
	}
	var cert struct{ SerialNumber, Fingerprint string }
	if st := post("/identities/certificates", grant(org.Key, org.Secret), "application/json", `{"Name":"meter-9"}`, &cert); st != 201 {
		t.Fatalf("certificate: %d", st)
	}
	// A token issued on the certificate, as tls_client_auth records it.
	cred, err := env.Svc.Credentials.Find(ctx, core.CredCertificate, cert.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := env.Svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: cred.OrgID, PrincipalID: cred.PrincipalID,
		PrincipalKind: core.PrincipalDevice, CredentialID: cred.ID, CertThumbprint: core.CertThumbprint(cred.Public), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv("AUTHGATE_MASTER_KEY", hex.EncodeToString(master))
	runCLI(t, "--data-dir", t.TempDir(), "--db", dsn, "ca", "revoke", cert.SerialNumber, "--reason", "keyCompromise")

	// Read from the store, the truth every node's cache returns to within
	// oauth2.token_cache_max_age (the command ran in another process).
	if got, err := env.Svc.Store.GetTokenByHash(ctx, env.Svc.Tokens.HashToken(tok)); err != nil || got.RevokedAt == nil {
		t.Fatalf("the device's token after `authgate ca revoke`: %+v %v, want revoked", got, err)
	}
	if _, err := env.Svc.Credentials.Find(ctx, core.CredCertificate, cert.Fingerprint); core.KindOf(err) != core.KindRevoked {
		t.Fatalf("the certificate credential after `authgate ca revoke`: %v, want revoked", err)
	}
}
