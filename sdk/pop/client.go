package pop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client calls a TAAP API: the token endpoint with Basic client
// credentials plus PoP, and resources with Bearer plus PoP.
type Client struct {
	BaseURL      string // e.g. https://authgate.example
	ClientID     string
	ClientSecret string
	Builder      *Builder
	HTTP         *http.Client // default http.DefaultClient
}

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// Error is an error answer of a TAAP server.
type Error struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

// HTTPStatus is the status code of the answer.
func (e *Error) HTTPStatus() int { return e.Status }

func (e *Error) Error() string {
	return fmt.Sprintf("taap: %d %s: %s", e.Status, e.Code, e.Description)
}

// TokenPath is the TAAP OAuth token endpoint.
const TokenPath = "/oauth2/v6/tokens"

// TokenRequest builds the token request as TAAP clients make it: Basic
// client credentials, an empty body, and a PoP token over
// Authorization;uri;http-method.
func (c *Client) TokenRequest(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+TokenPath, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	tok, err := c.Builder.Build([]Part{{"Authorization", req.Header.Get("Authorization")}, {URI, req.URL.RequestURI()}, {Method, req.Method}})
	if err != nil {
		return nil, err
	}
	req.Header.Set(Header, tok)
	return req, nil
}

// Token obtains an access token, ID token and refresh token.
func (c *Client) Token(ctx context.Context) (*TokenResponse, error) {
	req, err := c.TokenRequest(ctx)
	if err != nil {
		return nil, err
	}
	var out TokenResponse
	if err := c.do(req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// NewRequest builds a resource request with the Bearer access token and
// a PoP token over Content-Type (when there is a body), Authorization,
// uri, http-method and body.
func (c *Client) NewRequest(ctx context.Context, method, path string, body []byte, accessToken string) (*http.Request, error) {
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if err := c.Builder.Sign(req, "Content-Type", "Authorization"); err != nil {
		return nil, err
	}
	return req, nil
}

// Device reads GET /iot-connectivity/v1/devices/{ICCID}.
func (c *Client) Device(ctx context.Context, accessToken, iccid string) (map[string]any, error) {
	req, err := c.NewRequest(ctx, http.MethodGet, "/iot-connectivity/v1/devices/"+iccid, nil, accessToken)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, c.do(req, &out)
}

func (c *Client) do(req *http.Request, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		_ = json.Unmarshal(b, e)
		return e
	}
	return json.Unmarshal(b, out)
}
