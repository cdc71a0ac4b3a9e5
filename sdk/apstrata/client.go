// Package apstrata is a Go client for Apstrata-style token services such as
// authgate's /apsdb/rest: it signs requests with the default (HMAC-SHA1) or
// simple (MD5) signature as the owner or as a user or device, uses tokens
// (parameters or bearer header), and parses the response envelope.
package apstrata

import (
	"context"
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // protocol-defined
	"crypto/sha1" //nolint:gosec // protocol-defined
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Flavor selects which vendor SDK's signing habits to reproduce.
type Flavor int

const (
	// PHP signs the real method, seconds, lower-case hex, encoded apsws.user.
	PHP Flavor = iota
	// Java signs POST always, milliseconds, upper-case hex, raw apsws.user,
	// and hashes the login (not the authKey) in the user simple signature.
	Java
)

// Client calls one service URL (e.g. https://host/apsdb/rest) for one account.
type Client struct {
	ServiceURL string
	AuthKey    string
	// Secret signs as the account owner; User+Password sign as a user or device.
	Secret   string
	User     string
	Password string
	Simple   bool // simple (MD5) signature instead of the default
	Flavor   Flavor
	HTTP     *http.Client
	Now      func() time.Time
}

// Response is the parsed response envelope.
type Response struct {
	StatusCode  int
	RequestID   string
	Status      string // success or failure
	ErrorCode   string
	ErrorDetail string
	Result      map[string]string
	Cookies     []*http.Cookie
}

// Error is a failure response.
type Error struct{ Response *Response }

// HTTPStatus is the status code of the answer.
func (e *Error) HTTPStatus() int { return e.Response.StatusCode }

func (e *Error) Error() string {
	return fmt.Sprintf("apstrata: %s: %s (HTTP %d)", e.Response.ErrorCode, e.Response.ErrorDetail, e.Response.StatusCode)
}

// Encode is the protocol's URL encoding (A-Z a-z 0-9 - _ . kept, all else %XX).
func Encode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// PasswordKey is UPPER(hex(MD5(password))), the signing key of users and devices.
func PasswordKey(password string) string {
	sum := md5.Sum([]byte(password)) //nolint:gosec // protocol-defined
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) key() string {
	if c.User != "" {
		return PasswordKey(c.Password)
	}
	return c.Secret
}

// Sign adds apsws.time (and apsws.user) and apsws.authSig to params for a
// call of action with method.
func (c *Client) Sign(method, action string, params url.Values) {
	t := c.now()
	ts := strconv.FormatInt(t.Unix(), 10)
	if c.Flavor == Java {
		ts = strconv.FormatInt(t.UnixMilli(), 10)
	}
	params.Set("apsws.time", ts)
	if c.User != "" {
		params.Set("apsws.user", c.User)
	}
	var sig string
	if c.Simple {
		params.Set("apsws.authMode", "simple")
		who := c.AuthKey
		if c.User != "" && c.Flavor == Java {
			who = c.User
		}
		sum := md5.Sum([]byte(ts + who + action + c.key())) //nolint:gosec // protocol-defined
		sig = hex.EncodeToString(sum[:])
	} else {
		signMethod := strings.ToUpper(method)
		if c.Flavor == Java {
			signMethod = "POST"
		}
		var pairs []string
		seen := map[string]bool{}
		for name, values := range params {
			if name == "apsws.authSig" {
				continue
			}
			for _, v := range values {
				ev := Encode(v)
				if c.Flavor == Java && name == "apsws.user" {
					ev = v
				}
				p := Encode(name) + "=" + ev
				if !seen[p] {
					seen[p] = true
					pairs = append(pairs, p)
				}
			}
		}
		sort.Strings(pairs)
		sts := signMethod + "\n" + Encode(strings.TrimRight(c.ServiceURL, "/")+"/"+c.AuthKey+"/"+action) + "\n" + strings.Join(pairs, "&")
		m := hmac.New(sha1.New, []byte(c.key()))
		m.Write([]byte(sts))
		sig = hex.EncodeToString(m.Sum(nil))
	}
	if c.Flavor == Java {
		sig = strings.ToUpper(sig)
	}
	params.Set("apsws.authSig", sig)
}

// Call signs and sends action with params (GET query or POST form).
func (c *Client) Call(ctx context.Context, method, action string, params url.Values) (*Response, error) {
	if params == nil {
		params = url.Values{}
	}
	c.Sign(method, action, params)
	return c.send(ctx, method, action, params, nil)
}

// CallWithToken sends action authenticated by a token of user or device id,
// as parameters (apsws.authMode=token).
func (c *Client) CallWithToken(ctx context.Context, method, action, id, token string, params url.Values) (*Response, error) {
	if params == nil {
		params = url.Values{}
	}
	params.Set("apsws.authMode", "token")
	params.Set("apsws.id", id)
	params.Set("apsdb.authToken", token)
	return c.send(ctx, method, action, params, nil)
}

// CallWithBearer sends action with "Authorization: Bearer base64(authKey:id:token)".
func (c *Client) CallWithBearer(ctx context.Context, method, action, id, token string, params url.Values) (*Response, error) {
	h := http.Header{"Authorization": {"Bearer " + base64.StdEncoding.EncodeToString([]byte(c.AuthKey+":"+id+":"+token))}}
	return c.send(ctx, method, action, params, h)
}

// Request builds the HTTP request for action with params already signed.
func (c *Client) Request(ctx context.Context, method, action string, params url.Values, h http.Header) (*http.Request, error) {
	u := strings.TrimRight(c.ServiceURL, "/") + "/" + url.PathEscape(c.AuthKey) + "/" + url.PathEscape(action)
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(params.Encode())
	} else if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return req, nil
}

func (c *Client) send(ctx context.Context, method, action string, params url.Values, h http.Header) (*Response, error) {
	req, err := c.Request(ctx, method, action, params, h)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	out, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("apstrata: HTTP %d: %w", resp.StatusCode, err)
	}
	out.StatusCode = resp.StatusCode
	out.Cookies = resp.Cookies()
	if out.Status != "success" {
		return out, &Error{Response: out}
	}
	return out, nil
}

// Parse reads a response envelope in XML or JSON.
func Parse(raw []byte) (*Response, error) {
	trimmed := strings.TrimSpace(string(raw))
	if strings.HasPrefix(trimmed, "{") {
		var env struct {
			Response struct {
				Metadata struct {
					RequestID   string `json:"requestId"`
					Status      string `json:"status"`
					ErrorCode   string `json:"errorCode"`
					ErrorDetail string `json:"errorDetail"`
				} `json:"metadata"`
				Result map[string]string `json:"result"`
			} `json:"response"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, err
		}
		md := env.Response.Metadata
		return &Response{RequestID: md.RequestID, Status: md.Status, ErrorCode: md.ErrorCode, ErrorDetail: md.ErrorDetail, Result: env.Response.Result}, nil
	}
	var env struct {
		Metadata struct {
			RequestID   string `xml:"requestId"`
			Status      string `xml:"status"`
			ErrorCode   string `xml:"errorCode"`
			ErrorDetail string `xml:"errorDetail"`
		} `xml:"metadata"`
		Result struct {
			Fields []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"result"`
	}
	if err := xml.Unmarshal(raw, &env); err != nil {
		return nil, err
	}
	out := &Response{RequestID: env.Metadata.RequestID, Status: env.Metadata.Status, ErrorCode: env.Metadata.ErrorCode, ErrorDetail: env.Metadata.ErrorDetail, Result: map[string]string{}}
	for _, f := range env.Result.Fields {
		out.Result[f.XMLName.Local] = f.Value
	}
	return out, nil
}
