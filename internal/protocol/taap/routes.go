package taap

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// Paths of the TAAP routes of the admin API (the /taap/v1 admin routes
// stay as they were).
const (
	RouteAdminClients = "/admin/taap/clients"
	RouteAdminClient  = RouteAdminClients + "/{id}"
	RouteAdminKeys    = RouteAdminClient + "/keys"
	RouteAdminKey     = RouteAdminKeys + "/{kid}"
	RouteAdminSIMs    = "/admin/taap/sims"
	RouteAdminSIM     = RouteAdminSIMs + "/{iccid}"
)

const adminTag = "TAAP"

var _ adminapi.Group = (*Admin)(nil)

// CreateClientRequest is the body of POST /admin/taap/clients.
type CreateClientRequest struct {
	OrgID      string   `json:"org_id"` // "": a new organisation named after the client
	Name       string   `json:"name"`
	PublicKeys []string `json:"public_keys"` // PEM (SPKI or PKCS#1) or JWK, at least one
	Scope      string   `json:"scope"`
}

// CreatedClient is the answer of POST /admin/taap/clients: the client,
// its secret (shown this once) and the ids of its keys.
type CreatedClient struct {
	Client
	Secret string   `json:"secret"`
	KIDs   []string `json:"kids"`
}

// AddKeyRequest is the body of POST /admin/taap/clients/{id}/keys.
type AddKeyRequest struct {
	PublicKey string `json:"public_key"`
}

// CreateSIMRequest is the body of POST /admin/taap/sims.
type CreateSIMRequest struct {
	OrgID  string `json:"org_id"`
	ICCID  string `json:"iccid"`
	IMSI   string `json:"imsi"`
	MSISDN string `json:"msisdn"`
	Status string `json:"status"` // active (default), inactive, suspended or deactivated
	Label  string `json:"label"`
}

