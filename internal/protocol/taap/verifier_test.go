package taap_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/taap"
)

// enc is base64url without padding, as JWS parts are encoded.
func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// memReplay is an in-memory replay cache with core.Replay's contract:
// the second Remember of a key fails with KindReplayed.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (m *memReplay) Remember(_ context.Context, ns, key string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if _, ok := m.seen[ns+"|"+key]; ok {
		return core.E(core.KindReplayed, "already used")
	}
	m.seen[ns+"|"+key] = expires
	return nil
}

// rawToken signs arbitrary header and claims JSON, so tests can build
// tokens no well-behaved builder would.
func rawToken(t testing.TB, key *rsa.PrivateKey, header string, claims map[string]any) string {
	t.Helper()
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := enc(header) + "." + enc(string(c))
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// edtsOf is an independent edts: SHA-256 over the values, no separator.
func edtsOf(values ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(values, "")))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestVerifierChecks drives every check of the verifier, and its
// boundaries (clock skew, lifetime), with hand-built tokens over one
// request, asserting which check fails and that the reason says why.
func TestVerifierChecks(t *testing.T) {
	key, other := testKeys()[0], testKeys()[1]
	now := time.Unix(1_760_000_000, 0)
	const hdr = `{"alg":"RS256","typ":"JWT"}`
	req := taap.Signed{
		Method: "POST", URI: "/iot-connectivity/v1/devices?limit=5",
		Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer abc"}},
		Body:   []byte(`{"a":1}`),
	}
	const ehts = "Content-Type;Authorization;uri;http-method;body"
	good := func() map[string]any {
		return map[string]any{
			"iat": now.Unix(), "exp": now.Unix() + 120, "ehts": ehts,
			"edts": edtsOf("application/json", "Bearer abc", req.URI, "POST", `{"a":1}`),
			"jti":  core.NewID(), "v": "1",
		}
	}
	with := func(kv ...any) map[string]any {
		c := good()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	hs256 := func() string {
		c, _ := json.Marshal(good())
		input := enc(`{"alg":"HS256","typ":"JWT"}`) + "." + enc(string(c))
		// The classic key confusion: HMAC keyed with the public key.
		mac := hmac.New(sha256.New, []byte(taap.PublicKeyPEM(&key.PublicKey)))
		mac.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}()
	tests := []struct {
		name   string
		token  string
		keys   []*rsa.PublicKey
		req    *taap.Signed
		check  taap.Check // "" = accepted
		reason string     // a fragment of the reason
	}{
		{name: "valid", token: rawToken(t, key, hdr, good())},
		{name: "header members reversed, Java style", token: rawToken(t, key, `{"typ":"JWT","alg":"RS256"}`, good())},
		{name: "v as number 1", token: rawToken(t, key, hdr, with("v", 1))},
		{name: `v as "v1"`, token: rawToken(t, key, hdr, with("v", "v1"))},
		{name: "blanks around ;", token: rawToken(t, key, hdr, with("ehts", "Content-Type; Authorization; uri; http-method; body"))},
		{name: "header names in another case", token: rawToken(t, key, hdr, with("ehts", "content-type;AUTHORIZATION;uri;http-method;body"))},
		{name: "second registered key", token: rawToken(t, key, hdr, good()), keys: []*rsa.PublicKey{&other.PublicKey, &key.PublicKey}},
		{name: "absent", token: "", check: taap.CheckPresent, reason: "X-Authorization"},
		{name: "two parts", token: "a.b", check: taap.CheckFormat, reason: "compact"},
		{name: "padded base64", token: rawToken(t, key, hdr, good()) + "=", check: taap.CheckFormat, reason: "base64url"},
		{name: "trailing data after the claims", token: func() string {
			c, _ := json.Marshal(good())
			return enc(hdr) + "." + enc(string(c)+`{}`) + ".c2ln"
		}(), check: taap.CheckFormat, reason: "claims"},
		{name: "claims not JSON", token: enc(hdr) + "." + enc("nope") + ".c2ln", check: taap.CheckFormat, reason: "claims"},
		{name: "iat a string", token: rawToken(t, key, hdr, with("iat", "1760000000")), check: taap.CheckFormat, reason: "iat is not a number"},
		{name: "no exp", token: rawToken(t, key, hdr, with("exp", nil)), check: taap.CheckFormat, reason: "exp is missing"},
		{name: "no jti", token: rawToken(t, key, hdr, with("jti", nil)), check: taap.CheckFormat, reason: "jti"},
		{name: "crit", token: rawToken(t, key, `{"alg":"RS256","crit":["x"]}`, good()), check: taap.CheckFormat, reason: "crit"},
		{name: "alg none", token: enc(`{"alg":"none"}`) + "." + strings.Split(rawToken(t, key, hdr, good()), ".")[1] + ".c2ln", check: taap.CheckAlg, reason: `"none" is not accepted`},
		{name: "alg HS256 keyed with the public key", token: hs256, check: taap.CheckAlg, reason: `"HS256" is not accepted`},
		{name: "alg RS512 not in the default allow-list", token: rawToken(t, key, `{"alg":"RS512"}`, good()), check: taap.CheckAlg, reason: "allowed: RS256"},
		{name: "no alg", token: rawToken(t, key, `{"typ":"JWT"}`, good()), check: taap.CheckAlg, reason: "no alg"},
		{name: "client without keys", token: rawToken(t, key, hdr, good()), keys: []*rsa.PublicKey{}, check: taap.CheckClient, reason: "no registered public key"},
		{name: "other client's key", token: rawToken(t, other, hdr, good()), check: taap.CheckSignature, reason: "registered public key"},
		{name: "v 2", token: rawToken(t, key, hdr, with("v", "2")), check: taap.CheckVersion, reason: `want "1"`},
		{name: `v "v2"`, token: rawToken(t, key, hdr, with("v", "v2")), check: taap.CheckVersion, reason: `want "1"`},
		{name: `v "V1"`, token: rawToken(t, key, hdr, with("v", "V1")), check: taap.CheckVersion, reason: `want "1"`},
		{name: `v "1.0"`, token: rawToken(t, key, hdr, with("v", "1.0")), check: taap.CheckVersion, reason: `want "1"`},
		{name: "v number 1.5", token: rawToken(t, key, hdr, with("v", 1.5)), check: taap.CheckVersion, reason: `want "1"`},
		{name: `v " v1"`, token: rawToken(t, key, hdr, with("v", " v1")), check: taap.CheckVersion, reason: `want "1"`},
		{name: "v missing", token: rawToken(t, key, hdr, with("v", nil)), check: taap.CheckVersion, reason: "missing"},
		{name: "iat 10 s ahead (within skew)", token: rawToken(t, key, hdr, with("iat", now.Unix()+10, "exp", now.Unix()+100))},
		{name: "iat 11 s ahead", token: rawToken(t, key, hdr, with("iat", now.Unix()+11, "exp", now.Unix()+100)), check: taap.CheckIssuedAt, reason: "11 s in the future"},
		{name: "expired 9 s ago (within skew)", token: rawToken(t, key, hdr, with("iat", now.Unix()-129, "exp", now.Unix()-9))},
		{name: "expired 10 s ago", token: rawToken(t, key, hdr, with("iat", now.Unix()-130, "exp", now.Unix()-10)), check: taap.CheckExpiry, reason: "expired 10 s ago"},
		{name: "lifetime 121 s", token: rawToken(t, key, hdr, with("exp", now.Unix()+121)), check: taap.CheckLifetime, reason: "121 s"},
		{name: "exp before iat", token: rawToken(t, key, hdr, with("iat", now.Unix(), "exp", now.Unix())), check: taap.CheckLifetime, reason: "0 s"},
		{name: "ehts empty name", token: rawToken(t, key, hdr, with("ehts", "uri;;body")), check: taap.CheckEHTS, reason: "part 2 is empty"},
		{name: "ehts duplicate", token: rawToken(t, key, hdr, with("ehts", "uri;URI")), check: taap.CheckEHTS, reason: "twice"},
		{name: "uri not signed", token: rawToken(t, key, hdr, with("ehts", "Content-Type;Authorization;http-method;body")), check: taap.CheckRequired, reason: `"uri"`},
		{name: "method not signed", token: rawToken(t, key, hdr, with("ehts", "Content-Type;Authorization;uri;body")), check: taap.CheckRequired, reason: `"http-method"`},
		{name: "body not signed", token: rawToken(t, key, hdr, with("ehts", "Content-Type;Authorization;uri;http-method")), check: taap.CheckRequired, reason: `"body"`},
		{name: "Authorization not signed", token: rawToken(t, key, hdr, with("ehts", "Content-Type;uri;http-method;body")), check: taap.CheckRequired, reason: `"Authorization"`},
		{name: "pseudo-name in upper case is a header", token: rawToken(t, key, hdr, with("ehts", "Content-Type;Authorization;URI;http-method;body")), check: taap.CheckRequired, reason: `"uri"`},
		{name: "method signed in lower case", token: rawToken(t, key, hdr, with("edts", edtsOf("application/json", "Bearer abc", req.URI, "post", `{"a":1}`))), check: taap.CheckEDTS, reason: "does not match"},
		{name: "query dropped from uri", token: rawToken(t, key, hdr, with("edts", edtsOf("application/json", "Bearer abc", "/iot-connectivity/v1/devices", "POST", `{"a":1}`))), check: taap.CheckEDTS, reason: "does not match"},
		{name: "values joined with a separator", token: rawToken(t, key, hdr, with("edts", edtsOf("application/json;", "Bearer abc;", req.URI+";", "POST;", `{"a":1}`))), check: taap.CheckEDTS, reason: "does not match"},
		{name: "edts in another case", token: rawToken(t, key, hdr, with("edts", strings.ToUpper(good()["edts"].(string)))), check: taap.CheckEDTS, reason: "does not match"},
		{name: "signed header not sent", token: rawToken(t, key, hdr, with("ehts", ehts+";X-Device")), check: taap.CheckEDTS, reason: `"X-Device"`},
		{name: "body changed", token: rawToken(t, key, hdr, good()), req: &taap.Signed{Method: req.Method, URI: req.URI, Header: req.Header, Body: []byte(`{"a":2}`)}, check: taap.CheckEDTS, reason: "does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := taap.DefaultConfig()
			v := taap.NewVerifier(taap.VerifierConfig{Algorithms: cfg.Algorithms, Skew: cfg.ClockSkew, MaxLifetime: cfg.MaxLifetime},
				&memReplay{}, core.NewManualClock(now))
			keys := tc.keys
			if keys == nil {
				keys = []*rsa.PublicKey{&key.PublicKey}
			}
			r := req
			if tc.req != nil {
				r = *tc.req
			}
			in := taap.Input{Token: tc.token, Request: r, Keys: keys, Required: taap.Required(cfg.ResourceParts, r), Scope: "client"}
			_, err := v.Verify(context.Background(), in)
			if tc.check == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *taap.CheckError
			if !errors.As(err, &ce) || ce.Check != tc.check || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("got %v, want check %s with %q", err, tc.check, tc.reason)
			}
			if ce.Canonical != "" {
				t.Fatal("canonical string echoed without the debug option")
			}
			// Explain agrees with Verify on the first failing check.
			for _, res := range v.Explain(in) {
				if !res.OK {
					if res.Check != tc.check {
						t.Fatalf("Explain fails %s first, Verify %s", res.Check, tc.check)
					}
					break
				}
			}
		})
	}
}

