package taap_test

import (
	"strings"
	"testing"
)

// TestAttack_TAAPRefreshTokenOfOtherClientIsNotAnOracle: client B presents
// client A's refresh token at the token endpoint, correctly authenticated
// as B. Before the fix the answer was 200 with empty tokens, which told B
// that A's token is live. Now it is invalid_grant, word for word the answer
// to an unknown token, no token in it, the attempt is audited, and A's
// token is neither consumed nor revoked.
func TestAttack_TAAPRefreshTokenOfOtherClientIsNotAnOracle(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	victim := f.accessToken(t)
	victimClient, victimSDK := f.client, f.sdk
	f.register(t, "Attacker client")

	stolen := f.refresh(t, victim.RefreshToken)
	unknown := f.refresh(t, "not-a-refresh-token-of-anyone")
	for name, r := range map[string]result{"another client's token": stolen, "unknown token": unknown} {
		if r.status != 400 || r.code() != "invalid_grant" {
			t.Fatalf("%s: %d %v, want 400 invalid_grant", name, r.status, r.body)
		}
		for _, k := range []string{"access_token", "refresh_token", "id_token"} {
			if _, ok := r.body[k]; ok {
				t.Fatalf("%s: answer carries %s: %v", name, k, r.body)
			}
		}
	}
	if stolen.desc() != unknown.desc() {
		t.Fatalf("another client's token is told apart from an unknown one: %q vs %q", stolen.desc(), unknown.desc())
	}
	if reason := f.lastFailure(t); !strings.Contains(reason, "invalid_grant") {
		t.Fatalf("audit reason %q", reason)
	}

	// The victim's refresh token still works for the victim.
	f.client, f.sdk = victimClient, victimSDK
	if r := f.refresh(t, victim.RefreshToken); r.status != 200 || r.body["access_token"] == "" {
		t.Fatalf("victim's refresh after the attempt: %d %v", r.status, r.body)
	}
}
