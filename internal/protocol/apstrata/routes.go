package apstrata

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// Paths of the accounts' admin routes.
const (
	RouteAccounts = "/admin/apstrata/accounts"
	RouteAccount  = RouteAccounts + "/{id}"
	RouteMembers  = RouteAccount + "/members"
	RouteMember   = RouteMembers + "/{name}"
)

const adminTag = "Apstrata"

var _ adminapi.Group = (*Accounts)(nil)

// AdminRoutes are the admin API's routes of accounts and members: each
// calls the operation the CLI calls, with the request as the gate.
func (a *Accounts) AdminRoutes() []adminapi.Route {
	deleted := adminapi.Param{Name: "include_deleted", Description: "list deleted ones too (true or false)", Type: "boolean"}
	return []adminapi.Route{
		{Method: http.MethodGet, Path: RouteAccounts, Tag: adminTag, Summary: "List accounts (an owner's or user's: its own)",
			Action: core.ActApstrataAccountsRead, Result: adminapi.List[AccountView]{},
			Query: append([]adminapi.Param{{Name: "org", Description: "only this organisation's account", Type: "string"}, deleted}, adminapi.PageParams...),
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				q, err := req.Query("org", "include_deleted")
				if err != nil {
					return nil, err
				}
				r := ListAccountsRequest{OrgID: q.Get("org")}
				if r.Page, err = adminapi.PageOf(q); err != nil {
					return nil, err
				}
				if r.IncludeDeleted, err = adminapi.BoolOf(q, "include_deleted"); err != nil {
					return nil, err
				}
				l, err := a.ListAccounts(ctx, req, r)
				return adminapi.Paged(l.Items, l.Total, r.Page), err
			}},
		{Method: http.MethodPost, Path: RouteAccounts, Tag: adminTag, Summary: "Create an account: the owner's authKey and secret (shown once)",
			Action: core.ActApstrataAccountsCreate, Body: CreateAccountRequest{}, Result: Account{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.CreateAccount(ctx, req, *req.Body.(*CreateAccountRequest))
			}},
		{Method: http.MethodGet, Path: RouteAccount, Tag: adminTag, Summary: "Show an account by its authKey (never its secret)",
			Action: core.ActApstrataAccountsRead, Result: AccountView{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.GetAccount(ctx, req, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodDelete, Path: RouteAccount, Tag: adminTag,
			Summary: "Delete an account: its authKey, secret and members' passwords stop working, their tokens are revoked",
			Action:  core.ActApstrataAccountsDelete, Result: Deleted{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.DeleteAccount(ctx, req, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodGet, Path: RouteMembers, Tag: adminTag, Summary: "List the users and devices of an account",
			Action: core.ActApstrataMembersRead, Result: adminapi.List[MemberView]{}, Query: append([]adminapi.Param{deleted}, adminapi.PageParams...),
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				q, err := req.Query("include_deleted")
				if err != nil {
					return nil, err
				}
				var r ListMembersRequest
				if r.Page, err = adminapi.PageOf(q); err != nil {
					return nil, err
				}
				if r.IncludeDeleted, err = adminapi.BoolOf(q, "include_deleted"); err != nil {
					return nil, err
				}
				l, err := a.ListMembers(ctx, req, req.HTTP.PathValue("id"), r)
				return adminapi.Paged(l.Items, l.Total, r.Page), err
			}},
		{Method: http.MethodPost, Path: RouteMembers, Tag: adminTag, Summary: "Create a user or device of an account (a generated password is shown once)",
			Action: core.ActApstrataMembersCreate, Body: CreateMemberRequest{}, Result: Member{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.CreateMember(ctx, req, req.HTTP.PathValue("id"), *req.Body.(*CreateMemberRequest))
			}},
		{Method: http.MethodGet, Path: RouteMember, Tag: adminTag, Summary: "Show a user or device of an account (never its password)",
			Action: core.ActApstrataMembersRead, Result: MemberView{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.GetMember(ctx, req, req.HTTP.PathValue("id"), req.HTTP.PathValue("name"))
			}},
		{Method: http.MethodDelete, Path: RouteMember, Tag: adminTag, Summary: "Delete a user or device: its password stops working, its tokens are revoked",
			Action: core.ActApstrataMembersDelete, Result: Deleted{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.DeleteMember(ctx, req, req.HTTP.PathValue("id"), req.HTTP.PathValue("name"))
			}},
	}
}
