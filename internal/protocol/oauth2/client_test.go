package oauth2_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	xoauth2 "golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestGolangOAuth2Client drives the token endpoint with golang.org/x/oauth2,
// a client nobody here wrote: password grant, refresh through a
// TokenSource, and client credentials.
func TestGolangOAuth2Client(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			opt := backend(t)
			e := start(t, opt, false, nil)
			ctx := context.Background()
			conf := &xoauth2.Config{Endpoint: xoauth2.Endpoint{TokenURL: e.URL + "/oauth/token"}}

			// The bootstrap admin key from `authgate serve` works with the password grant.
			tok, err := conf.PasswordCredentialsToken(ctx, e.Admin.Key, e.Admin.Secret)
			if err != nil {
				t.Fatalf("password grant: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Type() != "Bearer" {
				t.Fatalf("token = %+v", tok)
			}
			if d := time.Until(tok.Expiry); d < 59*time.Minute || d > 61*time.Minute {
				t.Fatalf("expiry in %v, want about 1h", d)
			}
			// The admin creates a key for a new organisation through an oauth2 client.
			hc := conf.Client(ctx, tok)
			key, secret := e.createKey(tok.AccessToken, "Integration Org")
			res, err := hc.Get(e.URL + "/accesskeys")
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("GET /accesskeys with the oauth2 client: %v %v", err, res)
			}
			res.Body.Close()

			// Refresh: a TokenSource with an expired token refreshes it.
			userTok, err := conf.PasswordCredentialsToken(ctx, key, secret)
			if err != nil {
				t.Fatal(err)
			}
			stale := *userTok
			stale.Expiry = time.Now().Add(-time.Minute)
			ts := conf.TokenSource(ctx, &stale)
			fresh, err := ts.Token()
			if err != nil {
				t.Fatalf("refresh via TokenSource: %v", err)
			}
			if fresh.AccessToken == userTok.AccessToken || fresh.RefreshToken == userTok.RefreshToken {
				t.Fatal("refresh did not rotate the tokens")
			}
			r := e.do("GET", "/accesskeys", bearer(fresh.AccessToken), "")
			if r.Status != 200 {
				t.Fatalf("refreshed token as bearer: %d %s", r.Status, r.Body)
			}
			// The user sees only its own organisation's key.
			if n := r.json(t)["PageInfo"].(map[string]any)["TotalCount"].(float64); n != 1 {
				t.Fatalf("user sees %v keys, want 1", n)
			}

			// Client credentials, with both authentication styles.
			for _, style := range []xoauth2.AuthStyle{xoauth2.AuthStyleInHeader, xoauth2.AuthStyleInParams} {
				cc := clientcredentials.Config{ClientID: key, ClientSecret: secret, TokenURL: e.URL + "/oauth/token", AuthStyle: style}
				ct, err := cc.Token(ctx)
				if err != nil {
					t.Fatalf("client credentials (style %d): %v", style, err)
				}
				if ct.RefreshToken != "" {
					t.Fatal("client credentials must not return a refresh token")
				}
				res, err := cc.Client(ctx).Get(e.URL + "/accesskeys")
				if err != nil || res.StatusCode != http.StatusOK {
					t.Fatalf("client-credentials token as bearer: %v %v", err, res)
				}
				res.Body.Close()
			}
			// A wrong client secret is an oauth2.RetrieveError with invalid_client.
			bad := clientcredentials.Config{ClientID: key, ClientSecret: "wrong", TokenURL: e.URL + "/oauth/token", AuthStyle: xoauth2.AuthStyleInHeader}
			_, err = bad.Token(ctx)
			var re *xoauth2.RetrieveError
			if !asRetrieveError(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
				t.Fatalf("wrong client secret: %v", err)
			}
		})
	}
}

func asRetrieveError(err error, re **xoauth2.RetrieveError) bool {
	e, ok := err.(*xoauth2.RetrieveError)
	if !ok {
		return false
	}
	*re = e
	return true
}
