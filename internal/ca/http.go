package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Caller is who an authenticated API request comes from: an
// administrator (core.BearerAuth.Admin).
type Caller struct {
	PrincipalID string
	OrgID       string
	Kind        core.PrincipalKind
}

// AdminCheck is the core admin check the API's routes run
// (*core.BearerAuth): the bearer access token, its holder read afresh,
// and the action granted across every organisation. Errors are core
// errors: Unauthenticated/Expired/Revoked (401), Forbidden (403), the rest
// passed on.
type AdminCheck interface {
	Admin(ctx context.Context, req core.BearerRequest, action core.Action, subject string) (core.BearerCaller, error)
}

var (
	_ AdminCheck     = (*core.BearerAuth)(nil)
	_ httpapi.Module = (*Module)(nil)
)

// Module serves the CA's HTTP API:
//
//	POST /ca/sign                           admin: CSR + profile + environment -> certificate
//	GET  /ca/certificates                   admin: issued certificates
//	GET  /ca/certificates/{serial}          admin: one record
//	POST /ca/certificates/{serial}/revoke   admin: revoke
//	GET  /ca/crl                            public: DER CRL (?format=pem for PEM) of the
//	                                        legacy issuer (the root on new installations),
//	                                        ?ca=device|m2m-ta|m2m-pe for an issuing CA's
//	GET  /ca/cacert                         public: root certificate (PEM), ?ca=<name>
//	                                        for an issuing CA's certificate
//
// The CRL and the root certificate are public on purpose: relying parties
// (TLS clients, WS-Security verifiers, `openssl verify -crl_download`)
// fetch them without credentials, exactly as CRL distribution points
// are meant to be used.
type Module struct {
	ca   *Authority
	auth AdminCheck
	addr httpapi.ClientAddr
	log  *slog.Logger
}

// NewModule builds the HTTP API.
func NewModule(ca *Authority, auth AdminCheck, addr httpapi.ClientAddr) *Module {
	return &Module{ca: ca, auth: auth, addr: addr, log: ca.deps.Log}
}

// Register implements httpapi.Module.
func (m *Module) Register(mux *http.ServeMux) {
	mux.Handle("POST /ca/sign", m.admin(core.ActCAIssue, m.handleSign))
	mux.Handle("GET /ca/certificates", m.admin(core.ActCARead, m.handleList))
	mux.Handle("GET /ca/certificates/{serial}", m.admin(core.ActCARead, m.handleGet))
	mux.Handle("POST /ca/certificates/{serial}/revoke", m.admin(core.ActCARevoke, m.handleRevoke))
	mux.HandleFunc("GET /ca/crl", m.handleCRL)
	mux.HandleFunc("GET /ca/cacert", m.handleCACert)
}

// apiError is the CA API's error body.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError maps a core error to the API's status and body, once.
func (m *Module) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "server_error"
	desc := core.ReasonOf(err)
	kind := core.KindOf(err)
	if _, ok := httpapi.Unavailable(err); ok && kind != core.KindUnavailable {
		kind, desc = core.KindUnavailable, "service temporarily unavailable" // beneath another error: its reason may be internal
	}
	switch kind {
	case core.KindInvalidInput:
		status, code = http.StatusBadRequest, "invalid_request"
		if strings.HasPrefix(r.URL.Path, "/ca/sign") {
			code = "policy_violation"
		}
	case core.KindUnauthenticated, core.KindExpired, core.KindRevoked:
		status, code = http.StatusUnauthorized, "unauthorized"
		w.Header().Set("WWW-Authenticate", `Bearer realm="authgate-ca"`)
	case core.KindForbidden:
		status, code = http.StatusForbidden, "forbidden"
	case core.KindNotFound:
		status, code = http.StatusNotFound, "not_found"
	case core.KindConflict:
		status, code = http.StatusConflict, "conflict"
	case core.KindUnavailable:
		status, _ = httpapi.Unavailable(err)
		code = "unavailable"
		httpapi.SetRetryAfter(w, err)
	default:
		desc = ""
		m.log.Error("ca request failed", slog.String("path", r.URL.Path), slog.String("request_id", httpapi.RequestID(r)), slog.Any("err", err))
	}
	httpapi.WriteJSON(w, status, apiError{Error: code, Description: desc})
}

type handler func(w http.ResponseWriter, r *http.Request, c Caller)

// gate is c's gate for the operations it asks for with request r.
func (m *Module) gate(c Caller, r *http.Request) core.Gate {
	return authzGate{actor: core.Actor{Kind: c.Kind, OrgID: c.OrgID, PrincipalID: c.PrincipalID}, authz: m.ca.deps.Authz,
		remoteAddr: m.addr.IP(r), reqID: httpapi.RequestID(r)}
}

