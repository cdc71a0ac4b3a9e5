package device

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Device identities in the device-server style (/identities): X.509
// certificates issued by authgate's CA under its device profile, and
// DTLS pre-shared keys. Each identity is a core principal of kind device
// in the caller's organisation holding one credential: a certificate
// (looked up by its SHA-256 fingerprint) or a PSK (looked up by its
// identity, the key sealed so a DTLS server can recompute with it).

// deviceCA is what identities need from the built-in CA (*ca.Authority).
type deviceCA interface {
	Sign(ctx context.Context, req ca.SignRequest) (ca.Issued, error)
	Revoke(ctx context.Context, req ca.RevokeRequest) (ca.Record, error)
	Get(ctx context.Context, serial string) (ca.Record, core.Document, error)
	DeviceIssuers(ctx context.Context) ([]*x509.Certificate, error)
}

var _ deviceCA = (*ca.Authority)(nil)

// deviceProfile is the CA profile of device certificates.
const deviceProfile = "device"

// Identities serves /identities on the main listener (bearer callers
// manage their organisation's identities) and, with Config.MTLSListen,
// the mutual-TLS listener devices authenticate on.
type Identities struct {
	svc    core.Services
	ca     deviceCA
	cfg    Config
	opt    Options
	log    *slog.Logger
	bearer *core.BearerAuth
	// issuers are the trust anchors of device certificates on the mTLS
	// listener, read when it is built and again on reload (a new device
	// issuing CA is trusted without a restart).
	issuers atomic.Pointer[x509.CertPool]
	// issuersAt is when issuers was last read (unix nanoseconds of the
	// clock): handshakes re-read it after issuerRefresh, so a CA rollover
	// or retirement reaches every node without a reload.
	issuersAt atomic.Int64
	// mtlsCerts is the mTLS listener's own pair, once it is built.
	mtlsCerts *httpapi.CertFiles
}

var _ httpapi.Module = (*Identities)(nil)

// Register adds the routes.
func (i *Identities) Register(mux *http.ServeMux) {
	req := i.requireAction
	mux.Handle("GET /identities", req(core.ActIdentitiesRead, i.identities))
	mux.Handle("GET /identities/psk", req(core.ActIdentitiesRead, i.listPSK))
	mux.Handle("POST /identities/psk", req(core.ActIdentitiesPSKCreate, i.createPSK))
	mux.Handle("GET /identities/psk/{identity}", req(core.ActIdentitiesRead, i.getPSK))
	mux.Handle("DELETE /identities/psk/{identity}", req(core.ActIdentitiesPSKDelete, i.deletePSK))
	mux.Handle("GET /identities/certificates", req(core.ActIdentitiesRead, i.listCerts))
	mux.Handle("POST /identities/certificates", req(core.ActIdentitiesCertificatesCreate, i.createCert))
	mux.Handle("GET /identities/certificates/{serial}", req(core.ActIdentitiesRead, i.getCert))
	mux.Handle("DELETE /identities/certificates/{serial}", req(core.ActIdentitiesCertificatesDelete, i.deleteCert))
}

func (i *Identities) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, i.log, err, ctxBearer)
}

// identities serves GET /identities: links to the two kinds.
func (i *Identities) identities(w http.ResponseWriter, r *http.Request) {
	base := i.baseURL(r)
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "identities"), linksDoc{Links: []Link{
		{Rel: "psk", Href: base + "/identities/psk", Type: httpapi.Vnd("pskidentities")},
		{Rel: "certificate", Href: base + "/identities/certificates", Type: httpapi.Vnd("certificates")},
	}})
}

// ---- pre-shared keys ----

type pskView struct {
	Identity string `json:"Identity"`
	Secret   string `json:"Secret,omitempty"` // only in the creation response
	Links    []Link `json:"Links"`
}

type pskList struct {
	PageInfo pageInfo  `json:"PageInfo"`
	Items    []pskView `json:"Items"`
	Links    []Link    `json:"Links"`
}

