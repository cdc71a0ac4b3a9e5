package m2m

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// Paths of the M2M admin routes.
const (
	RoutePartners = "/admin/m2m/partners"
	RoutePartner  = RoutePartners + "/{id}"
	RouteAPIKeys  = "/admin/m2m/apikeys"
	RouteAPIKey   = RouteAPIKeys + "/{id}"
	RouteSIMs     = "/admin/m2m/sims"
	RouteSIM      = RouteSIMs + "/{id}"
	RouteOutbox   = "/admin/m2m/outbox"
	RouteRequeue  = RouteOutbox + "/{id}/requeue"
)

const adminTag = "M2M"

var _ adminapi.Group = (*Admin)(nil)

// AdminRoutes are the admin API's routes of the M2M objects: each calls
// the operation the CLI calls, with the request as the gate.
func (a *Admin) AdminRoutes() []adminapi.Route {
	org := adminapi.Param{Name: "org", Description: "only this organisation's (a non-admin's are its own)", Type: "string"}
	partner := adminapi.Param{Name: "partner", Description: "only this partner's", Type: "string"}
	env := adminapi.Param{Name: "env", Description: "environment: TA (default) or PE", Type: "string"}
	paged := func(ps ...adminapi.Param) []adminapi.Param { return append(ps, adminapi.PageParams...) }
	return []adminapi.Route{
		{Method: http.MethodGet, Path: RoutePartners, Tag: adminTag, Summary: "List the partners (configured or provisioned)",
			Action: core.ActM2MPartnersRead, Result: adminapi.List[PartnerView]{}, Query: paged(org),
			Handle: listRoute(a.ListPartners, "org")},
		{Method: http.MethodGet, Path: RoutePartner, Tag: adminTag, Summary: "Show a partner by name",
			Action: core.ActM2MPartnersRead, Result: PartnerView{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.GetPartner(ctx, req, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodGet, Path: RouteAPIKeys, Tag: adminTag, Summary: "List M2MApiKeys (never their secrets)",
			Action: core.ActM2MAPIKeysRead, Result: adminapi.List[APIKeyView]{},
			Query:  paged(org, partner, adminapi.Param{Name: "include_revoked", Description: "list revoked keys too (true or false)", Type: "boolean"}),
			Handle: listRoute(a.ListAPIKeys, "org", "partner", "include_revoked")},
		{Method: http.MethodPost, Path: RouteAPIKeys, Tag: adminTag, Summary: "Create a partner's M2MApiKey for one environment (shown once)",
			Action: core.ActM2MAPIKeysCreate, Body: CreateAPIKeyRequest{}, Result: APIKey{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.CreateAPIKey(ctx, req, *req.Body.(*CreateAPIKeyRequest))
			}},
		{Method: http.MethodGet, Path: RouteAPIKey, Tag: adminTag, Summary: "Show an M2MApiKey (never its secret)",
			Action: core.ActM2MAPIKeysRead, Result: APIKeyView{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.GetAPIKey(ctx, req, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodPost, Path: RouteAPIKey + "/revoke", Tag: adminTag, Summary: "Revoke an M2MApiKey: requests carrying it are refused",
			Action: core.ActM2MAPIKeysRevoke, Result: APIKeyView{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.RevokeAPIKey(ctx, req, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodGet, Path: RouteSIMs, Tag: adminTag, Summary: "List SIMs, newest first",
			Action: core.ActM2MSIMsRead, Result: adminapi.List[SIMView]{}, Query: paged(org, partner),
			Handle: listRoute(a.ListSIMs, "org", "partner")},
		{Method: http.MethodPost, Path: RouteSIMs, Tag: adminTag, Summary: "Provision a shipped SIM for a partner",
			Action: core.ActM2MSIMsCreate, Body: AddSIMRequest{}, Result: SIMView{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.AddSIM(ctx, req, *req.Body.(*AddSIMRequest))
			}},
		{Method: http.MethodGet, Path: RouteSIM, Tag: adminTag, Summary: "Show a SIM by ICCID", Action: core.ActM2MSIMsRead, Result: SIMView{},
			Query: []adminapi.Param{env},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				q, err := req.Query("env")
				if err != nil {
					return nil, err
				}
				return a.GetSIM(ctx, req, q.Get("env"), req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodDelete, Path: RouteSIM, Tag: adminTag, Summary: "Remove a SIM from one environment", Action: core.ActM2MSIMsDelete, Result: SIMView{},
			Query: []adminapi.Param{env},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				q, err := req.Query("env")
				if err != nil {
					return nil, err
				}
				return a.DeleteSIM(ctx, req, q.Get("env"), req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodGet, Path: RouteOutbox, Tag: adminTag,
			Summary: "List the callback outbox's jobs, newest first: state, attempts, last error, next attempt",
			Action:  core.ActM2MOutboxRead, Result: adminapi.List[JobView]{},
			Query: paged(org, adminapi.Param{Name: "env", Description: "only this environment: TA or PE (default both)", Type: "string"},
				adminapi.Param{Name: "state", Description: "only jobs in this state: pending, failed or done", Type: "string"}),
			Handle: listRoute(a.ListOutbox, "org", "env", "state")},
		{Method: http.MethodPost, Path: RouteRequeue, Tag: adminTag, Summary: "Run a failed outbox job once more, now (409 unless it failed)",
			Action: core.ActM2MOutboxRequeue, Result: JobView{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.RequeueJob(ctx, req, req.HTTP.PathValue("id"))
			}},
	}
}

// listRoute is the handler of a listing: it reads the parameters it
// allows and the page, and answers the page with its next cursor.
func listRoute[T any](fn func(ctx context.Context, g core.Gate, r ListRequest) (List[T], error), params ...string) func(context.Context, *adminapi.Request) (any, error) {
	return func(ctx context.Context, req *adminapi.Request) (any, error) {
		q, err := req.Query(params...)
		if err != nil {
			return nil, err
		}
		r := ListRequest{OrgID: q.Get("org"), Partner: q.Get("partner"), Env: q.Get("env"), State: q.Get("state")}
		if r.Page, err = adminapi.PageOf(q); err != nil {
			return nil, err
		}
		if r.IncludeRevoked, err = adminapi.BoolOf(q, "include_revoked"); err != nil {
			return nil, err
		}
		l, err := fn(ctx, req, r)
		if err != nil {
			return nil, err
		}
		return adminapi.Paged(l.Items, l.Total, r.Page), nil
	}
}
