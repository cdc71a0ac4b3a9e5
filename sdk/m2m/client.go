package m2m

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/authgate/authgate/internal/wssec"
)

// Client calls M2MAdm and M2MMon of one environment.
type Client struct {
	// BaseURL is the environment's listener, e.g. https://m2m-ta.example:8443.
	BaseURL string
	// APIKey is the partner's M2MApiKey for this environment.
	APIKey string
	// Identifiers, if set, are sent in every request (checked by the platform).
	Identifiers Identifiers
	// Signer signs requests with the partner's signing certificate.
	Signer *wssec.Signer
	// Verifier checks the platform's signed answers (pin its certificate).
	Verifier *wssec.Verifier
	// HTTP is the transport (default http.DefaultClient).
	HTTP *http.Client
	// MaxResponseBytes bounds answers (default 1 MiB).
	MaxResponseBytes int64
}

// SIMUsageGet asks for the current usage of a SIM (synchronous).
func (c *Client) SIMUsageGet(ctx context.Context, iccid string) (*SIMUsageResponse, error) {
	var out SIMUsageResponse
	err := c.Call(ctx, "/M2MMon", SIMUsageGet{M2MApiKey: c.APIKey, Identifiers: c.Identifiers, ICCID: iccid}, &out)
	return &out, err
}

// SIMStateGet asks for the state of a SIM (synchronous).
func (c *Client) SIMStateGet(ctx context.Context, iccid string) (*SIMStateResponse, error) {
	var out SIMStateResponse
	err := c.Call(ctx, "/M2MMon", SIMStateGet{M2MApiKey: c.APIKey, Identifiers: c.Identifiers, ICCID: iccid}, &out)
	return &out, err
}

// Adm sends an M2MAdm operation (SIMActivation, ...). The answer only says
// the request was accepted; the result arrives at M2MAdmCl.
func (c *Client) Adm(ctx context.Context, op, iccid, tariff string) (*MessageResponse, error) {
	var out MessageResponse
	req := NewAdmRequest(op, c.APIKey, iccid, tariff)
	req.Identifiers = c.Identifiers
	err := c.Call(ctx, "/M2MAdm", req, &out)
	return &out, err
}

// ErrUnsignedFault wraps a Fault whose envelope was not signed (security
// faults are sent unsigned); its content is unauthenticated.
var ErrUnsignedFault = errors.New("unsigned SOAP fault")

// Call signs req, posts it to path and decodes the verified answer into
// resp. A SOAP Fault is returned as *Fault (wrapped in ErrUnsignedFault
// when it came unsigned).
func (c *Client) Call(ctx context.Context, path string, req, resp any) error {
	raw, err := c.RoundTrip(ctx, path, req)
	if err != nil {
		return err
	}
	return c.Decode(raw, resp)
}

// RoundTrip signs and posts req and returns the raw answer envelope.
func (c *Client) RoundTrip(ctx context.Context, path string, req any) ([]byte, error) {
	payload, err := xml.Marshal(req)
	if err != nil {
		return nil, err
	}
	signed, err := c.Signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	return c.Post(ctx, path, signed)
}

// Post sends an already signed envelope.
func (c *Client) Post(ctx context.Context, path string, envelope []byte) ([]byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(envelope))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "text/xml; charset=utf-8")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > limit {
		return nil, errors.New("m2m: answer too large")
	}
	// Faults come with 500 (SOAP 1.1), or 503 while the platform's database is down.
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusInternalServerError && res.StatusCode != http.StatusServiceUnavailable {
		return nil, fmt.Errorf("m2m: HTTP %d", res.StatusCode)
	}
	return raw, nil
}

// Decode verifies an answer envelope and decodes its payload into resp.
func (c *Client) Decode(raw []byte, resp any) error {
	v, err := c.Verifier.Verify(raw)
	if err != nil {
		if f := ParseFault(raw); f != nil {
			return fmt.Errorf("%w: %w", ErrUnsignedFault, f)
		}
		return fmt.Errorf("m2m: answer rejected: %w", err)
	}
	if f := ParseFault(v.BodyC14N); f != nil {
		return f
	}
	return DecodePayload(v.BodyC14N, resp)
}