// AdminRoutes are the admin API's routes of the TAAP objects: each calls
// the operation the CLI calls, with the request as the gate.
func (a *Admin) AdminRoutes() []adminapi.Route {
	org := adminapi.Param{Name: "org", Description: "only this organisation's (a non-admin's are its own)", Type: "string"}
	revoked := adminapi.Param{Name: "include_revoked", Description: "list revoked keys too (true or false)", Type: "boolean"}
	paged := func(ps ...adminapi.Param) []adminapi.Param { return append(ps, adminapi.PageParams...) }
	id := func(req *adminapi.Request) string { return req.HTTP.PathValue("id") }
	return []adminapi.Route{
		{Method: http.MethodGet, Path: RouteAdminClients, Tag: adminTag, Summary: "List the TAAP clients (never their secrets)",
			Action: core.ActClientsRead, Result: adminapi.List[Client]{}, Query: paged(org),
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				q, p, err := req.PageQuery("org")
				if err != nil {
					return nil, err
				}
				items, total, err := a.ListClients(ctx, req, q.Get("org"), p)
				return adminapi.PagedResult(items, total, p, err)
			}},
		{Method: http.MethodPost, Path: RouteAdminClients, Tag: adminTag, Summary: "Register a TAAP client: its secret is shown once",
			Action: core.ActClientsCreate, Body: CreateClientRequest{}, Result: CreatedClient{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.createClient(ctx, req, *req.Body.(*CreateClientRequest))
			}},
		{Method: http.MethodGet, Path: RouteAdminClient, Tag: adminTag, Summary: "Show a TAAP client (never its secret)",
			Action: core.ActClientsRead, Result: Client{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) { return a.GetClient(ctx, req, id(req)) }},
		{Method: http.MethodDelete, Path: RouteAdminClient, Tag: adminTag, Summary: "Delete a TAAP client: its secret, keys and tokens are revoked",
			Action: core.ActClientsDelete, Result: ClientDeletion{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.DeleteClient(ctx, req, id(req))
			}},
		{Method: http.MethodGet, Path: RouteAdminKeys, Tag: adminTag, Summary: "List a TAAP client's PoP public keys",
			Action: core.ActClientKeysRead, Result: adminapi.List[ClientKey]{}, Query: paged(revoked),
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				q, p, err := req.PageQuery("include_revoked")
				if err != nil {
					return nil, err
				}
				all, err := adminapi.BoolOf(q, "include_revoked")
				if err != nil {
					return nil, err
				}
				items, total, err := a.ListKeys(ctx, req, id(req), all, p)
				return adminapi.PagedResult(items, total, p, err)
			}},
		{Method: http.MethodPost, Path: RouteAdminKeys, Tag: adminTag, Summary: "Register another PoP public key for a TAAP client (rotation)",
			Action: core.ActClientKeysCreate, Body: AddKeyRequest{}, Result: ClientKey{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.AddKey(ctx, req, id(req), []byte(req.Body.(*AddKeyRequest).PublicKey))
			}},
		{Method: http.MethodGet, Path: RouteAdminKey, Tag: adminTag, Summary: "Show one PoP public key of a TAAP client",
			Action: core.ActClientKeysRead, Result: ClientKey{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.GetKey(ctx, req, id(req), req.HTTP.PathValue("kid"))
			}},
		{Method: http.MethodPost, Path: RouteAdminKey + "/revoke", Tag: adminTag, Summary: "Revoke a PoP public key: PoP tokens it signs are refused",
			Action: core.ActClientKeysRevoke, Result: KeyRevocation{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.RevokeKey(ctx, req, id(req), req.HTTP.PathValue("kid"))
			}},
		{Method: http.MethodGet, Path: RouteAdminSIMs, Tag: adminTag, Summary: "List the SIM records of the connectivity resource, newest first",
			Action: core.ActSIMsRead, Result: adminapi.List[SIMRecord]{}, Query: paged(org),
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				q, p, err := req.PageQuery("org")
				if err != nil {
					return nil, err
				}
				items, total, err := a.ListSIMs(ctx, req, q.Get("org"), p)
				return adminapi.PagedResult(items, total, p, err)
			}},
		{Method: http.MethodPost, Path: RouteAdminSIMs, Tag: adminTag, Summary: "Add a SIM record (ICCID: 19-20 digits, 89..., Luhn check digit)",
			Action: core.ActSIMsCreate, Body: CreateSIMRequest{}, Result: SIMRecord{}, Status: http.StatusCreated,
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				b := req.Body.(*CreateSIMRequest)
				return a.AddSIM(ctx, req, b.OrgID, SIM{ICCID: b.ICCID, IMSI: b.IMSI, MSISDN: b.MSISDN, Status: b.Status, Label: b.Label})
			}},
		{Method: http.MethodGet, Path: RouteAdminSIM, Tag: adminTag, Summary: "Show a SIM record",
			Action: core.ActSIMsRead, Result: SIMRecord{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.GetSIM(ctx, req, req.HTTP.PathValue("iccid"))
			}},
		{Method: http.MethodDelete, Path: RouteAdminSIM, Tag: adminTag, Summary: "Delete a SIM record",
			Action: core.ActSIMsDelete, Result: SIMDeletion{},
			Handle: func(ctx context.Context, req *adminapi.Request) (any, error) {
				return a.DeleteSIM(ctx, req, req.HTTP.PathValue("iccid"))
			}},
	}
}

// createClient registers a client from the admin API's body and answers
// it with its secret and key ids.
func (a *Admin) createClient(ctx context.Context, who core.Gate, b CreateClientRequest) (CreatedClient, error) {
	spec := ClientSpec{OrgID: b.OrgID, Name: b.Name, Scope: b.Scope}
	for _, k := range b.PublicKeys {
		spec.PublicKeys = append(spec.PublicKeys, []byte(k))
	}
	info, err := a.CreateClient(ctx, who, spec)
	if err != nil {
		return CreatedClient{}, err
	}
	c, p, err := a.client(ctx, info.ClientID)
	if err != nil {
		return CreatedClient{}, err
	}
	return CreatedClient{Client: clientView(c, p), Secret: info.ClientSecret, KIDs: info.Thumbprints}, nil
}
