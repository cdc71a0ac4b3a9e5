package adminapi

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/core"
)

// Paths of the core's objects.
const (
	RouteOrganisations = "/admin/organisations"
	RoutePrincipals    = "/admin/principals"
	RouteCredentials   = "/admin/credentials"
)

// objects are the core's lifecycle operations (core.Services), which the
// CLI calls too.
type objects interface {
	ListOrganisations(ctx context.Context, g core.Gate, p core.Page) ([]core.OrganisationView, int, error)
	GetOrganisation(ctx context.Context, g core.Gate, id string) (core.OrganisationView, error)
	CreateOrganisationAs(ctx context.Context, g core.Gate, in core.NewOrganisation) (core.OrganisationView, error)
	ListPrincipals(ctx context.Context, g core.Gate, orgID string, kind core.PrincipalKind, p core.Page) ([]core.PrincipalView, int, error)
	GetPrincipal(ctx context.Context, g core.Gate, id string) (core.PrincipalView, error)
	CreatePrincipalAs(ctx context.Context, g core.Gate, in core.NewPrincipal) (core.PrincipalView, error)
	DisablePrincipal(ctx context.Context, g core.Gate, id string) (core.PrincipalDisabled, error)
	ListCredentials(ctx context.Context, g core.Gate, f core.CredentialFilter, p core.Page) ([]core.CredentialView, int, error)
	GetCredential(ctx context.Context, g core.Gate, id string) (core.CredentialView, error)
	CreateCredentialAs(ctx context.Context, g core.Gate, in core.NewCredential) (core.CreatedCredential, error)
	RevokeCredentialAs(ctx context.Context, g core.Gate, id string) (core.CredentialRevoked, error)
}

var _ objects = core.Services{}

// Objects is the group of the core's objects: organisations, principals
// and credentials (kind=access_key: the OAuth2 access keys).
type Objects struct{ Ops objects }

var _ Group = Objects{}

