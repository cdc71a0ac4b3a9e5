// Package oauth2client is the Go SDK for authgate's device-server OAuth2
// endpoint: it obtains an access token for an access key and secret with
// the password grant, caches it (in memory and optionally in a file), and
// refreshes it with the refresh token before it expires, falling back to
// the key and secret when the refresh token is no longer accepted.
//
// Cache entries are keyed by an HMAC under the secret of the token URL
// and key, so a wrong secret never finds the token the right one cached.
// VerifiedToken checks a cached token with the server before handing it
// on (the CLI prints only tokens the server accepts).
//
// A Client is safe for concurrent use; concurrent callers share one
// refresh. Across processes sharing a cache file, racing refreshes are
// absorbed by the server's refresh grace window.
package oauth2client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Token is a cached token pair.
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry"`
}

// Valid reports whether the access token can still be used at now with
// skew to spare.
func (t *Token) Valid(now time.Time, skew time.Duration) bool {
	return t != nil && t.AccessToken != "" && now.Add(skew).Before(t.Expiry)
}

// Cache persists tokens between processes. Key identifies the server,
// access key and secret (a keyed hash, never the secret itself);
// implementations must keep tokens private to the user.
type Cache interface {
	Load(key string) (*Token, error) // nil, nil when absent
	Save(key string, t *Token) error
}

// cacheDeleter is a Cache that can drop an entry (FileCache): a token
// pair the server refused is removed rather than kept.
type cacheDeleter interface {
	Delete(key string) error
}

// Error is an OAuth2 error returned by the server.
type Error struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

// HTTPStatus is the status code of the answer.
func (e *Error) HTTPStatus() int { return e.Status }

func (e *Error) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("oauth2: %s (HTTP %d): %s", e.Code, e.Status, e.Description)
	}
	return fmt.Sprintf("oauth2: %s (HTTP %d)", e.Code, e.Status)
}

// Client gets and refreshes tokens for one access key.
type Client struct {
	baseURL  string
	tokenURL string
	key      string
	secret   string
	http     *http.Client
	cache    Cache
	now      func() time.Time
	skew     time.Duration

	mu  sync.Mutex
	tok *Token
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used to reach the token endpoint.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithCache persists tokens (see FileCache).
func WithCache(cache Cache) Option { return func(c *Client) { c.cache = cache } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithSkew refreshes this long before expiry (default 30 s).
func WithSkew(d time.Duration) Option { return func(c *Client) { c.skew = d } }

// New returns a client for the authgate at baseURL (its /oauth/token is used).
func New(baseURL, key, secret string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("oauth2client: base URL must be an absolute http(s) URL, got %q", baseURL)
	}
	if key == "" || secret == "" {
		return nil, errors.New("oauth2client: key and secret are required")
	}
	c := &Client{baseURL: u.String(), tokenURL: u.String() + "/oauth/token", key: key, secret: secret,
		http: &http.Client{Timeout: 30 * time.Second}, now: time.Now, skew: 30 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// cacheKey names this client's entry in a shared cache: HMAC-SHA256
// under the secret of the token URL and key, so the entry of one secret
// is not the entry of another, and the secret cannot be read from it.
func (c *Client) cacheKey() string {
	mac := hmac.New(sha256.New, []byte(c.secret))
	mac.Write([]byte(c.tokenURL + " " + c.key))
	return hex.EncodeToString(mac.Sum(nil))
}

// Token returns a valid access token, from memory, the cache, a refresh,
// or a new password grant, in that order.
func (c *Client) Token(ctx context.Context) (*Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, _, err := c.token(ctx)
	return t, err
}

// VerifiedToken is Token for callers that hand the token on: a token
// taken from memory or the cache is first presented to the server (GET /
// with it, the entry point, which answers 401 for a token it refuses: its
// key was deleted, it was revoked). A refused one is replaced by a
// refresh or, failing that, a new password grant; an error means no token
// the server accepts could be had (a deleted key, a wrong secret: the
// server's refusal is in the error).
func (c *Client) VerifiedToken(ctx context.Context) (*Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, cached, err := c.token(ctx)
	if err != nil || !cached {
		return t, err
	}
	switch err := c.check(ctx, t); {
	case err == nil:
		return t, nil
	case !errors.Is(err, errRefused):
		return nil, err
	}
	c.tok = &Token{RefreshToken: t.RefreshToken} // keep only the refresh token
	t, _, err = c.token(ctx)
	return t, err
}

// errRefused is the server's 401 to a token check.
var errRefused = errors.New("oauth2client: the server refuses the access token")

// check presents t to the server's entry point.
func (c *Client) check(ctx context.Context, t *Token) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("oauth2client: checking the cached token: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		return errRefused
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("oauth2client: checking the cached token: HTTP %d from %s/", res.StatusCode, c.baseURL)
	}
	return nil
}

// token is Token under c.mu; cached reports that the token did not come
// from the server just now.
func (c *Client) token(ctx context.Context) (_ *Token, cached bool, err error) {
	now := c.now()
	if c.tok.Valid(now, c.skew) {
		return c.tok, true, nil
	}
	if c.tok == nil && c.cache != nil {
		if t, err := c.cache.Load(c.cacheKey()); err == nil && t != nil {
			c.tok = t
			if t.Valid(now, c.skew) {
				return t, true, nil
			}
		}
	}
	var t *Token
	if c.tok != nil && c.tok.RefreshToken != "" {
		t, err = c.grant(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.tok.RefreshToken}})
		var oe *Error
		if err != nil && errors.As(err, &oe) && oe.Code == "invalid_grant" {
			t, err = nil, nil // refresh token expired or revoked: log in again
		}
		if err != nil {
			return nil, false, err
		}
	}
	if t == nil {
		t, err = c.grant(ctx, url.Values{"grant_type": {"password"}, "username": {c.key}, "password": {c.secret}})
		var oe *Error
		if errors.As(err, &oe) {
			// The server refuses the key and secret: forget what they had.
			c.tok = nil
			if d, ok := c.cache.(cacheDeleter); ok {
				_ = d.Delete(c.cacheKey())
			}
		}
		if err != nil {
			return nil, false, err
		}
	}
	c.tok = t
	if c.cache != nil {
		if err := c.cache.Save(c.cacheKey(), t); err != nil {
			return t, false, fmt.Errorf("oauth2client: token obtained but not cached: %w", err)
		}
	}
	return t, false, nil
}

