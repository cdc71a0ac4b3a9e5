package gateway

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// RouteAdminPath is the admin API of stored routes (administrators only).
const RouteAdminPath = "/admin/gateway/routes"

var _ adminapi.Group = (*RouteAdmin)(nil)

// AdminRoutes are the stored routes' admin API (Gateway.Admin), for
// administrators:
//
//	GET    /admin/gateway/routes          every route (configured and stored)
//	POST   /admin/gateway/routes          create a stored route (JSON Route)
//	GET    /admin/gateway/routes/{name}   one route
//	DELETE /admin/gateway/routes/{name}   delete a stored route
func (a *RouteAdmin) AdminRoutes() []adminapi.Route {
	const tag = "Gateway"
	return []adminapi.Route{
		{Method: http.MethodGet, Path: RouteAdminPath, Tag: tag, Action: core.ActGatewayRoutesRead, Summary: "List the gateway routes (configured and stored)",
			Result: adminapi.List[RouteInfo]{}, Handle: func(ctx context.Context, _ *adminapi.Request) (any, error) {
				l, err := a.List(ctx)
				return adminapi.NewList(l), err
			}},
		{Method: http.MethodPost, Path: RouteAdminPath, Tag: tag, Action: core.ActGatewayRoutesCreate, Summary: "Create a stored gateway route",
			Body: Route{}, Result: RouteInfo{}, Status: http.StatusCreated, Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				out, err := a.Create(ctx, actorOf(req), *req.Body.(*Route))
				if err != nil {
					return nil, err
				}
				req.W.Header().Set("Location", RouteAdminPath+"/"+out.Name)
				return out, nil
			}},
		{Method: http.MethodGet, Path: RouteAdminPath + "/{name}", Tag: tag, Action: core.ActGatewayRoutesRead, Summary: "Get one gateway route",
			Result: RouteInfo{}, Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.Get(ctx, req.HTTP.PathValue("name"))
			}},
		{Method: http.MethodDelete, Path: RouteAdminPath + "/{name}", Tag: tag, Action: core.ActGatewayRoutesDelete, Summary: "Delete a stored gateway route",
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return nil, a.Delete(ctx, actorOf(req), req.HTTP.PathValue("name"))
			}},
	}
}

// actorOf is who manages stored routes, for the audit log.
func actorOf(req *adminapi.Request) Actor {
	a := req.Actor()
	return Actor{OrgID: a.OrgID, PrincipalID: a.PrincipalID, RemoteAddr: req.RemoteAddr(), RequestID: req.RequestID()}
}
