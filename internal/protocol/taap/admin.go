package taap

import (
	"context"
	"errors"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// The TAAP admin API of /taap/v1 registers clients, their keys and SIM
// records. Each route runs the core admin check (core.BearerAuth.Admin: an
// administrator's OAuth2 access token, the action granted across every
// organisation), then the same operation as /admin/taap (Admin);
// refusals are answered in this adapter's shape.

// adminCheck is the core admin check (*core.BearerAuth).
type adminCheck interface {
	Admin(ctx context.Context, req core.BearerRequest, action core.Action, subject string) (core.BearerCaller, error)
}

var _ adminCheck = (*core.BearerAuth)(nil)

// callerAsker is the caller of a /taap/v1 admin route as a core.Gate.
type callerAsker struct {
	actor core.Actor
	authz *core.Authorizer
	addr  string
	reqID string
}

func (c callerAsker) Actor() core.Actor { return c.actor }

func (c callerAsker) Authorize(ctx context.Context, action core.Action, target core.Target, subject string) error {
	return c.authz.Authorize(ctx, core.Authorization{Actor: c.actor, Action: action, Target: target, Subject: subject,
		Protocol: protocol, RemoteAddr: c.addr, RequestID: c.reqID})
}

// adminHandler is a /taap/v1 admin route once the caller is admitted.
type adminHandler func(w http.ResponseWriter, r *http.Request, who core.Gate)

// admin runs h for callers the core admin check admits for action.
func (m *Module) admin(action core.Action, h adminHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := m.d.Admin.Admin(r.Context(), core.BearerRequest{Header: r.Header.Get("Authorization"), TLS: r.TLS, Protocol: protocol,
			RemoteAddr: m.d.ClientAddr.IP(r), RequestID: httpapi.RequestID(r)}, action, r.Method+" "+r.URL.Path)
		if err != nil {
			if errors.Is(err, core.ErrBearerMissing) || errors.Is(err, core.ErrBearerMalformed) {
				err = &oauthError{status: http.StatusUnauthorized, code: "invalid_request", desc: "an admin access token is required: Authorization: Bearer <access_token>"}
			}
			m.writeError(w, r, err, ctxBearer)
			return
		}
		h(w, r, callerAsker{actor: caller.Actor(), authz: m.d.Services.Authz, addr: m.d.ClientAddr.IP(r), reqID: httpapi.RequestID(r)})
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
func (m *Module) createClient(w http.ResponseWriter, r *http.Request, who core.Gate) {
	var req createClientRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	spec := ClientSpec{OrgID: req.OrgID, Name: req.Name, Scope: req.Scope}
	for _, k := range req.PublicKeys {
		spec.PublicKeys = append(spec.PublicKeys, []byte(k))
	}
	info, err := m.ops.CreateClient(r.Context(), who, spec)
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, info)
}

// addKey is POST /taap/v1/clients/{client_id}/keys {"public_key": ...}.
func (m *Module) addKey(w http.ResponseWriter, r *http.Request, who core.Gate) {
	var req struct {
		PublicKey string `json:"public_key"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	k, err := m.ops.AddKey(r.Context(), who, r.PathValue("client_id"), []byte(req.PublicKey))
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"key_thumbprint": k.KID})
}

// createSIM is POST /taap/v1/sims {"org_id", "iccid", "imsi", "msisdn", "status", "label"}.
func (m *Module) createSIM(w http.ResponseWriter, r *http.Request, who core.Gate) {
	var req struct {
		OrgID string `json:"org_id"`
		SIM
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	rec, err := m.ops.AddSIM(r.Context(), who, req.OrgID, req.SIM)
	if err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	// The wire format of /taap/v1/sims: the SIM as the connectivity resource serves it.
	httpapi.WriteJSON(w, http.StatusCreated, SIM{ICCID: rec.ICCID, IMSI: rec.IMSI, MSISDN: rec.MSISDN, Status: rec.Status, Label: rec.Label, CreatedAt: rec.CreatedAt})
}
