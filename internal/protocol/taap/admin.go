package taap

import (
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
)

// The admin API registers clients, their keys and SIM records. It is
// protected by the oauth2 module's bearer authenticator and needs an
// admin principal's access token.

// requireAdmin reports whether the authenticated caller is an admin,
// answering 403 (audited) when not.
func (m *Module) requireAdmin(w http.ResponseWriter, r *http.Request) (oauth2.Caller, bool) {
	c, ok := oauth2.CallerFrom(r.Context())
	if ok && c.Admin {
		return c, true
	}
	err := core.E(core.KindForbidden, "an admin access token is required")
	m.auditFailure(r, c.OrgID(), c.PrincipalID(), c.Token.ID, err)
	m.writeError(w, r, err, ctxOther)
	return c, false
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
	if _, ok := m.requireAdmin(w, r); !ok {
		return
	}
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
	if _, ok := m.requireAdmin(w, r); !ok {
		return
	}
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
	if _, ok := m.requireAdmin(w, r); !ok {
		return
	}
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
