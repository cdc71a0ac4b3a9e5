package subscription

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// RouteAdmin is the base path of the subscriptions' admin routes.
const RouteAdmin = "/admin/subscriptions"

// SubscribeRequest is the body of POST /admin/subscriptions: an
// organisation (principal_id "") or one of its principals, a resource and
// a plan ("" for unlimited).
type SubscribeRequest struct {
	OrgID       string `json:"org_id"`
	PrincipalID string `json:"principal_id,omitempty"`
	Resource    string `json:"resource"`
	Plan        string `json:"plan,omitempty"`
}

// OpenAPIType: a duration is written as a Go duration string.
func (Duration) OpenAPIType() (string, string) {
	return "string", `a Go duration ("1m", "24h"); a number is seconds`
}

var (
	_ adminapi.Group     = (*Service)(nil)
	_ adminapi.Described = Duration(0)
)

// AdminRoutes are the admin API of resources, plans and subscriptions
// (administrators only: subscriptions.admin reaches every organisation).
func (s *Service) AdminRoutes() []adminapi.Route {
	const tag, act = "Subscriptions", core.ActSubscriptionsAdmin
	return []adminapi.Route{
		{Method: http.MethodGet, Path: RouteAdmin + "/resources", Tag: tag, Action: act, Summary: "List the API resources",
			Result: adminapi.List[Resource]{}, Handle: func(ctx context.Context, _ *adminapi.Request) (any, error) {
				l, err := s.ListResources(ctx)
				return adminapi.NewList(l), err
			}},
		{Method: http.MethodPost, Path: RouteAdmin + "/resources", Tag: tag, Action: act, Summary: "Create an API resource",
			Body: Resource{}, Result: Resource{}, Status: http.StatusCreated, Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return s.CreateResource(ctx, actorOf(req), *req.Body.(*Resource))
			}},
		{Method: http.MethodDelete, Path: RouteAdmin + "/resources/{name}", Tag: tag, Action: act, Summary: "Delete an API resource",
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return nil, s.DeleteResource(ctx, actorOf(req), req.HTTP.PathValue("name"))
			}},
		{Method: http.MethodGet, Path: RouteAdmin + "/plans", Tag: tag, Action: act, Summary: "List the plans",
			Result: adminapi.List[Plan]{}, Handle: func(ctx context.Context, _ *adminapi.Request) (any, error) {
				l, err := s.ListPlans(ctx)
				return adminapi.NewList(l), err
			}},
		{Method: http.MethodPost, Path: RouteAdmin + "/plans", Tag: tag, Action: act, Summary: "Create a plan",
			Body: Plan{}, Result: Plan{}, Status: http.StatusCreated, Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return s.CreatePlan(ctx, actorOf(req), *req.Body.(*Plan))
			}},
		{Method: http.MethodDelete, Path: RouteAdmin + "/plans/{name}", Tag: tag, Action: act, Summary: "Delete a plan",
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return nil, s.DeletePlan(ctx, actorOf(req), req.HTTP.PathValue("name"))
			}},
		{Method: http.MethodGet, Path: RouteAdmin, Tag: tag, Action: act, Summary: "List the subscriptions",
			Query:  []adminapi.Param{{Name: "org", Description: "one organisation's subscriptions", Type: "string"}},
			Result: adminapi.List[SubscriptionUsage]{}, Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				l, err := s.ListSubscriptionUsage(ctx, req.HTTP.URL.Query().Get("org"))
				return adminapi.NewList(l), err
			}},
		{Method: http.MethodGet, Path: RouteAdmin + "/{id}/usage", Tag: tag, Action: act, Summary: "Show a subscription's use of its rate and quota now",
			Result: Usage{}, Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return s.Usage(ctx, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodPost, Path: RouteAdmin, Tag: tag, Action: act, Summary: "Subscribe an organisation or a principal to a resource",
			Body: SubscribeRequest{}, Result: Subscription{}, Status: http.StatusCreated, Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				in := req.Body.(*SubscribeRequest)
				return s.Subscribe(ctx, actorOf(req), Subscription{OrgID: in.OrgID, PrincipalID: in.PrincipalID, Resource: in.Resource, Plan: in.Plan})
			}},
		{Method: http.MethodDelete, Path: RouteAdmin + "/{id}", Tag: tag, Action: act, Summary: "End a subscription",
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return nil, s.Unsubscribe(ctx, actorOf(req), req.HTTP.PathValue("id"))
			}},
	}
}

// actorOf is who changes definitions, for the audit log.
func actorOf(req *adminapi.Request) Actor {
	a := req.Actor()
	return Actor{OrgID: a.OrgID, PrincipalID: a.PrincipalID, RemoteAddr: req.RemoteAddr(), RequestID: req.RequestID()}
}
