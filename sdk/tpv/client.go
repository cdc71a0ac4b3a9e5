package tpv

import (
	"bytes"
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
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client calls a TPV Hub API. Login happens on first use and again when
// the auth token is about to expire. Safe for concurrent use.
type Client struct {
	// BaseURL is the client portal, e.g. https://tpv.example.com.
	BaseURL string
	// AppToken and AppSecret are the brand's application credentials. The
	// secret never leaves the client; it keys the HMACs.
	AppToken  string
	AppSecret string
	// HTTP is the transport; nil means a client with a 30 s timeout.
	HTTP *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Unsigned leaves the Signature header out, like the vendor's PHP sample.
	Unsigned bool
	// Cache, if set, keeps the auth token between processes (under
	// CacheKey), so a run does not log in while a cached token is valid.
	Cache Cache

	mu         sync.Mutex
	authToken  string
	expires    time.Time
	fromCache  bool             // authToken came from Cache and has not been accepted yet
	cacheTried bool             // Cache was read once
	used       map[string]int64 // signatures sent, with their timestamps
}

// Cache persists auth tokens between processes. Load returns "" when it
// holds nothing for key.
type Cache interface {
	Load(key string) (token string, expires time.Time, err error)
	Save(key, token string, expires time.Time) error
}

// CacheKey names this client's auth token in a Cache: an HMAC keyed with
// the application secret over the base URL and application token, so a
// client with another URL, token or secret never finds it, and the cache
// reveals none of them.
func (c *Client) CacheKey() string {
	m := hmac.New(sha256.New, []byte(c.AppSecret))
	m.Write([]byte("authgate tpv auth token\n" + strings.TrimRight(c.BaseURL, "/") + "\n" + c.AppToken))
	return hex.EncodeToString(m.Sum(nil))
}

// uniqueTimestamp returns the first timestamp from now on for which sign
// gives a signature this client has not sent yet. The server accepts each
// signature once, and the signed string has no nonce: two identical
// requests in the same second would sign identically, so the second one is
// moved to the next second (well inside the server's tolerance).
func (c *Client) uniqueTimestamp(sign func(ts string) (string, error)) (string, string, error) {
	now := c.now().Unix()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used == nil {
		c.used = map[string]int64{}
	}
	if len(c.used) > 256 {
		// A new signature uses a timestamp >= now, so older entries cannot collide.
		for sig, ts := range c.used {
			if ts < now {
				delete(c.used, sig)
			}
		}
	}
	for ts := now; ; ts++ {
		tss := strconv.FormatInt(ts, 10)
		sig, err := sign(tss)
		if err != nil {
			return "", "", err
		}
		if _, dup := c.used[sig]; !dup {
			c.used[sig] = ts
			return tss, sig, nil
		}
	}
}

// Error is a non-2xx answer: the status and the server's {"error"} text,
// and, for a refused record, every fault the server listed ("errors").
type Error struct {
	Status  int
	Message string
	Errors  []string
}

// HTTPStatus is the status code of the answer.
func (e *Error) HTTPStatus() int { return e.Status }

func (e *Error) Error() string {
	if len(e.Errors) > 1 {
		return fmt.Sprintf("tpv: %d %s", e.Status, strings.Join(e.Errors, " "))
	}
	return fmt.Sprintf("tpv: %d %s", e.Status, e.Message)
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Messages with which the server refuses a signature it has seen before.
// The request was not processed, so signing it again and retrying is safe;
// this happens when another process sent the same request in the same
// second (the signed strings have no nonce, only a timestamp in seconds).
// A retry waits for the next second and signs with it, at most
// maxReplayRetries times.
const (
	maxReplayRetries   = 3
	msgLoginReplayed   = "signature already used"
	msgRequestReplayed = "Signature has already been used"
)

func isReplay(err error, msg string) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusUnauthorized && e.Message == msg
}

// nextSecond waits until the clock's next whole second (at most one
// second, less if ctx ends first).
func (c *Client) nextSecond(ctx context.Context) error {
	now := c.now()
	t := time.NewTimer(now.Truncate(time.Second).Add(time.Second).Sub(now))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Login trades the application token and secret for an auth token,
// remembers it for later calls and saves it in Cache.
func (c *Client) Login(ctx context.Context) (string, error) {
	tok, err := c.login(ctx)
	for i := 0; i < maxReplayRetries && isReplay(err, msgLoginReplayed); i++ {
		if werr := c.nextSecond(ctx); werr != nil {
			return "", err
		}
		tok, err = c.login(ctx)
	}
	return tok, err
}

func (c *Client) login(ctx context.Context) (string, error) {
	now := c.now()
	ts, sig, err := c.uniqueTimestamp(func(ts string) (string, error) { return LoginSignature(c.AppToken, ts, c.AppSecret), nil })
	if err != nil {
		return "", err
	}
	u := strings.TrimRight(c.BaseURL, "/") + "/api/v1/auth?token=" + url.QueryEscape(c.AppToken) + "&timestamp=" + ts + "&_signature=" + sig
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return "", err
	}
	var out struct {
		AuthToken string `json:"auth_token"`
		ExpiresIn int64  `json:"expires_in"`
	}
	if err := c.roundTrip(req, &out); err != nil {
		return "", err
	}
	if out.AuthToken == "" {
		return "", errors.New("tpv: login answer has no auth_token")
	}
	if out.ExpiresIn <= 0 {
		out.ExpiresIn = 1800 // the vendor's documented life
	}
	exp := now.Add(time.Duration(out.ExpiresIn) * time.Second)
	c.mu.Lock()
	c.authToken, c.expires, c.fromCache = out.AuthToken, exp, false
	c.mu.Unlock()
	if c.Cache != nil {
		if err := c.Cache.Save(c.CacheKey(), out.AuthToken, exp); err != nil {
			return out.AuthToken, fmt.Errorf("tpv: logged in but the auth token was not cached: %w", err)
		}
	}
	return out.AuthToken, nil
}

// SetAuthToken uses a token obtained elsewhere (e.g. `authgate tpv login`).
func (c *Client) SetAuthToken(tok string, expires time.Time) {
	c.mu.Lock()
	c.authToken, c.expires = tok, expires
	c.mu.Unlock()
}

// token returns a valid auth token, logging in when there is none or it
// expires within a minute.
func (c *Client) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok, exp := c.authToken, c.expires
	readCache := tok == "" && c.Cache != nil && !c.cacheTried
	c.cacheTried = c.cacheTried || readCache
	c.mu.Unlock()
	if readCache {
		// An unreadable cache (or one others can read) is only a cache: log in.
		if t, e, err := c.Cache.Load(c.CacheKey()); err == nil && t != "" {
			c.mu.Lock()
			if c.authToken == "" {
				c.authToken, c.expires, c.fromCache = t, e, true
			}
			tok, exp = c.authToken, c.expires
			c.mu.Unlock()
		}
	}
	if tok != "" && c.now().Add(time.Minute).Before(exp) {
		return tok, nil
	}
	return c.Login(ctx)
}

