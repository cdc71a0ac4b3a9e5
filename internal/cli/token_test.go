package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

func TestTokenCommandCachesToken(t *testing.T) {
	e := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		m, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{m}
	})
	cache := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("AUTHGATE_SECRET", e.Admin.Secret)
	run := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := Main(append([]string{"token", "--url", e.URL, "--key", e.Admin.Key, "--cache", cache}, args...), nil, &out, &errb); code != 0 {
			t.Fatalf("authgate token: exit %d: %s", code, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	first := run()
	if len(first) < 40 {
		t.Fatalf("token %q", first)
	}
	if second := run(); second != first {
		t.Fatal("second run did not reuse the cached token")
	}
	if st, err := os.Stat(cache); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache mode: %v %v", st, err)
	}
	if b, _ := os.ReadFile(cache); bytes.Contains(b, []byte(e.Admin.Secret)) {
		t.Fatal("the secret must never be written to the cache")
	}
	if js := run("--json"); !strings.Contains(js, `"access_token": "`+first+`"`) {
		t.Fatalf("--json output: %s", js)
	}
	var errb bytes.Buffer
	t.Setenv("AUTHGATE_SECRET", "wrong")
	if code := Main([]string{"token", "--url", e.URL, "--key", e.Admin.Key, "--no-cache"}, nil, &bytes.Buffer{}, &errb); code == 0 || !strings.Contains(errb.String(), "invalid_grant") {
		t.Fatalf("wrong secret: exit %d, %s", code, errb.String())
	}
}

// tokenServer is authgate with the OAuth2 module, and an admin token.
func tokenServer(t *testing.T) (*agtest.Env, string) {
	t.Helper()
	e := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		m, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{m}
	})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	httpJSON(t, "POST", e.URL+"/oauth/token", "", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"password"}, "username": {e.Admin.Key}, "password": {e.Admin.Secret}}.Encode(), 200, &tok)
	return e, tok.AccessToken
}

// httpJSON makes one request and decodes its JSON answer into out (if not nil).
func httpJSON(t *testing.T, method, u, bearer, ctype, body string, want int, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, u, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, u, b, err)
		}
	}
}

// tokenCLI runs `authgate token` for key with secret (AUTHGATE_SECRET)
// and the cache file: exit code, stdout (trimmed), stderr.
func tokenCLI(t *testing.T, url, key, secret, cache string) (int, string, string) {
	t.Helper()
	t.Setenv("AUTHGATE_SECRET", secret)
	var out, errb bytes.Buffer
	code := Main([]string{"token", "--url", url, "--key", key, "--cache", cache}, nil, &out, &errb)
	return code, strings.TrimSpace(out.String()), errb.String()
}

// TestTokenCommandPrintedRefusedTokens: `authgate token` printed a cached
// token with exit 0 after its key was deleted, and for a wrong secret.
// Through the real CLI: a cached token is checked with the server first; a
// refused one is refreshed (revoked access token) or, when the key and
// secret are refused too, nothing is printed, the exit status is non-zero,
// the message names the refusal and the cache entry is gone. A wrong
// secret never sees the right secret's cached token, nor disturbs it.
func TestTokenCommandPrintedRefusedTokens(t *testing.T) {
	e, admin := tokenServer(t)
	var created struct{ Key, Secret string }
	httpJSON(t, "POST", e.URL+"/accesskeys", admin, "application/json", `{"Name":"cli user"}`, 201, &created)
	cache := filepath.Join(t.TempDir(), "tokens.json")
	works := func(tok string) bool {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+"/accesskeys", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode == 200
	}

	code, first, stderr := tokenCLI(t, e.URL, created.Key, created.Secret, cache)
	if code != 0 || !works(first) {
		t.Fatalf("first run: exit %d %q %s", code, first, stderr)
	}

	t.Run("wrong secret", func(t *testing.T) {
		code, out, stderr := tokenCLI(t, e.URL, created.Key, "wrong-"+created.Secret, cache)
		if code == 0 || out != "" || !strings.Contains(stderr, "the server refuses access key "+created.Key) || !strings.Contains(stderr, "invalid_grant") {
			t.Fatalf("wrong secret: exit %d, stdout %q, stderr %s", code, out, stderr)
		}
		if code, again, _ := tokenCLI(t, e.URL, created.Key, created.Secret, cache); code != 0 || again != first {
			t.Fatalf("the right secret after a wrong one: exit %d, %q (want the cached %q)", code, again, first)
		}
	})

	t.Run("revoked access token is refreshed", func(t *testing.T) {
		httpJSON(t, "POST", e.URL+"/oauth/revoke", admin, "application/x-www-form-urlencoded", url.Values{"token": {first}}.Encode(), 200, nil)
		code, out, stderr := tokenCLI(t, e.URL, created.Key, created.Secret, cache)
		if code != 0 || out == first || !works(out) {
			t.Fatalf("after revoking the cached token: exit %d, %q (old %q) %s", code, out, first, stderr)
		}
		first = out
	})

	t.Run("deleted key", func(t *testing.T) {
		httpJSON(t, "DELETE", e.URL+"/accesskeys/"+created.Key, admin, "", "", 204, nil)
		code, out, stderr := tokenCLI(t, e.URL, created.Key, created.Secret, cache)
		if code == 0 || out != "" || !strings.Contains(stderr, "the server refuses access key "+created.Key) || !strings.Contains(stderr, "no token printed") {
			t.Fatalf("deleted key: exit %d, stdout %q, stderr %s", code, out, stderr)
		}
		if b, err := os.ReadFile(cache); err != nil || bytes.Contains(b, []byte(first)) {
			t.Fatalf("the refused token is still cached: %v %s", err, b)
		}
	})
}
