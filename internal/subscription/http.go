package subscription

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// AdminAuth authenticates the admin API with the core admin check: an
// administrator's bearer access token (core.BearerAuth.Admin).
type AdminAuth struct {
	Bearer adminCheck // *core.BearerAuth
	Addr   httpapi.ClientAddr
}

// adminCheck is the core admin check (core.BearerAuth).
type adminCheck interface {
	Admin(ctx context.Context, req core.BearerRequest, action core.Action, subject string) (core.BearerCaller, error)
}

var _ adminCheck = (*core.BearerAuth)(nil)

// authenticate returns the admin caller, or a core error (Unauthenticated
// for a missing or bad token, Forbidden for a non-admin); the check audits
// its refusals.
func (a AdminAuth) authenticate(r *http.Request) (Actor, error) {
	who := Actor{RemoteAddr: a.Addr.IP(r), RequestID: httpapi.RequestID(r)}
	c, err := a.Bearer.Admin(r.Context(), core.BearerRequest{Header: r.Header.Get("Authorization"), TLS: r.TLS, Protocol: "subscription",
		RemoteAddr: who.RemoteAddr, RequestID: who.RequestID}, core.ActSubscriptionsAdmin, r.Method+" "+r.URL.Path)
	switch {
	case errors.Is(err, core.ErrBearerMissing), errors.Is(err, core.ErrBearerMalformed):
		return Actor{}, core.E(core.KindUnauthenticated, "an admin access token is required: Authorization: Bearer <access_token>")
	case core.KindOf(err) == core.KindExpired || core.KindOf(err) == core.KindRevoked:
		return Actor{}, core.E(core.KindUnauthenticated, core.ReasonOf(err)) // this API's one 401 kind
	case err != nil:
		return Actor{}, err
	}
	who.OrgID, who.PrincipalID = c.Token.OrgID, c.Token.PrincipalID
	return who, nil
}

// Module is the admin HTTP API under /admin/subscriptions.
type Module struct {
	svc  *Service
	auth AdminAuth
	log  *slog.Logger
}

var _ httpapi.Module = (*Module)(nil)

// NewModule builds the admin API.
func NewModule(svc *Service, auth AdminAuth, log *slog.Logger) *Module {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Module{svc: svc, auth: auth, log: log}
}

// Register mounts the routes.
func (m *Module) Register(mux *http.ServeMux) {
	const base = "/admin/subscriptions"
	mux.Handle("GET "+base+"/resources", m.admin(m.listResources))
	mux.Handle("POST "+base+"/resources", m.admin(m.createResource))
	mux.Handle("DELETE "+base+"/resources/{name}", m.admin(m.deleteResource))
	mux.Handle("GET "+base+"/plans", m.admin(m.listPlans))
	mux.Handle("POST "+base+"/plans", m.admin(m.createPlan))
	mux.Handle("DELETE "+base+"/plans/{name}", m.admin(m.deletePlan))
	mux.Handle("GET "+base, m.admin(m.listSubscriptions))
	mux.Handle("POST "+base, m.admin(m.subscribe))
	mux.Handle("DELETE "+base+"/{id}", m.admin(m.unsubscribe))
}

// writeError maps a core error to the admin API's JSON error, once.
func (m *Module) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteAdminError(w, r, m.log, "subscription admin", err)
}

type handler func(w http.ResponseWriter, r *http.Request, who Actor) error

func (m *Module) admin(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, err := m.auth.authenticate(r)
		if err == nil {
			err = h(w, r, who)
		}
		if err != nil {
			m.writeError(w, r, err)
		}
	})
}

func (m *Module) listResources(w http.ResponseWriter, r *http.Request, _ Actor) error {
	l, err := m.svc.ListResources(r.Context())
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": l})
	return nil
}

func decode(r *http.Request, v any) error {
	if err := httpapi.DecodeJSON(r, v); err != nil {
		return core.Wrap(core.KindInvalidInput, "request body must be a JSON object of the documented fields", err)
	}
	return nil
}

func (m *Module) createResource(w http.ResponseWriter, r *http.Request, who Actor) error {
	var in Resource
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := m.svc.CreateResource(r.Context(), who, in)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (m *Module) deleteResource(w http.ResponseWriter, r *http.Request, who Actor) error {
	if err := m.svc.DeleteResource(r.Context(), who, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (m *Module) listPlans(w http.ResponseWriter, r *http.Request, _ Actor) error {
	l, err := m.svc.ListPlans(r.Context())
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": l})
	return nil
}

func (m *Module) createPlan(w http.ResponseWriter, r *http.Request, who Actor) error {
	var in Plan
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := m.svc.CreatePlan(r.Context(), who, in)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (m *Module) deletePlan(w http.ResponseWriter, r *http.Request, who Actor) error {
	if err := m.svc.DeletePlan(r.Context(), who, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (m *Module) listSubscriptions(w http.ResponseWriter, r *http.Request, _ Actor) error {
	l, err := m.svc.ListSubscriptions(r.Context(), r.URL.Query().Get("org"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": l})
	return nil
}

func (m *Module) subscribe(w http.ResponseWriter, r *http.Request, who Actor) error {
	var in Subscription
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := m.svc.Subscribe(r.Context(), who, Subscription{OrgID: in.OrgID, PrincipalID: in.PrincipalID, Resource: in.Resource, Plan: in.Plan})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (m *Module) unsubscribe(w http.ResponseWriter, r *http.Request, who Actor) error {
	if err := m.svc.Unsubscribe(r.Context(), who, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