// Do sends an authenticated (and, unless Unsigned, signed) request to
// path with query and body, and decodes a 2xx JSON answer into out. A
// cached auth token the server refuses (401) is dropped and the request
// sent once more after a login.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	err := c.do(ctx, method, path, query, body, out)
	for i := 0; i < maxReplayRetries && !c.Unsigned && isReplay(err, msgRequestReplayed); i++ {
		if werr := c.nextSecond(ctx); werr != nil {
			return err
		}
		err = c.do(ctx, method, path, query, body, out)
	}
	var e *Error
	c.mu.Lock()
	stale := c.fromCache && errors.As(err, &e) && e.Status == http.StatusUnauthorized && !isReplay(err, msgRequestReplayed)
	c.fromCache = false
	if stale {
		c.authToken = ""
	}
	c.mu.Unlock()
	if stale {
		if _, lerr := c.Login(ctx); lerr != nil {
			return lerr
		}
		return c.Do(ctx, method, path, query, body, out)
	}
	return err
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	u, err := url.Parse(strings.TrimRight(c.BaseURL, "/") + path)
	if err != nil {
		return err
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", tok)
	if !c.Unsigned {
		if err := c.Sign(req, body, tok); err != nil {
			return err
		}
	}
	return c.roundTrip(req, out)
}

// Sign adds X-TPV-Timestamp and Signature to req, whose body is body.
func (c *Client) Sign(req *http.Request, body []byte, authToken string) error {
	ts, sig, err := c.uniqueTimestamp(func(ts string) (string, error) {
		return RequestSignature(c.AppSecret, req.Method, req.URL, ts, body, authToken)
	})
	if err != nil {
		return err
	}
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sig)
	return nil
}

func (c *Client) roundTrip(req *http.Request, out any) error {
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error  string   `json:"error"`
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error, e.Errors = strings.TrimSpace(string(b)), nil
		}
		return &Error{Status: resp.StatusCode, Message: e.Error, Errors: e.Errors}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// successString is the vendor's {"success": "..."} answer.
type successString struct {
	Success string `json:"success"`
}

// Submit posts a sales record (any JSON-encodable value, or
// json.RawMessage) and returns its confirmation code.
func (c *Client) Submit(ctx context.Context, record any) (string, error) {
	body, err := json.Marshal(record)
	if err != nil {
		return "", err
	}
	var out successString
	if err := c.Do(ctx, http.MethodPost, "/api/v1/tpv", nil, body, &out); err != nil {
		return "", err
	}
	return out.Success, nil
}

// Product is a program code the brand sells.
type Product struct {
	ProgramCode string    `json:"program_code"`
	Name        string    `json:"name"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

// Products lists the brand's products.
func (c *Client) Products(ctx context.Context) ([]Product, error) {
	var out struct {
		Success []Product `json:"success"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/products", nil, nil, &out)
	return out.Success, err
}

// CreateProduct registers a program code for the brand.
func (c *Client) CreateProduct(ctx context.Context, p Product) (Product, error) {
	body, err := json.Marshal(map[string]string{"program_code": p.ProgramCode, "name": p.Name})
	if err != nil {
		return Product{}, err
	}
	var out struct {
		Success Product `json:"success"`
	}
	err = c.Do(ctx, http.MethodPost, "/api/v1/products", nil, body, &out)
	return out.Success, err
}

// SendDigital asks for the digital delivery of a confirmed sale.
func (c *Client) SendDigital(ctx context.Context, code string) (string, error) {
	var out successString
	err := c.Do(ctx, http.MethodPost, "/api/v1/digital/send/"+url.PathEscape(code), nil, nil, &out)
	return out.Success, err
}

// QueueCall queues the verification call of a confirmed sale.
func (c *Client) QueueCall(ctx context.Context, code string) (string, error) {
	var out successString
	err := c.Do(ctx, http.MethodPost, "/api/v1/queue/call/"+url.PathEscape(code), nil, nil, &out)
	return out.Success, err
}

// TestAPI calls /api/v1/test/api with params and returns the echo.
func (c *Client) TestAPI(ctx context.Context, params url.Values) (map[string]any, error) {
	var out map[string]any
	err := c.Do(ctx, http.MethodPost, "/api/v1/test/api", params, nil, &out)
	return out, err
}