// AdminRoutes are the core objects' routes.
func (o Objects) AdminRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: RouteOrganisations, Tag: "Organisations", Summary: "List the organisations (an owner's or a user's: its own)",
			Action: core.ActOrganisationsRead, Query: PageParams, Result: List[core.OrganisationView]{},
			Handle: func(ctx context.Context, req *Request) (any, error) {
				_, p, err := req.PageQuery()
				if err != nil {
					return nil, err
				}
				l, total, err := o.Ops.ListOrganisations(ctx, req, p)
				return Paged(l, total, p), err
			}},
		{Method: http.MethodGet, Path: RouteOrganisations + "/{id}", Tag: "Organisations", Summary: "Get an organisation",
			Action: core.ActOrganisationsRead, Result: core.OrganisationView{},
			Handle: func(ctx context.Context, req *Request) (any, error) {
				return o.Ops.GetOrganisation(ctx, req, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodPost, Path: RouteOrganisations, Tag: "Organisations", Summary: "Create an organisation",
			Action: core.ActOrganisationsCreate, Body: core.NewOrganisation{}, Result: core.OrganisationView{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *Request) (any, error) {
				return o.Ops.CreateOrganisationAs(ctx, req, *req.Body.(*core.NewOrganisation))
			}},

		{Method: http.MethodGet, Path: RoutePrincipals, Tag: "Principals", Summary: "List the principals of an organisation",
			Action: core.ActPrincipalsRead, Result: List[core.PrincipalView]{},
			Query: append([]Param{
				{"org", "the organisation (an admin must name it; an owner's or a user's is its own)", "string"},
				{"kind", "one kind: admin, owner, user, device, application or partner", "string"},
			}, PageParams...),
			Handle: func(ctx context.Context, req *Request) (any, error) {
				q, p, err := req.PageQuery("org", "kind")
				if err != nil {
					return nil, err
				}
				l, total, err := o.Ops.ListPrincipals(ctx, req, q.Get("org"), core.PrincipalKind(q.Get("kind")), p)
				return Paged(l, total, p), err
			}},
		{Method: http.MethodGet, Path: RoutePrincipals + "/{id}", Tag: "Principals", Summary: "Get a principal",
			Action: core.ActPrincipalsRead, Result: core.PrincipalView{},
			Handle: func(ctx context.Context, req *Request) (any, error) {
				return o.Ops.GetPrincipal(ctx, req, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodPost, Path: RoutePrincipals, Tag: "Principals", Summary: "Create a principal in an organisation",
			Action: core.ActPrincipalsCreate, Body: core.NewPrincipal{}, Result: core.PrincipalView{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *Request) (any, error) {
				return o.Ops.CreatePrincipalAs(ctx, req, *req.Body.(*core.NewPrincipal))
			}},
		{Method: http.MethodPost, Path: RoutePrincipals + "/{id}/disable", Tag: "Principals", Summary: "Disable a principal and revoke every token issued to it",
			Action: core.ActPrincipalsDisable, Result: core.PrincipalDisabled{},
			Handle: func(ctx context.Context, req *Request) (any, error) {
				return o.Ops.DisablePrincipal(ctx, req, req.HTTP.PathValue("id"))
			}},

		{Method: http.MethodGet, Path: RouteCredentials, Tag: "Credentials", Summary: "List credentials (never their secrets); kind=access_key lists the OAuth2 access keys",
			Action: core.ActCredentialsRead, Result: List[core.CredentialView]{},
			Query: append([]Param{
				{"org", "one organisation's (an owner's or a user's is its own)", "string"},
				{"principal", "one principal's", "string"},
				{"kind", "one kind: access_key, client_secret, app_token, signing_key, password, public_key, certificate, api_key, psk", "string"},
				{"include_revoked", "list revoked credentials too", "boolean"},
			}, PageParams...),
			Handle: func(ctx context.Context, req *Request) (any, error) {
				q, p, err := req.PageQuery("org", "principal", "kind", "include_revoked")
				if err != nil {
					return nil, err
				}
				f := core.CredentialFilter{OrgID: q.Get("org"), PrincipalID: q.Get("principal"), Kind: core.CredentialKind(q.Get("kind"))}
				switch q.Get("include_revoked") {
				case "", "false":
				case "true":
					f.IncludeRevoked = true
				default:
					return nil, core.E(core.KindInvalidInput, "include_revoked must be true or false")
				}
				l, total, err := o.Ops.ListCredentials(ctx, req, f, p)
				return Paged(l, total, p), err
			}},
		{Method: http.MethodGet, Path: RouteCredentials + "/{id}", Tag: "Credentials", Summary: "Get a credential (never its secret)",
			Action: core.ActCredentialsRead, Result: core.CredentialView{},
			Handle: func(ctx context.Context, req *Request) (any, error) {
				return o.Ops.GetCredential(ctx, req, req.HTTP.PathValue("id"))
			}},
		{Method: http.MethodPost, Path: RouteCredentials, Tag: "Credentials", Summary: "Create a credential; a generated secret is in this answer only",
			Action: core.ActCredentialsCreate, Body: core.NewCredential{}, Result: core.CreatedCredential{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *Request) (any, error) {
				in := *req.Body.(*core.NewCredential)
				in.Secret = "" // generated, never chosen over HTTP
				return o.Ops.CreateCredentialAs(ctx, req, in)
			}},
		{Method: http.MethodPost, Path: RouteCredentials + "/{id}/revoke", Tag: "Credentials", Summary: "Revoke a credential and every token issued to its principal",
			Action: core.ActCredentialsRevoke, Result: core.CredentialRevoked{},
			Handle: func(ctx context.Context, req *Request) (any, error) {
				return o.Ops.RevokeCredentialAs(ctx, req, req.HTTP.PathValue("id"))
			}},
	}
}
