package taap

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// explainRequest is what the Verify page posts: a token, the request it
// is meant for, and the public key to check it with.
type explainRequest struct {
	Token     string            `json:"token"`
	Method    string            `json:"method"`
	URI       string            `json:"uri"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	PublicKey string            `json:"public_key"`
	Route     string            `json:"route"` // "resource" (default) or "token"
}

type explainResponse struct {
	Valid      bool            `json:"valid"`
	Failed     *Result         `json:"first_failure,omitempty"`
	Checks     []Result        `json:"checks"`
	Header     json.RawMessage `json:"header,omitempty"`
	Claims     json.RawMessage `json:"claims,omitempty"`
	ServerEDTS string          `json:"server_edts,omitempty"`
	Canonical  string          `json:"server_canonical,omitempty"`
	Note       string          `json:"note"`
}

// explain is POST /taap/v1/pop/explain, behind the Verify page: it runs
// every check but the jti replay check (it spends nothing) against the
// given request and public key, and says which pass and which fail. It is
// unauthenticated: each address gets a small budget (explainBurst, then
// explainPerSecond), and the key is held to core.CheckRSAKey's sizes.
func (m *Module) explain(w http.ResponseWriter, r *http.Request) {
	if err := m.explainLimit.Allow(m.d.ClientAddr.IP(r)); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	var req explainRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	var keys []*rsa.PublicKey
	if strings.TrimSpace(req.PublicKey) != "" {
		k, err := ParsePublicKey([]byte(req.PublicKey))
		if err != nil {
			m.writeError(w, r, err, ctxOther)
			return
		}
		keys = append(keys, k)
	}
	if req.Method == "" || !strings.HasPrefix(req.URI, "/") {
		m.writeError(w, r, core.E(core.KindInvalidInput, "method and uri (a path starting with /, plus ?query) are required"), ctxOther)
		return
	}
	h := http.Header{}
	for k, v := range req.Headers {
		if k != "" && v != "" {
			h.Set(k, v)
		}
	}
	s := Signed{Method: req.Method, URI: req.URI, Header: h, Body: []byte(req.Body)}
	parts := m.cfg.ResourceParts
	if req.Route == "token" {
		parts = m.cfg.TokenEndpointParts
	}
	cfg := m.cfg.verifierConfig()
	cfg.Debug = true
	v := NewVerifier(cfg, nil, m.d.Clock)
	in := Input{Token: strings.TrimSpace(req.Token), Request: s, Keys: keys, Required: Required(parts, s)}
	resp := explainResponse{Checks: v.Explain(in), Note: "the jti replay check is not run here: explaining a token does not spend it"}
	resp.Valid = true
	for i := range resp.Checks {
		if !resp.Checks[i].OK {
			resp.Valid = false
			if resp.Failed == nil {
				resp.Failed = &resp.Checks[i]
			}
		}
	}
	if hdr, cl, ok := decodeParts(in.Token); ok {
		resp.Header, resp.Claims = hdr, cl
	}
	if t, err := ParseToken(in.Token); err == nil {
		if e, err := s.EDTS(t.Parts); err == nil {
			resp.ServerEDTS = e
		}
		resp.Canonical = s.Canonical(t.Parts)
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// decodeParts returns the decoded header and claims of a compact JWS when
// both are JSON, for display.
func decodeParts(tok string) (json.RawMessage, json.RawMessage, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(tok) > MaxTokenBytes {
		return nil, nil, false
	}
	h, err1 := b64(parts[0])
	c, err2 := b64(parts[1])
	if err1 != nil || err2 != nil || !json.Valid(h) || !json.Valid(c) {
		return nil, nil, false
	}
	return h, c, true
}