func pskLinks(base, id string) []Link {
	href := base + "/identities/psk/" + url.PathEscape(id)
	return []Link{{Rel: "self", Href: href}, {Rel: "remove", Href: href}}
}

// pskBytes is the PSK length: 256 bits, hex-encoded for DTLS tooling.
const pskBytes = 32

// createPSK serves POST /identities/psk: a new identity and its key,
// shown in this response only (stored sealed).
func (i *Identities) createPSK(w http.ResponseWriter, r *http.Request) {
	c := caller(r)
	ctx := r.Context()
	identity := core.RandomIdentifier(18)
	p, err := i.svc.CreatePrincipal(ctx, c.OrgID(), core.PrincipalDevice, "psk-"+identity)
	if err != nil {
		i.fail(w, r, err)
		return
	}
	key := make([]byte, pskBytes)
	if _, err := rand.Read(key); err != nil {
		i.fail(w, r, core.Wrap(core.KindInternal, "", err))
		return
	}
	cred, secret, err := i.svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: c.OrgID(), PrincipalID: p.ID, Kind: core.CredPSK,
		Lookup: identity, Name: "psk " + identity, Secret: hex.EncodeToString(key)})
	if err != nil {
		i.fail(w, r, err)
		return
	}
	if err := i.audit(ctx, r, core.AuditEvent{Action: core.AuditCreate, OrgID: c.OrgID(), PrincipalID: p.ID, Subject: "psk " + cred.Lookup,
		Reason: "PSK identity created by " + c.PrincipalID()}); err != nil {
		i.fail(w, r, err)
		return
	}
	base := i.baseURL(r)
	w.Header().Set("Location", base+"/identities/psk/"+url.PathEscape(identity))
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSONType(w, http.StatusCreated, httpapi.NegotiateVnd(r, "pskidentity", "pskidentities"),
		pskView{Identity: identity, Secret: secret, Links: pskLinks(base, identity)})
}

// listPSK serves GET /identities/psk: identities only, never keys.
func (i *Identities) listPSK(w http.ResponseWriter, r *http.Request) {
	creds, total, start, size, ok := i.list(w, r, core.CredPSK)
	if !ok {
		return
	}
	base := i.baseURL(r)
	out := pskList{PageInfo: pageInfo{TotalCount: total, ItemsCount: len(creds), StartIndex: start}, Items: make([]pskView, 0, len(creds))}
	for _, cr := range creds {
		out.Items = append(out.Items, pskView{Identity: cr.Lookup, Links: pskLinks(base, cr.Lookup)})
	}
	out.Links = pageLinks(base+"/identities/psk", start, size, len(creds), total)
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "pskidentities", "pskidentity"), out)
}

func (i *Identities) getPSK(w http.ResponseWriter, r *http.Request) {
	cred, ok := i.find(w, r, core.CredPSK, r.PathValue("identity"), core.ActIdentitiesRead)
	if !ok {
		return
	}
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "pskidentity", "pskidentities"),
		pskView{Identity: cred.Lookup, Links: pskLinks(i.baseURL(r), cred.Lookup)})
}

// deletePSK serves DELETE /identities/psk/{identity}: the key stops
// working and the device's tokens are revoked.
func (i *Identities) deletePSK(w http.ResponseWriter, r *http.Request) {
	cred, ok := i.find(w, r, core.CredPSK, r.PathValue("identity"), core.ActIdentitiesPSKDelete)
	if !ok {
		return
	}
	i.retire(w, r, cred, "PSK identity "+cred.Lookup)
}

// ---- certificates ----

type certRequestBody struct {
	// Name names the device (default: the request's CN, else generated).
	Name string `json:"Name"`
	// CertificateRequest is a PEM PKCS#10 request to sign; without it the
	// key pair is generated here and the key returned once.
	CertificateRequest string `json:"CertificateRequest"`
}

