package device

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/scheme"
)

// SchemeMTLS is the scheme name of device identities presenting
// their CA-issued client certificate. The identities' PSKs are DTLS
// keys: no HTTP request can present one (Go's TLS has no PSK suites),
// so there is no PSK scheme.
const SchemeMTLS = "device-mtls"

// Family is the family the device identities belong to.
const Family = "device"

// deviceScheme is a device's client certificate as a scheme.Scheme: GET
// /identities/current, tls_client_auth at the token endpoint and the
// gateway check the certificate through the same authenticateDevice.
type deviceScheme struct{ i *Identities }

var _ scheme.Scheme = deviceScheme{}

// Schemes returns the identities' schemes: device-mtls.
func (i *Identities) Schemes() []scheme.Scheme { return []scheme.Scheme{deviceScheme{i}} }

func (deviceScheme) Name() string   { return SchemeMTLS }
func (deviceScheme) Family() string { return Family }

// Presented reports a TLS connection on which the client presented a
// certificate (the listener must request one: the identities' mTLS
// listener does).
func (deviceScheme) Presented(r *http.Request) bool {
	return r.TLS != nil && len(r.TLS.PeerCertificates) > 0
}

// NeedsBody is false: the TLS handshake proved the key, the body is not signed.
func (deviceScheme) NeedsBody(*http.Request) bool { return false }

// Authenticate maps the client certificate to its device: the
// certificate is a device credential (looked up by its SHA-256
// fingerprint, so exactly the certificate the CA issued), in date, not
// retired, not revoked in the CA's records (which are fresher than any
// CRL), of the device profile, and its device is enabled. Failures are
// audited. The subject is the device's name; the credential id is the
// certificate credential's.
func (s deviceScheme) Authenticate(ctx context.Context, req scheme.Request) (scheme.Caller, error) {
	addr := ""
	if req.Addr.IsValid() {
		addr = req.Addr.String()
	} else {
		addr = s.i.opt.Addr.IP(req.HTTP)
	}
	d, err := s.i.authenticateDevice(ctx, req.HTTP, addr)
	if err != nil {
		return scheme.Caller{}, err
	}
	c := scheme.Caller{Scheme: SchemeMTLS, Family: Family, OrgID: d.Principal.OrgID, PrincipalID: d.Principal.ID,
		Kind: d.Principal.Kind, Subject: d.Principal.Name, CredentialID: d.Credential.ID}
	if d.Credential.ExpiresAt != nil {
		c.ExpiresAt = *d.Credential.ExpiresAt
	}
	return c, nil
}

// WriteRefusal writes err as GET /identities/current does: the RFC 6749
// JSON body, 401 invalid_client for a certificate that does not
// authenticate, 403/429 for the access checks after it.
func (s deviceScheme) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, s.i.log, err, ctxCertificate)
}

// StripCredentials has nothing to remove: the certificate belongs to the
// client's connection, which is not forwarded.
func (deviceScheme) StripCredentials(_ *http.Request, body []byte) []byte { return body }

// refuseDevice answers a refused device request: the scheme's refusal.
func (i *Identities) refuseDevice(w http.ResponseWriter, r *http.Request, err error) {
	deviceScheme{i}.WriteRefusal(w, r, err)
}
