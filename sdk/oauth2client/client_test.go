package oauth2client_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/sdk/oauth2client"
)

func startServer(t *testing.T) *agtest.Env {
	return agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		m, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{m}
	})
}

// issued counts token grants (issue and renew) in the audit log.
func issued(t *testing.T, e *agtest.Env) int {
	t.Helper()
	events, err := e.Svc.Audit.List(context.Background(), core.AuditFilter{Protocol: "oauth2"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Action == core.AuditIssue || ev.Action == core.AuditRenew {
			n++
		}
	}
	return n
}

func TestClientCachesRefreshesAndRecovers(t *testing.T) {
	e := startServer(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	cachePath := filepath.Join(t.TempDir(), "sub", "tokens.json")
	c, err := oauth2client.New(e.URL, e.Admin.Key, e.Admin.Secret, oauth2client.WithCache(oauth2client.FileCache{Path: cachePath}), oauth2client.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent callers share one password grant.
	var wg sync.WaitGroup
	toks := make([]*oauth2client.Token, 8)
	errs := make([]error, len(toks))
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = c.Token(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks[1:] {
		if tk.AccessToken != toks[0].AccessToken {
			t.Fatal("concurrent callers got different tokens")
		}
	}
	if n := issued(t, e); n != 1 {
		t.Fatalf("%d grants for concurrent callers, want 1", n)
	}
	st, err := os.Stat(cachePath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", st, err)
	}
	// A second client (another process) reuses the cached token without a grant.
	c2, _ := oauth2client.New(e.URL, e.Admin.Key, e.Admin.Secret, oauth2client.WithCache(oauth2client.FileCache{Path: cachePath}), oauth2client.WithClock(clock))
	t2, err := c2.Token(ctx)
	if err != nil || t2.AccessToken != toks[0].AccessToken || issued(t, e) != 1 {
		t.Fatalf("cached token not reused: %v", err)
	}
	// Near expiry the client refreshes (rotation: a new refresh token).
	now = now.Add(59*time.Minute + 45*time.Second)
	t3, err := c2.Token(ctx)
	if err != nil || t3.AccessToken == t2.AccessToken || t3.RefreshToken == t2.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}
	// The token works through the SDK's transport.
	hc := &http.Client{Transport: c2.Transport(nil)}
	res, err := hc.Get(e.URL + "/accesskeys")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("transport: %v %v", err, res)
	}
	res.Body.Close()
	// When the server revokes the grant, the client logs in again with key and secret.
	if _, err := e.Svc.Tokens.RevokePrincipal(ctx, mustPrincipal(t, e)); err != nil {
		t.Fatal(err)
	}
	c2.Invalidate()
	t4, err := c2.Token(ctx)
	if err != nil || t4.AccessToken == t3.AccessToken {
		t.Fatalf("re-login after revocation: %v", err)
	}
	// A wrong secret is a typed OAuth2 error.
	bad, _ := oauth2client.New(e.URL, e.Admin.Key, "wrong")
	_, err = bad.Token(ctx)
	var oe *oauth2client.Error
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || oe.Status != 400 {
		t.Fatalf("wrong secret: %v", err)
	}
}

func mustPrincipal(t *testing.T, e *agtest.Env) string {
	c, err := e.Svc.Store.FindCredential(context.Background(), core.CredAccessKey, e.Admin.Key)
	if err != nil {
		t.Fatal(err)
	}
	return c.PrincipalID
}

func TestFileCacheRefusesSharedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (oauth2client.FileCache{Path: p}).Load("k"); err == nil {
		t.Fatal("a world-readable cache file must be refused")
	}
}
