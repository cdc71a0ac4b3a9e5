package taap

import (
	"context"
	"errors"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// The admin API registers clients, their keys and SIM records. Each
// route runs the core admin check (core.BearerAuth.Admin: an
// administrator's OAuth2 access token, the action granted across every
// organisation); refusals are answered in this adapter's shape.

// adminCheck is the core admin check (*core.BearerAuth).
type adminCheck interface {
	Admin(ctx context.Context, req core.BearerRequest, action core.Action, subject string) (core.BearerCaller, error)
}

var _ adminCheck = (*core.BearerAuth)(nil)

// admin runs h for callers the core admin check admits for action.
func (m *Module) admin(action core.Action, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := m.d.Admin.Admin(r.Context(), core.BearerRequest{Header: r.Header.Get("Authorization"), TLS: r.TLS, Protocol: protocol,
			RemoteAddr: m.d.ClientAddr.IP(r), RequestID: httpapi.RequestID(r)}, action, r.Method+" "+r.URL.Path)
		if err != nil {
			if errors.Is(err, core.ErrBearerMissing) || errors.Is(err, core.ErrBearerMalformed) {
				err = &oauthError{status: http.StatusUnauthorized, code: "invalid_request", desc: "an admin access token is required: Authorization: Bearer <access_token>"}
			}
			m.writeError(w, r, err, ctxBearer)
			return
		}
		h(w, r)
	})
}

type createClientRequest struct {
	OrgID      string   `json:"org_id"`
	Name       string   `json:"name"`
	PublicKeys []string `json:"public_keys"`
	Scope      string   `json:"scope"`
}

// createClient is POST /taap/v1/clients -> 201 with the client id and
// secret (shown once).
func (m *Module) createClient(w http.ResponseWriter, r *http.Request) {
	var req createClientRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	spec := ClientSpec{OrgID: req.OrgID, Name: req.Name, Scope: req.Scope}
	for _, k := range req.PublicKeys {
		spec.PublicKeys = append(spec.PublicKeys, []byte(k))
	}
	info, err := CreateClient(r.Context(), m.d.Services, spec)
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, info)
}

// addKey is POST /taap/v1/clients/{client_id}/keys {"public_key": ...}.
func (m *Module) addKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PublicKey string `json:"public_key"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	tp, err := AddClientKey(r.Context(), m.d.Services, r.PathValue("client_id"), []byte(req.PublicKey))
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"key_thumbprint": tp})
}

// createSIM is POST /taap/v1/sims {"org_id", "iccid", "imsi", "msisdn", "status", "label"}.
func (m *Module) createSIM(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OrgID string `json:"org_id"`
		SIM
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	s, err := AddSIM(r.Context(), m.d.Services, req.OrgID, req.SIM)
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, s)
}
