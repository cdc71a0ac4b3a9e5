package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// RouteAdminPath is the admin API of stored routes (administrators only).
const RouteAdminPath = "/admin/gateway/routes"

// adminCheck is the core admin check (core.BearerAuth).
type adminCheck interface {
	Admin(ctx context.Context, req core.BearerRequest, action core.Action, subject string) (core.BearerCaller, error)
}

var _ adminCheck = (*core.BearerAuth)(nil)

// AdminModule serves the stored routes' admin API:
//
//	GET    /admin/gateway/routes          every route (configured and stored)
//	POST   /admin/gateway/routes          create a stored route (JSON Route)
//	GET    /admin/gateway/routes/{name}   one route
//	DELETE /admin/gateway/routes/{name}   delete a stored route
type AdminModule struct {
	admin  *RouteAdmin
	bearer adminCheck
	addr   httpapi.ClientAddr
	log    *slog.Logger
}

var _ httpapi.Module = (*AdminModule)(nil)

// NewAdminModule serves admin (Gateway.Admin) to administrators
// authenticated by bearer.
func NewAdminModule(admin *RouteAdmin, bearer adminCheck, addr httpapi.ClientAddr, log *slog.Logger) *AdminModule {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AdminModule{admin: admin, bearer: bearer, addr: addr, log: log}
}

// Register mounts the routes.
func (m *AdminModule) Register(mux *http.ServeMux) {
	mux.Handle("GET "+RouteAdminPath, m.handle(core.ActGatewayRoutesRead, m.list))
	mux.Handle("POST "+RouteAdminPath, m.handle(core.ActGatewayRoutesCreate, m.create))
	mux.Handle("GET "+RouteAdminPath+"/{name}", m.handle(core.ActGatewayRoutesRead, m.get))
	mux.Handle("DELETE "+RouteAdminPath+"/{name}", m.handle(core.ActGatewayRoutesDelete, m.delete))
}

type adminHandler func(w http.ResponseWriter, r *http.Request, who Actor) error

// handle authenticates an administrator for action (the check audits its
// refusals), then runs h; errors are answered once, in writeError.
func (m *AdminModule) handle(action core.Action, h adminHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := Actor{RemoteAddr: m.addr.IP(r), RequestID: httpapi.RequestID(r)}
		c, err := m.bearer.Admin(r.Context(), core.BearerRequest{Header: r.Header.Get("Authorization"), TLS: r.TLS, Protocol: "gateway",
			RemoteAddr: who.RemoteAddr, RequestID: who.RequestID}, action, r.Method+" "+r.URL.Path)
		switch {
		case errors.Is(err, core.ErrBearerMissing), errors.Is(err, core.ErrBearerMalformed):
			err = core.E(core.KindUnauthenticated, "an admin access token is required: Authorization: Bearer <access_token>")
		case core.KindOf(err) == core.KindExpired || core.KindOf(err) == core.KindRevoked:
			err = core.E(core.KindUnauthenticated, core.ReasonOf(err))
		}
		if err == nil {
			who.OrgID, who.PrincipalID = c.Token.OrgID, c.Token.PrincipalID
			err = h(w, r, who)
		}
		if err != nil {
			m.writeError(w, r, err)
		}
	})
}

// writeError maps a core error to the admin API's JSON error, once.
func (m *AdminModule) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteAdminError(w, r, m.log, "gateway route admin", err)
}

func (m *AdminModule) list(w http.ResponseWriter, r *http.Request, _ Actor) error {
	l, err := m.admin.List(r.Context())
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": l})
	return nil
}

func (m *AdminModule) get(w http.ResponseWriter, r *http.Request, _ Actor) error {
	ri, err := m.admin.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, ri)
	return nil
}

func (m *AdminModule) create(w http.ResponseWriter, r *http.Request, who Actor) error {
	var in Route
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields() // a misspelt key is an error, as in the configuration file
	if err := dec.Decode(&in); err != nil || dec.More() {
		reason := "the body must be one JSON route object of the documented fields"
		if err != nil {
			reason += ": " + err.Error()
		}
		return core.E(core.KindInvalidInput, reason)
	}
	out, err := m.admin.Create(r.Context(), who, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", RouteAdminPath+"/"+out.Name)
	httpapi.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (m *AdminModule) delete(w http.ResponseWriter, r *http.Request, who Actor) error {
	if err := m.admin.Delete(r.Context(), who, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
