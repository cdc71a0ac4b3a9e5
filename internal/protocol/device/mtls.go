package device

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/scheme"
)

// Device authenticates on the mutual-TLS listener: the principal and
// the certificate credential its client certificate maps to.
type Device struct {
	Principal  core.Principal
	Credential core.Credential
	Serial     string
	Thumbprint string // base64url SHA-256 of the DER certificate (RFC 8705 x5t#S256)
}

// MTLSServer builds the mutual-TLS listener: client certificates are
// verified against authgate's device issuers (the CA must be
// initialised; see ca.DeviceIssuers), then
// mapped to their device by fingerprint; certificates revoked in the CA
// are refused even if the credential was not retired. Its routes are
// POST /oauth/token (client_credentials with tls_client_auth, other
// grants as on the main listener), GET /identities/current, and the main
// listener's bearer routes.
//
// routes are the device-server API's other routes served there too (the
// oauth2 module: entry point, token endpoint, access keys), token the
// token endpoint's tls_client_auth variant (oauth2's TLSClientAuth, handed
// this package's device-mtls scheme).
func (i *Identities) MTLSServer(ctx context.Context, opts httpapi.Options, routes httpapi.Module, token http.Handler) (*httpapi.Server, error) {
	certs, err := httpapi.LoadCertFiles(i.cfg.TLSCert, i.cfg.TLSKey, i.svc.Clock.Now)
	if err != nil {
		return nil, core.Wrap(core.KindInvalidInput, "identities.tls_cert/tls_key", err)
	}
	tc, err := i.tlsConfig(ctx, certs.GetCertificate)
	if err != nil {
		return nil, err
	}
	i.mtlsCerts = certs
	if opts.Log == nil {
		opts.Log = i.log
	}
	// Device-facing: metrics are never served here (they go to the shared
	// registry, labelled with this listener's name).
	opts.Server, opts.ServeMetrics = "identities-mtls", false
	return &httpapi.Server{Name: opts.Server, Addr: i.cfg.MTLSListen, Handler: httpapi.NewHandler(opts, i.MTLSModule(routes, token)), TLS: tc, Log: opts.Log, Limits: opts.Limits, Certificates: opts.Certificates}, nil
}

// TLSConfig is the mTLS listener's TLS configuration around a server
// certificate. Clients without a certificate are served (password and
// refresh grants), those with one must be issued by a device issuer for client
// authentication.
func (i *Identities) TLSConfig(ctx context.Context, server tls.Certificate) (*tls.Config, error) {
	return i.tlsConfig(ctx, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &server, nil })
}

// loadIssuers reads the device issuers into the pool the listener checks
// client certificates against.
func (i *Identities) loadIssuers(ctx context.Context) error {
	// Each CA that may issue device certificates is a trust anchor of its
	// own, and nothing the client sends is used to build a chain: a
	// certificate of the M2M issuing CAs (siblings under the same root)
	// has no path to an anchor here.
	issuers, err := i.ca.DeviceIssuers(ctx)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	for _, c := range issuers {
		pool.AddCert(c)
	}
	i.issuers.Store(pool)
	i.issuersAt.Store(i.svc.Clock.Now().UnixNano())
	return nil
}

// issuerRefresh is how long a handshake uses the device issuers read
// before; the CA itself re-reads its stored material at most every 5s, so
// a rollover made elsewhere is trusted here within about 10 seconds.
const issuerRefresh = 5 * time.Second

// currentIssuers returns the device issuers, re-read when older than
// issuerRefresh; a failed read keeps the previous pool.
func (i *Identities) currentIssuers() *x509.CertPool {
	now := i.svc.Clock.Now().UnixNano()
	if at := i.issuersAt.Load(); now-at >= int64(issuerRefresh) || now < at {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := i.loadIssuers(ctx); err != nil {
			i.log.Warn("device issuers not re-read; the previous ones stay", slog.Any("err", err))
			i.issuersAt.Store(now) // retried after issuerRefresh, not on every handshake
		}
	}
	return i.issuers.Load()
}

// ReloadMTLS re-reads the mTLS listener's certificate and key and the
// device issuers (SIGHUP); each keeps its previous value when the new one
// does not load. Handshakes after it see the new ones.
func (i *Identities) ReloadMTLS() error {
	if i.mtlsCerts == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := i.mtlsCerts.Reload()
	if ierr := i.loadIssuers(ctx); ierr != nil {
		err = errors.Join(err, fmt.Errorf("device issuers: %w (the previous ones stay)", ierr))
	}
	return err
}