type certView struct {
	SerialNumber string    `json:"SerialNumber"`
	Identity     string    `json:"Identity"` // device name
	Subject      string    `json:"Subject"`
	Fingerprint  string    `json:"Fingerprint"` // SHA-256 of the DER certificate, hex
	NotAfter     time.Time `json:"NotAfter"`
	Certificate  string    `json:"Certificate,omitempty"` // PEM, with the issuing chain
	PrivateKey   string    `json:"PrivateKey,omitempty"`  // PKCS#8 PEM, only when generated here, only once
	Links        []Link    `json:"Links"`
}

type certList struct {
	PageInfo pageInfo   `json:"PageInfo"`
	Items    []certView `json:"Items"`
	Links    []Link     `json:"Links"`
}

// certMeta is kept in the certificate credential's Meta.
type certMeta struct {
	Serial   string    `json:"serial"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
}

func certLinks(base, serial string) []Link {
	href := base + "/identities/certificates/" + url.PathEscape(serial)
	return []Link{{Rel: "self", Href: href}, {Rel: "remove", Href: href}}
}

func (i *Identities) certItem(base string, cr core.Credential, p string) certView {
	var meta certMeta
	_ = json.Unmarshal(cr.Meta, &meta)
	return certView{SerialNumber: meta.Serial, Identity: p, Subject: meta.Subject, Fingerprint: cr.Lookup, NotAfter: meta.NotAfter,
		Links: certLinks(base, meta.Serial)}
}

// createCert serves POST /identities/certificates: the device CA signs
// the posted CSR's key under the device profile, or generates an ECDSA
// P-256 key and signs a request for it (the key is in this response only,
// never stored). Either way the subject is the CA's (ca.DeviceName: the
// device and organisation ids); the request only proves the key.
func (i *Identities) createCert(w http.ResponseWriter, r *http.Request) {
	c := caller(r)
	ctx := r.Context()
	var body certRequestBody
	if r.ContentLength != 0 {
		if !httpapi.AcceptsVndBody(r, "certificate", "certificates") {
			i.fail(w, r, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
				Description: "Content-Type must be application/vnd.imgtec.certificate+json or application/json"})
			return
		}
		if err := httpapi.DecodeJSON(r, &body); err != nil {
			i.fail(w, r, core.Wrap(core.KindInvalidInput, "request body must be {\"Name\", \"CertificateRequest\"}", err))
			return
		}
	}
	name := strings.TrimSpace(body.Name)
	if name != "" {
		if err := validName(name); err != nil {
			i.fail(w, r, err)
			return
		}
	}
	var csrPEM []byte
	var keyPEM string
	if body.CertificateRequest != "" {
		csrPEM = []byte(body.CertificateRequest)
		csr, err := ca.ParseCSR(csrPEM)
		if err != nil {
			i.fail(w, r, err)
			return
		}
		if name == "" {
			// Only the device's display name: the certificate's subject is
			// assigned by the CA, never taken from the request.
			if name = strings.TrimSpace(csr.Subject.CommonName); name != "" {
				if err := validName(name); err != nil {
					i.fail(w, r, err)
					return
				}
			}
		}
	} else {
		org, err := i.svc.Store.GetOrganisation(ctx, c.OrgID())
		if err != nil {
			i.fail(w, r, err)
			return
		}
		if name == "" {
			name = "device-" + core.NewID()
		}
		if csrPEM, keyPEM, err = newDeviceKey(org.Name, name); err != nil {
			i.fail(w, r, err)
			return
		}
	}
	if name == "" {
		i.fail(w, r, errInvalidRequest("the device needs a Name or a CN in its certificate request"))
		return
	}
	p, err := i.svc.CreatePrincipal(ctx, c.OrgID(), core.PrincipalDevice, name)
	if err != nil {
		if core.KindOf(err) == core.KindConflict {
			err = core.E(core.KindConflict, "a device named "+name+" exists in this organisation")
		}
		i.fail(w, r, err)
		return
	}
	iss, err := i.ca.Sign(ctx, ca.SignRequest{CSR: csrPEM, Profile: deviceProfile, Validity: i.cfg.CertificateValidity,
		Device: &ca.DeviceSubject{DeviceID: p.ID, OrgID: c.OrgID()},
		OrgID:  c.OrgID(), PrincipalID: c.PrincipalID(), RemoteAddr: i.opt.Addr.IP(r), RequestID: httpapi.RequestID(r)})
	if err != nil {
		// The principal stays without a credential: disable it so the name is visibly spent.
		_ = i.svc.Store.SetPrincipalDisabled(ctx, p.ID, true)
		i.fail(w, r, err)
		return
	}
	meta, _ := json.Marshal(certMeta{Serial: iss.Record.Serial, Subject: iss.Record.Subject, NotAfter: iss.Record.NotAfter})
	exp := iss.Certificate.NotAfter
	cred, _, err := i.svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: c.OrgID(), PrincipalID: p.ID, Kind: core.CredCertificate,
		Lookup: iss.Record.SHA256, Name: name, Public: iss.Certificate.Raw, Meta: meta, ExpiresAt: &exp})
	if err != nil {
		i.fail(w, r, err)
		return
	}
	if err := i.audit(ctx, r, core.AuditEvent{Action: core.AuditCreate, OrgID: c.OrgID(), PrincipalID: p.ID, Subject: "certificate " + iss.Record.Serial,
		Reason: "device certificate for " + name + " issued to " + c.PrincipalID()}); err != nil {
		i.fail(w, r, err)
		return
	}
	base := i.baseURL(r)
	out := i.certItem(base, cred, name)
	out.Certificate, out.PrivateKey = string(iss.PEM()), keyPEM
	w.Header().Set("Location", base+"/identities/certificates/"+url.PathEscape(iss.Record.Serial))
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSONType(w, http.StatusCreated, httpapi.NegotiateVnd(r, "certificate", "certificates"), out)
}

// newDeviceKey makes a P-256 key and a CSR for it (O = organisation, CN =
// device), returning the CSR and the PKCS#8 key in PEM.
func newDeviceKey(org, cn string) ([]byte, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", core.Wrap(core.KindInternal, "", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{Organization: []string{org}, CommonName: cn}}, key)
	if err != nil {
		return nil, "", core.Wrap(core.KindInternal, "", err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", core.Wrap(core.KindInternal, "", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})), nil
}

func (i *Identities) listCerts(w http.ResponseWriter, r *http.Request) {
	creds, total, start, size, ok := i.list(w, r, core.CredCertificate)
	if !ok {
		return
	}
	base := i.baseURL(r)
	out := certList{PageInfo: pageInfo{TotalCount: total, ItemsCount: len(creds), StartIndex: start}, Items: make([]certView, 0, len(creds))}
	for _, cr := range creds {
		out.Items = append(out.Items, i.certItem(base, cr, cr.Name))
	}
	out.Links = pageLinks(base+"/identities/certificates", start, size, len(creds), total)
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "certificates", "certificate"), out)
}

// certBySerial finds the certificate credential of a serial if the caller
// may perform action on it.
func (i *Identities) certBySerial(w http.ResponseWriter, r *http.Request, action core.Action) (core.Credential, ca.Record, bool) {
	rec, _, err := i.ca.Get(r.Context(), r.PathValue("serial"))
	if err != nil || rec.Profile != deviceProfile {
		i.fail(w, r, core.E(core.KindNotFound, "no such certificate"))
		return core.Credential{}, ca.Record{}, false
	}
	cred, ok := i.find(w, r, core.CredCertificate, rec.SHA256, action)
	return cred, rec, ok
}

func (i *Identities) getCert(w http.ResponseWriter, r *http.Request) {
	cred, rec, ok := i.certBySerial(w, r, core.ActIdentitiesRead)
	if !ok {
		return
	}
	out := i.certItem(i.baseURL(r), cred, cred.Name)
	out.Certificate = rec.CertificatePEM
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "certificate", "certificates"), out)
}

// deleteCert serves DELETE /identities/certificates/{serial}: the
// certificate is revoked in the CA (so the CRL lists it), its credential
// is revoked and the device's tokens with it.
func (i *Identities) deleteCert(w http.ResponseWriter, r *http.Request) {
	cred, rec, ok := i.certBySerial(w, r, core.ActIdentitiesCertificatesDelete)
	if !ok {
		return
	}
	c := caller(r)
	if _, err := i.ca.Revoke(r.Context(), ca.RevokeRequest{Serial: rec.Serial, Reason: "cessationOfOperation", OrgID: c.OrgID(),
		PrincipalID: c.PrincipalID(), RemoteAddr: i.opt.Addr.IP(r), RequestID: httpapi.RequestID(r)}); err != nil && core.KindOf(err) != core.KindConflict {
		i.fail(w, r, err)
		return
	}
	i.retire(w, r, cred, "certificate "+rec.Serial)
}

// ---- shared ----

// list pages the caller's organisation's active credentials of kind.
func (i *Identities) list(w http.ResponseWriter, r *http.Request, kind core.CredentialKind) ([]core.Credential, int, int, int, bool) {
	start, size, err := i.paging(r)
	if err != nil {
		i.fail(w, r, err)
		return nil, 0, 0, 0, false
	}
	creds, total, err := i.svc.Store.ListCredentials(r.Context(), core.CredentialFilter{OrgID: caller(r).OrgID(), Kind: kind}, core.Page{Offset: start, Limit: size})
	if err != nil {
		i.fail(w, r, err)
		return nil, 0, 0, 0, false
	}
	return creds, total, start, size, true
}

func pageLinks(href string, start, size, n, total int) []Link {
	links := []Link{{Rel: "add", Href: href}}
	page := func(rel string, from int) Link {
		return Link{Rel: rel, Href: href + "?startIndex=" + strconv.Itoa(from) + "&pageSize=" + strconv.Itoa(size)}
	}
	if start > 0 {
		links = append(links, page("prev", max(0, start-size)))
	}
	if start+n < total {
		links = append(links, page("next", start+n))
	}
	return links
}

// find returns the active credential if the caller may perform action on
// it (404 for unknown ones and those of other organisations, 403 for
// other refusals).
func (i *Identities) find(w http.ResponseWriter, r *http.Request, kind core.CredentialKind, lookup string, action core.Action) (core.Credential, bool) {
	cred, err := i.svc.Store.FindCredential(r.Context(), kind, lookup)
	if err == nil && cred.RevokedAt != nil {
		err = core.E(core.KindNotFound, "")
	}
	if err == nil {
		err = i.authorizeObject(r, action, cred.OrgID, cred.PrincipalID, string(kind)+" "+cred.Lookup, "no such identity")
	}
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			err = core.E(core.KindNotFound, "no such identity")
		}
		i.fail(w, r, err)
		return core.Credential{}, false
	}
	return cred, true
}

// retire revokes a device credential, disables its principal and revokes
// its tokens: 204.
func (i *Identities) retire(w http.ResponseWriter, r *http.Request, cred core.Credential, what string) {
	ctx := r.Context()
	if err := i.svc.Store.RevokeCredential(ctx, cred.ID, i.svc.Clock.Now()); err != nil {
		i.fail(w, r, err)
		return
	}
	if err := i.svc.Store.SetPrincipalDisabled(ctx, cred.PrincipalID, true); err != nil {
		i.fail(w, r, err)
		return
	}
	n, err := i.svc.Tokens.RevokePrincipal(ctx, cred.PrincipalID)
	if err != nil {
		i.fail(w, r, err)
		return
	}
	if err := i.audit(ctx, r, core.AuditEvent{Action: core.AuditRevoke, OrgID: cred.OrgID, PrincipalID: cred.PrincipalID, Subject: what,
		Reason: "device identity deleted by " + caller(r).PrincipalID() + "; " + strconv.Itoa(n) + " tokens revoked"}); err != nil {
		i.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