// admin runs h for callers the core admin check admits for action
// (administrators); the check audits its refusals.
func (m *Module) admin(action core.Action, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := m.auth.Admin(r.Context(), core.BearerRequest{Header: r.Header.Get("Authorization"), TLS: r.TLS, Protocol: "ca",
			RemoteAddr: m.addr.IP(r), RequestID: httpapi.RequestID(r)}, action, r.Method+" "+r.URL.Path)
		if err != nil {
			if errors.Is(err, core.ErrBearerMissing) {
				err = core.E(core.KindUnauthenticated, "an admin access token is required: Authorization: Bearer <access_token>")
			}
			m.writeError(w, r, err)
			return
		}
		h(w, r, Caller{PrincipalID: c.Token.PrincipalID, OrgID: c.Token.OrgID, Kind: c.Kind})
	})
}

// signBody is the JSON body of POST /ca/sign.
type signBody struct {
	CSR          string `json:"csr"`
	Profile      string `json:"profile"`
	Environment  string `json:"environment"`
	ValidityDays int    `json:"validity_days,omitempty"`
	Organisation string `json:"organisation,omitempty"`
}

// signResponse is the JSON answer of POST /ca/sign.
type signResponse struct {
	Serial      string    `json:"serial"`
	Certificate string    `json:"certificate"` // PEM
	Chain       string    `json:"chain,omitempty"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
}

// pemChainType is RFC 8555's media type for a PEM certificate chain.
const pemChainType = "application/pem-certificate-chain"

func (m *Module) handleSign(w http.ResponseWriter, r *http.Request, c Caller) {
	var b signBody
	if err := httpapi.DecodeJSON(r, &b); err != nil {
		m.writeError(w, r, err)
		return
	}
	iss, err := m.ca.IssueCertificate(r.Context(), m.gate(c, r), IssueRequest{
		CSR: []byte(b.CSR), Profile: b.Profile, Environment: b.Environment, Organisation: b.Organisation, ValidityDays: b.ValidityDays,
	})
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/ca/certificates/"+iss.Record.Serial)
	if wantsPEM(r) {
		w.Header().Set("Content-Type", pemChainType)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(iss.PEM())
		return
	}
	resp := signResponse{Serial: iss.Record.Serial, Certificate: pemCert(iss.Certificate), NotBefore: iss.Record.NotBefore, NotAfter: iss.Record.NotAfter}
	for _, ch := range iss.Chain {
		resp.Chain += pemCert(ch)
	}
	httpapi.WriteJSON(w, http.StatusCreated, resp)
}

// wantsPEM reports whether the client asked for the PEM chain itself.
func wantsPEM(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == pemChainType || mt == "application/x-pem-file") {
			return true
		}
	}
	return false
}

type listResponse struct {
	Items []Record `json:"items"`
	Total int      `json:"total"`
}

func (m *Module) handleList(w http.ResponseWriter, r *http.Request, c Caller) {
	q := r.URL.Query()
	p := core.Page{Limit: 100}
	for name, dst := range map[string]*int{"offset": &p.Offset, "limit": &p.Limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (name == "limit" && (n == 0 || n > 1000)) {
				m.writeError(w, r, core.E(core.KindInvalidInput, name+" must be a number (limit 1 to 1000)"))
				return
			}
			*dst = n
		}
	}
	items, total, err := m.ca.ListCertificates(r.Context(), m.gate(c, r), q.Get("org"), p)
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, listResponse{Items: items, Total: total})
}

func (m *Module) handleGet(w http.ResponseWriter, r *http.Request, c Caller) {
	rec, err := m.ca.Certificate(r.Context(), m.gate(c, r), r.PathValue("serial"))
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, rec)
}

type revokeBody struct {
	Reason string `json:"reason"`
}

func (m *Module) handleRevoke(w http.ResponseWriter, r *http.Request, c Caller) {
	var b revokeBody
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(r, &b); err != nil {
			m.writeError(w, r, err)
			return
		}
	}
	rec, err := m.ca.RevokeCertificate(r.Context(), m.gate(c, r), r.PathValue("serial"), b.Reason)
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, rec)
}

func (m *Module) handleCRL(w http.ResponseWriter, r *http.Request) {
	der, err := m.ca.CRLOf(r.Context(), r.URL.Query().Get("ca"))
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	if r.URL.Query().Get("format") == "pem" {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(CRLPEM(der))
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(der)
}

// handleCACert serves one issuing CA (?ca=NAME, see ParseCAName) or the
// roots: the current one first, then the previous generation's while a
// rollover keeps it.
func (m *Module) handleCACert(w http.ResponseWriter, r *http.Request) {
	var certs []*x509.Certificate
	var err error
	if name := r.URL.Query().Get("ca"); name != "" {
		var c *x509.Certificate
		c, err = m.ca.IssuingCA(r.Context(), name)
		certs = []*x509.Certificate{c}
	} else {
		certs, err = m.ca.Roots(r.Context())
	}
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	for _, c := range certs {
		_, _ = w.Write([]byte(pemCert(c)))
	}
}