func (i *Identities) tlsConfig(ctx context.Context, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (*tls.Config, error) {
	if err := i.loadIssuers(ctx); err != nil {
		return nil, err
	}
	return httpapi.HandshakeAsBuilt(&tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: getCert,
		ClientAuth:     tls.RequestClientCert,
		// Chain building is done here: the leaf must be signed directly by
		// a device issuer, and is checked for clientAuth.
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return nil
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			// Before the handshake checks the client's signature with it.
			if k, ok := leaf.PublicKey.(*rsa.PublicKey); ok {
				if err := core.CheckRSAKey(k); err != nil {
					return err
				}
			}
			_, err = leaf.Verify(x509.VerifyOptions{Roots: i.currentIssuers(), CurrentTime: i.svc.Clock.Now(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			return err
		},
	}), nil
}

// MTLSModule is the route set of the mutual-TLS listener: routes and the
// identities' routes, POST /oauth/token answered by token, and GET
// /identities/current.
func (i *Identities) MTLSModule(routes httpapi.Module, token http.Handler) httpapi.Module {
	return mtlsModule{i: i, routes: routes, token: token}
}

type mtlsModule struct {
	i      *Identities
	routes httpapi.Module
	token  http.Handler
}

func (t mtlsModule) Register(mux *http.ServeMux) {
	inner := http.NewServeMux()
	if t.routes != nil {
		t.routes.Register(inner)
	}
	t.i.Register(inner)
	mux.Handle("/", inner)
	if t.token != nil {
		mux.Handle("POST /oauth/token", t.token)
	}
	mux.HandleFunc("GET /identities/current", t.i.current)
}

// AuthenticateDevice maps the request's verified client certificate to
// its device. Missing certificates and unknown, retired, revoked or
// expired ones are KindUnauthenticated / KindRevoked / KindExpired
// errors, and audited.
func (i *Identities) AuthenticateDevice(r *http.Request) (Device, error) {
	return i.observedDevice(r)
}

// observedDevice is authenticateDevice for this adapter's own routes and
// tls_client_auth, observed as the registry observes the device-mtls
// scheme for the gateway.
func (i *Identities) observedDevice(r *http.Request) (Device, error) {
	ctx, o := scheme.Observe(r.Context(), i.svc.Observer, i.svc.Tracer, Family, SchemeMTLS)
	d, err := i.authenticateDevice(ctx, r, i.opt.Addr.IP(r))
	o.Done(d.Principal.OrgID, err)
	return d, err
}

// authenticateDevice is AuthenticateDevice with the client's address
// (audit), the one check of the device-mtls scheme, GET
// /identities/current and tls_client_auth.
func (i *Identities) authenticateDevice(ctx context.Context, r *http.Request, addr string) (Device, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return Device{}, core.E(core.KindUnauthenticated, "a client certificate is required")
	}
	leaf := r.TLS.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	fp := hex.EncodeToString(sum[:])
	fail := func(err error) (Device, error) {
		ev := i.event(r, core.AuditEvent{Action: core.AuditAuthFailure, Subject: "certificate " + leaf.SerialNumber.Text(16),
			Outcome: core.OutcomeFailure, Reason: "mtls: " + reasonOr(err, "authentication failed")})
		ev.RemoteAddr = addr
		_ = i.svc.Audit.Record(ctx, ev)
		return Device{}, err
	}
	// The leaf is the credential's exact certificate (looked up by its
	// fingerprint below); its own validity is checked too, whatever the
	// listener checked.
	if now := i.svc.Clock.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fail(core.E(core.KindExpired, "the client certificate is not valid at this time"))
	}
	cred, err := i.svc.Credentials.Find(ctx, core.CredCertificate, fp)
	if err != nil {
		switch core.KindOf(err) {
		case core.KindUnauthenticated:
			return fail(core.E(core.KindUnauthenticated, "the client certificate is not a registered device identity"))
		case core.KindRevoked, core.KindExpired:
			return fail(core.E(core.KindOf(err), "the client certificate's identity is "+core.KindOf(err).String()))
		}
		return Device{}, err
	}
	// The CA's own records are the truth on revocation (e.g. `authgate ca
	// revoke`), not the CRL file, which may be a day old.
	var meta certMeta
	_ = json.Unmarshal(cred.Meta, &meta)
	rec, _, err := i.ca.Get(ctx, meta.Serial)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return fail(core.E(core.KindUnauthenticated, "the client certificate was not issued by this CA"))
		}
		return Device{}, err
	}
	if rec.RevokedAt != nil {
		return fail(core.E(core.KindRevoked, "the client certificate is revoked"))
	}
	if rec.SHA256 != fp || rec.Profile != deviceProfile {
		return fail(core.E(core.KindUnauthenticated, "the client certificate is not a device certificate"))
	}
	p, err := i.svc.Store.GetPrincipal(ctx, cred.PrincipalID)
	if err != nil {
		return Device{}, err
	}
	if p.Disabled {
		return fail(core.E(core.KindRevoked, "the device is disabled"))
	}
	return Device{Principal: p, Credential: cred, Serial: rec.Serial, Thumbprint: core.CertThumbprint(leaf.Raw)}, nil
}

// allow applies the API subscription policy to a device request.
func (i *Identities) allow(r *http.Request, d Device) error {
	if i.opt.Access == nil {
		return nil
	}
	return i.opt.Access.Allow(r.Context(), core.Access{OrgID: d.Principal.OrgID, PrincipalID: d.Principal.ID, Method: r.Method, Path: r.URL.Path, Scheme: "mtls",
		Kind: d.Principal.Kind})
}

type currentView struct {
	Identity     string `json:"Identity"`
	Organisation string `json:"OrganisationID"`
	SerialNumber string `json:"SerialNumber"`
	Links        []Link `json:"Links"`
}

// current serves GET /identities/current on the mTLS listener: who the
// client certificate authenticates.
func (i *Identities) current(w http.ResponseWriter, r *http.Request) {
	d, err := i.observedDevice(r)
	if err != nil {
		i.refuseDevice(w, r, err)
		return
	}
	actor := core.Actor{Kind: d.Principal.Kind, OrgID: d.Principal.OrgID, PrincipalID: d.Principal.ID}
	if err := i.svc.Authz.Authorize(r.Context(), core.Authorization{Actor: actor, Action: core.ActIdentitiesCurrentRead,
		Target: core.Target{OrgID: d.Principal.OrgID, PrincipalID: d.Principal.ID}, Subject: "certificate " + d.Serial,
		Protocol: auditProtocol, RemoteAddr: i.opt.Addr.IP(r), RequestID: httpapi.RequestID(r)}); err != nil {
		i.fail(w, r, err)
		return
	}
	if err := i.allow(r, d); err != nil {
		i.fail(w, r, err)
		return
	}
	base := i.baseURL(r)
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "identity"), currentView{Identity: d.Principal.Name, Organisation: d.Principal.OrgID,
		SerialNumber: d.Serial, Links: certLinks(base, d.Serial)[:1]})
}