// TestVerifierReplay: a jti is spent once per client scope and kept
// until the token could no longer pass the time checks.
func TestVerifierReplay(t *testing.T) {
	key := testKeys()[0]
	now := time.Unix(1_760_000_000, 0)
	rc := &memReplay{}
	v := taap.NewVerifier(taap.VerifierConfig{Algorithms: []string{"RS256"}, Skew: 10 * time.Second, MaxLifetime: 120 * time.Second}, rc, core.NewManualClock(now))
	req := taap.Signed{Method: "GET", URI: "/x", Header: http.Header{}}
	tok := rawToken(t, key, `{"alg":"RS256"}`, map[string]any{"iat": now.Unix(), "exp": now.Unix() + 60, "ehts": "uri;http-method;body",
		"edts": edtsOf("/x", "GET", ""), "jti": "j-1", "v": "1"})
	in := taap.Input{Token: tok, Request: req, Keys: []*rsa.PublicKey{&key.PublicKey}, Required: []string{"uri", "http-method", "body"}, Scope: "client-a"}
	if _, err := v.Verify(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(context.Background(), in)
	var ce *taap.CheckError
	if !errors.As(err, &ce) || ce.Check != taap.CheckReplay || core.KindOf(err) != core.KindReplayed {
		t.Fatalf("second use: %v", err)
	}
	for _, exp := range rc.seen {
		if want := time.Unix(now.Unix()+60, 0).Add(11 * time.Second); !exp.Equal(want) {
			t.Fatalf("jti kept until %v, want %v (exp + skew + 1 s)", exp, want)
		}
	}
}

// TestVerifierDebugCanonical: with the debug option an edts mismatch
// carries the server's canonical string, Authorization redacted.
func TestVerifierDebugCanonical(t *testing.T) {
	key := testKeys()[0]
	now := time.Unix(1_760_000_000, 0)
	req := taap.Signed{Method: "GET", URI: "/d?x=1", Header: http.Header{"Authorization": {"Bearer s3cret-token"}, "Content-Type": {"application/json"}}}
	tok := rawToken(t, key, `{"alg":"RS256"}`, map[string]any{"iat": now.Unix(), "exp": now.Unix() + 60,
		"ehts": "Content-Type;Authorization;uri;http-method;body", "edts": edtsOf("text/plain", "Bearer s3cret-token", "/d?x=1", "GET", ""), "jti": "j", "v": "1"})
	for _, debug := range []bool{false, true} {
		v := taap.NewVerifier(taap.VerifierConfig{Algorithms: []string{"RS256"}, Skew: 10 * time.Second, MaxLifetime: 120 * time.Second, Debug: debug},
			&memReplay{}, core.NewManualClock(now))
		_, err := v.Verify(context.Background(), taap.Input{Token: tok, Request: req, Keys: []*rsa.PublicKey{&key.PublicKey}})
		var ce *taap.CheckError
		if !errors.As(err, &ce) || ce.Check != taap.CheckEDTS {
			t.Fatalf("debug=%v: %v", debug, err)
		}
		if !debug {
			if ce.Canonical != "" {
				t.Fatal("canonical string without the debug option")
			}
			continue
		}
		if !strings.HasPrefix(ce.Canonical, "application/json<Authorization: Bearer ...,") || !strings.HasSuffix(ce.Canonical, ">/d?x=1GET") {
			t.Fatalf("canonical %q", ce.Canonical)
		}
		if strings.Contains(ce.Canonical, "s3cret") {
			t.Fatal("canonical string leaks the Authorization value")
		}
	}
}
