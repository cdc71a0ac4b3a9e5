package taap

import (
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
)

// The admin API registers clients, their keys and SIM records. It is
// protected by the oauth2 module's bearer authenticator; the privilege
// table grants its actions to admins.

// requireAction reports whether the authenticated caller may perform
// action, answering 403 in this adapter's shape (audited by the check)
// when not.
func (m *Module) requireAction(w http.ResponseWriter, r *http.Request, action core.Action) (oauth2.Caller, bool) {
	c, _ := oauth2.CallerFrom(r.Context())
	err := m.d.Services.Authz.Authorize(r.Context(), core.Authorization{Actor: c.Actor(), Action: action, Subject: r.Method + " " + r.URL.Path,
		Protocol: protocol, RemoteAddr: m.d.ClientAddr.IP(r), RequestID: httpapi.RequestID(r)})
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return c, false
	}
	return c, true
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
	if _, ok := m.requireAction(w, r, core.ActClientsCreate); !ok {
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
	if _, ok := m.requireAction(w, r, core.ActClientKeysCreate); !ok {
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
	if _, ok := m.requireAction(w, r, core.ActSIMsCreate); !ok {
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
