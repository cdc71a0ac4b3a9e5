package oauth2client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authgate/authgate/sdk/oauth2client"
)

// TestVerifiedTokenCannotConfirm: when the check of a cached token fails
// for another reason than a 401 (the server answers 503), VerifiedToken
// returns an error rather than a token it could not confirm; Token (no
// check) still answers from the cache. A 401 leads to a refresh.
func TestVerifiedTokenCannotConfirm(t *testing.T) {
	var grants, entry, entryStatus atomic.Int32
	entryStatus.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			n := grants.Add(1)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-%d"}`, n, n)
		case "/":
			entry.Add(1)
			w.WriteHeader(int(entryStatus.Load()))
		}
	}))
	defer srv.Close()
	cache := oauth2client.FileCache{Path: filepath.Join(t.TempDir(), "tokens.json")}
	client := func() *oauth2client.Client {
		c, err := oauth2client.New(srv.URL, "key", "secret", oauth2client.WithCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	if tok, err := client().VerifiedToken(ctx); err != nil || tok.AccessToken != "at-1" || entry.Load() != 0 {
		t.Fatalf("a fresh grant needs no check: %v %v (checks %d)", tok, err, entry.Load())
	}
	if tok, err := client().VerifiedToken(ctx); err != nil || tok.AccessToken != "at-1" || entry.Load() != 1 {
		t.Fatalf("cached and accepted: %v %v (checks %d)", tok, err, entry.Load())
	}
	entryStatus.Store(503)
	if tok, err := client().VerifiedToken(ctx); err == nil || tok != nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("check failed with 503: %v %v", tok, err)
	}
	if tok, err := client().Token(ctx); err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("Token does not check: %v %v", tok, err)
	}
	entryStatus.Store(401)
	if tok, err := client().VerifiedToken(ctx); err != nil || tok.AccessToken != "at-2" || grants.Load() != 2 {
		t.Fatalf("refused: want a refresh, got %v %v (grants %d)", tok, err, grants.Load())
	}
	other, err := oauth2client.New(srv.URL, "key", "other secret", oauth2client.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := other.Token(ctx); err != nil || tok.AccessToken != "at-3" {
		t.Fatalf("another secret must not find the cached token: %v %v", tok, err)
	}
}
