package core_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

func TestCredentialSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	svc, _ := agtest.NewServices(t, agtest.Options{})
	org, err := svc.CreateOrganisation(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreatePrincipal(ctx, org.ID, core.PrincipalUser, "alice")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind       core.CredentialKind
		wantHashed bool
		wantSealed bool
	}{
		{core.CredAccessKey, true, false},
		{core.CredClientSecret, true, false},
		{core.CredAPIKey, true, false},
		{core.CredAppToken, false, true},
		{core.CredSigningKey, false, true},
		{core.CredPassword, false, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			c, secret, err := svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: tt.kind})
			if err != nil {
				t.Fatal(err)
			}
			stored, err := svc.Store.FindCredential(ctx, tt.kind, c.Lookup)
			if err != nil {
				t.Fatal(err)
			}
			if (len(stored.SecretHash) > 0) != tt.wantHashed || (len(stored.Sealed) > 0) != tt.wantSealed {
				t.Fatalf("stored hash=%d sealed=%d bytes", len(stored.SecretHash), len(stored.Sealed))
			}
			if string(stored.SecretHash) == secret || string(stored.Sealed) == secret {
				t.Fatal("secret stored in clear")
			}
			if _, err := svc.Credentials.VerifySecret(ctx, tt.kind, c.Lookup, secret); err != nil {
				t.Fatalf("right secret rejected: %v", err)
			}
			if _, err := svc.Credentials.VerifySecret(ctx, tt.kind, c.Lookup, secret+"x"); !errors.Is(err, core.ErrUnauthenticated) {
				t.Fatalf("wrong secret: %v", err)
			}
			if _, err := svc.Credentials.VerifySecret(ctx, tt.kind, "unknown", secret); !errors.Is(err, core.ErrUnauthenticated) {
				t.Fatalf("unknown lookup: %v", err)
			}
			if err := svc.Store.RevokeCredential(ctx, c.ID, svc.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Credentials.VerifySecret(ctx, tt.kind, c.Lookup, secret); !errors.Is(err, core.ErrRevoked) {
				t.Fatalf("revoked credential: %v", err)
			}
		})
	}
}

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: start})
	value, tok, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if tok.FamilyID != tok.ID || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("unexpected token %+v", tok)
	}
	stored, err := svc.Store.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.Hash) == value {
		t.Fatal("token stored in clear")
	}
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, value); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if _, err := svc.Tokens.Lookup(ctx, core.TokenRefresh, value); !errors.Is(err, core.ErrUnauthenticated) {
		t.Fatalf("token of another kind accepted: %v", err)
	}
	clock.Advance(time.Minute)
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, value); !errors.Is(err, core.ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
	v2, t2, err := svc.Tokens.Issue(ctx, core.TokenSpec{Kind: core.TokenAccess, OrgID: "o", PrincipalID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if t2.ExpiresAt != nil {
		t.Fatal("TTL 0 must give an eternal token")
	}
	if err := svc.Tokens.Revoke(ctx, t2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Tokens.Lookup(ctx, core.TokenAccess, v2); !errors.Is(err, core.ErrRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestReplayRemember(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	svc, clock := agtest.NewServices(t, agtest.Options{ManualClock: start})
	exp := start.Add(time.Minute)
	if err := svc.Replay.Remember(ctx, "jti", "abc", exp); err != nil {
		t.Fatal(err)
	}
	if err := svc.Replay.Remember(ctx, "jti", "abc", exp); !errors.Is(err, core.ErrReplayed) {
		t.Fatalf("replay not detected: %v", err)
	}
	if err := svc.Replay.Remember(ctx, "sig", "abc", exp); err != nil {
		t.Fatalf("namespaces must be separate: %v", err)
	}
	clock.Advance(time.Minute)
	if err := svc.Replay.Remember(ctx, "jti", "abc", start.Add(2*time.Minute)); err != nil {
		t.Fatalf("expired entry must be reusable: %v", err)
	}
}

func TestBootstrapAdminOnce(t *testing.T) {
	ctx := context.Background()
	svc, _ := agtest.NewServices(t, agtest.Options{})
	first, err := svc.EnsureBootstrapAdmin(ctx)
	if err != nil || !first.Created || first.Key == "" || first.Secret == "" {
		t.Fatalf("first bootstrap = %+v, %v", first, err)
	}
	second, err := svc.EnsureBootstrapAdmin(ctx)
	if err != nil || second.Created || second.Secret != "" {
		t.Fatalf("second bootstrap = %+v, %v", second, err)
	}
	c, err := svc.Credentials.VerifySecret(ctx, core.CredAccessKey, first.Key, first.Secret)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Store.GetPrincipal(ctx, c.PrincipalID)
	if err != nil || p.Kind != core.PrincipalAdmin {
		t.Fatalf("bootstrap principal = %+v, %v", p, err)
	}
	events, err := svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditCreate})
	if err != nil || len(events) != 1 {
		t.Fatalf("audit = %+v, %v", events, err)
	}
}

// Concurrent Remember calls are grouped into shared transactions; each key
// must still be accepted exactly once, including keys repeated in one batch.
func TestReplayGroupedExactlyOnce(t *testing.T) {
	svc, _ := agtest.NewServices(t, agtest.Options{})
	ctx := context.Background()
	const keys, workers = 2000, 4
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < keys; i++ {
				err := svc.Replay.Remember(ctx, "jti", strconv.Itoa(i), time.Now().Add(time.Hour))
				switch {
				case err == nil:
					accepted.Add(1)
				case !errors.Is(err, core.ErrReplayed):
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != keys {
		t.Fatalf("accepted %d of %d keys", accepted.Load(), keys)
	}
}
