package ca

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// Admin is the CA's part of the admin API (/admin/ca/...): the same
// operations `authgate ca list|get|sign|revoke|crl` call, for the console.
// Every route is admin-only (ca.read, ca.issue, ca.revoke).
type Admin struct{ ca *Authority }

var _ adminapi.Group = Admin{}

// NewAdmin builds the CA's admin routes.
func NewAdmin(a *Authority) Admin { return Admin{ca: a} }

// IssueBody is the body of POST /admin/ca/certificates.
type IssueBody struct {
	// CSR is the PKCS#10 request, PEM (at most 64 KiB).
	CSR string `json:"csr"`
	// Profile is signing or ssl-server.
	Profile string `json:"profile"`
	// Environment is TA or PE.
	Environment string `json:"environment"`
	// ValidityDays is the lifetime; 0 is ca.default_validity_days.
	ValidityDays int `json:"validity_days,omitempty"`
	// Organisation, when set, must be the request subject's O exactly.
	Organisation string `json:"organisation,omitempty"`
}

// RevokeBody is the body of POST /admin/ca/certificates/{serial}/revoke.
type RevokeBody struct {
	// Reason is an RFC 5280 reason name; "" is unspecified.
	Reason string `json:"reason,omitempty"`
}

// RouteCRL is the admin API's CRL download.
const RouteCRL = "/admin/ca/crl"

// AdminRoutes implements adminapi.Group.
func (m Admin) AdminRoutes() []adminapi.Route {
	const tag = "CA"
	serial := "/admin/ca/certificates/{serial}"
	return []adminapi.Route{
		{Method: http.MethodGet, Path: "/admin/ca/certificates", Tag: tag, Summary: "Issued certificates, newest first, with days to expiry and issuer generation",
			Action: core.ActCARead, Result: adminapi.List[View]{}, Handle: m.list,
			Query: append(append([]adminapi.Param(nil), adminapi.PageParams...), adminapi.Param{Name: "org", Type: "string", Description: "only the certificates requested by this organisation"})},
		{Method: http.MethodGet, Path: serial, Tag: tag, Summary: "One issued certificate, with its PEM",
			Action: core.ActCARead, Result: View{}, Handle: m.get},
		{Method: http.MethodPost, Path: "/admin/ca/certificates", Tag: tag, Summary: "Issue an M2M partner certificate from a PEM CSR (profile signing or ssl-server, environment TA or PE)",
			Action: core.ActCAIssue, Body: IssueBody{}, Result: View{}, Status: http.StatusCreated, Handle: m.issue},
		{Method: http.MethodPost, Path: serial + "/revoke", Tag: tag, Summary: "Revoke an issued certificate of any kept generation (409 if revoked before)",
			Action: core.ActCARevoke, Body: RevokeBody{}, Result: View{}, Handle: m.revoke},
		{Method: http.MethodGet, Path: RouteCRL, Tag: tag, Summary: "The current CRL of one CA (DER; ?format=pem for PEM)",
			Action: core.ActCARead, Raw: true, ResultType: "application/pkix-crl", Handle: m.crl,
			Query: []adminapi.Param{
				{Name: "ca", Type: "string", Description: "device, m2m-ta or m2m-pe (default the legacy issuer's); NAME@GENERATION for a kept previous generation's"},
				{Name: "format", Type: "string", Description: "der (default) or pem"},
			}},
	}
}

// The admin API's request is the gate of the CA's operations, and tells
// their audit records where it came from.
var (
	_ core.Gate = (*adminapi.Request)(nil)
	_ origin    = (*adminapi.Request)(nil)
)

func (m Admin) list(ctx context.Context, req *adminapi.Request) (any, error) {
	q, err := req.Query("org")
	if err != nil {
		return nil, err
	}
	p, err := adminapi.PageOf(q)
	if err != nil {
		return nil, err
	}
	recs, total, err := m.ca.ListCertificates(ctx, req, q.Get("org"), p)
	if err != nil {
		return nil, err
	}
	now := m.ca.Now()
	items := make([]View, 0, len(recs))
	for _, r := range recs {
		items = append(items, ViewOf(r, now, false))
	}
	return adminapi.Paged(items, total, p), nil
}

func (m Admin) get(ctx context.Context, req *adminapi.Request) (any, error) {
	rec, err := m.ca.Certificate(ctx, req, req.HTTP.PathValue("serial"))
	if err != nil {
		return nil, err
	}
	return ViewOf(rec, m.ca.Now(), true), nil
}

func (m Admin) issue(ctx context.Context, req *adminapi.Request) (any, error) {
	b := req.Body.(*IssueBody)
	iss, err := m.ca.IssueCertificate(ctx, req, IssueRequest{CSR: []byte(b.CSR), Profile: b.Profile,
		Environment: b.Environment, ValidityDays: b.ValidityDays, Organisation: b.Organisation})
	if err != nil {
		return nil, err
	}
	return IssuedView(iss, m.ca.Now()), nil
}

func (m Admin) revoke(ctx context.Context, req *adminapi.Request) (any, error) {
	b := req.Body.(*RevokeBody)
	rec, err := m.ca.RevokeCertificate(ctx, req, req.HTTP.PathValue("serial"), b.Reason)
	if err != nil {
		return nil, err
	}
	return ViewOf(rec, m.ca.Now(), false), nil
}

func (m Admin) crl(ctx context.Context, req *adminapi.Request) (any, error) {
	q := req.HTTP.URL.Query()
	format := q.Get("format")
	if format != "" && format != "der" && format != "pem" {
		return nil, core.E(core.KindInvalidInput, "format must be der or pem")
	}
	der, err := m.ca.CRLFor(ctx, req, q.Get("ca"))
	if err != nil {
		return nil, err
	}
	h := req.W.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if format == "pem" {
		h.Set("Content-Type", "application/x-pem-file")
		_, _ = req.W.Write(CRLPEM(der))
		return nil, nil
	}
	h.Set("Content-Type", "application/pkix-crl")
	h.Set("Content-Disposition", `attachment; filename="authgate.crl"`)
	_, _ = req.W.Write(der)
	return nil, nil
}