// Invalidate forgets the in-memory access token (for example after the
// server answered 401), keeping the refresh token.
func (c *Client) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil {
		t := *c.tok
		t.Expiry = time.Time{}
		c.tok = &t
	}
}

func (c *Client) grant(ctx context.Context, form url.Values) (*Token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := c.now()
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
		e := &Error{Status: res.StatusCode}
		if json.Unmarshal(body, e) != nil || e.Code == "" {
			e.Code = "http_error"
			e.Description = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		return nil, e
	}
	var tr struct {
		AccessToken  string          `json:"access_token"`
		TokenType    string          `json:"token_type"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		RefreshToken string          `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, errors.New("oauth2client: token response without access_token")
	}
	if !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fmt.Errorf("oauth2client: unsupported token_type %q", tr.TokenType)
	}
	// expires_in is a number in RFC 6749; the device server also sends it as a string.
	var secs int64
	if err := json.Unmarshal(tr.ExpiresIn, &secs); err != nil {
		var s string
		if json.Unmarshal(tr.ExpiresIn, &s) == nil {
			_, err = fmt.Sscan(s, &secs)
		}
		if err != nil {
			return nil, errors.New("oauth2client: token response with invalid expires_in")
		}
	}
	t := &Token{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, Expiry: start.Add(time.Duration(secs) * time.Second)}
	if t.RefreshToken == "" && form.Get("grant_type") == "refresh_token" {
		t.RefreshToken = form.Get("refresh_token") // server kept the refresh token
	}
	return t, nil
}

// Transport returns a RoundTripper that adds the bearer token to every
// request and, when the server answers 401, refreshes once and retries
// requests whose body can be replayed.
func (c *Client) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, base: base}
}

type transport struct {
	c    *Client
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.c.Token(req.Context())
	if err != nil {
		return nil, err
	}
	r2 := req.Clone(req.Context())
	r2.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err := t.base.RoundTrip(r2)
	if err != nil || res.StatusCode != http.StatusUnauthorized || (req.Body != nil && req.GetBody == nil) {
		return res, err
	}
	res.Body.Close()
	t.c.Invalidate()
	if tok, err = t.c.Token(req.Context()); err != nil {
		return nil, err
	}
	r3 := req.Clone(req.Context())
	if req.GetBody != nil {
		if r3.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	r3.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return t.base.RoundTrip(r3)
}
