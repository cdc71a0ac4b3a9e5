package oauth2_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/ca"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/device"
	"github.com/authgate/authgate/internal/scheme"
)

// deviceScheme returns the device-mtls scheme of w's identities.
func deviceScheme(t *testing.T, w *idWorld) scheme.Scheme {
	t.Helper()
	for _, s := range w.ids.Schemes() {
		if s.Name() == device.SchemeMTLS && s.Family() == "device" {
			return s
		}
	}
	t.Fatalf("no device-mtls scheme of family device in %v", w.ids.Schemes())
	return nil
}

// issueDevice issues a device certificate named name for w's caller.
func issueDevice(t *testing.T, w *idWorld, name string) (issuedCert, *x509.Certificate) {
	t.Helper()
	var c issuedCert
	if st := idJSON(t, "POST", w.env.URL+"/identities/certificates", w.token, `{"Name":"`+name+`"}`, &c); st != http.StatusCreated {
		t.Fatalf("issue: %d", st)
	}
	block, _ := pem.Decode([]byte(c.Certificate))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c, cert
}

func certRequest(cert *x509.Certificate) scheme.Request {
	r := httptest.NewRequest(http.MethodGet, "/identities/current", nil)
	r.TLS = nil
	if cert != nil {
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	}
	return scheme.Request{HTTP: r, BodyKnown: true, Addr: netip.MustParseAddr("192.0.2.5")}
}

// TestDeviceMTLSScheme is the device-mtls scheme's table, and for the
// refusals a real mTLS client can provoke the proof that the scheme
// writes what GET /identities/current answers (one check,
// authenticateDevice).
func TestDeviceMTLSScheme(t *testing.T) {
	w := newIDWorld(t)
	sc := deviceScheme(t, w)
	ctx := context.Background()
	ok, okCert := issueDevice(t, w, "sensor-ok")
	revokedInCA, revokedCert := issueDevice(t, w, "sensor-ca-revoked")
	if _, err := w.authority.Revoke(ctx, ca.RevokeRequest{Serial: revokedInCA.SerialNumber, Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	disabled, disabledCert := issueDevice(t, w, "sensor-disabled")
	if err := w.env.Svc.Store.SetPrincipalDisabled(ctx, disabledCert.Subject.CommonName, true); err != nil {
		t.Fatal(err)
	}
	retired, retiredCert := issueDevice(t, w, "sensor-retired")
	if st := idJSON(t, "DELETE", w.env.URL+"/identities/certificates/"+retired.SerialNumber, w.token, "", nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	stranger := selfSigned(t, "stranger")
	expiredStranger := selfSigned(t, "expired") // valid around epoch (2030): not now
	// In date now (the check reads the parsed fields; the fingerprint is of Raw).
	stranger.NotBefore, stranger.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)

	cases := []struct {
		name   string
		cert   *x509.Certificate
		issued *issuedCert // presented over the real mTLS listener too
		device string      // accepted as this device; "" refused
		kind   core.Kind
		desc   string
	}{
		{name: "valid", cert: okCert, issued: &ok, device: "sensor-ok"},
		{name: "no TLS", kind: core.KindUnauthenticated, desc: "a client certificate is required"},
		{name: "not a registered identity", cert: stranger, kind: core.KindUnauthenticated, desc: "not a registered device identity"},
		{name: "outside its validity", cert: expiredStranger, kind: core.KindExpired, desc: "not valid at this time"},
		{name: "revoked in the CA", cert: revokedCert, issued: &revokedInCA, kind: core.KindRevoked, desc: "revoked"},
		{name: "device disabled", cert: disabledCert, issued: &disabled, kind: core.KindRevoked, desc: "disabled"},
		{name: "retired identity", cert: retiredCert, kind: core.KindRevoked, desc: "revoked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := certRequest(tc.cert)
			if sc.Presented(req.HTTP) != (tc.cert != nil) || sc.NeedsBody(req.HTTP) {
				t.Fatalf("Presented %v NeedsBody %v", sc.Presented(req.HTTP), sc.NeedsBody(req.HTTP))
			}
			c, err := sc.Authenticate(ctx, req)
			if tc.device != "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Scheme != "device-mtls" || c.Family != "device" || c.Kind != core.PrincipalDevice || c.Subject != tc.device ||
					c.PrincipalID != tc.cert.Subject.CommonName || c.OrgID == "" || c.CredentialID == "" || c.ExpiresAt.IsZero() {
					t.Fatalf("caller %+v", c)
				}
			} else {
				if err == nil || core.KindOf(err) != tc.kind || !strings.Contains(core.ReasonOf(err), tc.desc) {
					t.Fatalf("err = %v, want %s containing %q", err, tc.kind, tc.desc)
				}
				var ce *core.Error
				if !errors.As(err, &ce) {
					t.Fatalf("%T is not a *core.Error", err)
				}
			}
			if tc.issued == nil {
				return
			}
			rec := httptest.NewRecorder()
			if err != nil {
				sc.WriteRefusal(rec, req.HTTP, err)
			}
			res, rerr := w.mtlsClient(t, *tc.issued).Get(w.mtlsURL + "/identities/current")
			if rerr != nil {
				t.Fatal(rerr)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil {
				if res.StatusCode != 200 {
					t.Fatalf("the scheme accepts what the resource refuses: %d %s", res.StatusCode, body)
				}
				return
			}
			if res.StatusCode != rec.Code || res.Header.Get("WWW-Authenticate") != rec.Header().Get("WWW-Authenticate") || string(body) != rec.Body.String() {
				t.Fatalf("the scheme and the resource disagree:\nscheme %d %q %s\nroute  %d %q %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body,
					res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
			}
		})
	}
}

// TestAttack_DeviceMTLSScheme: a certificate forwarded in a header is
// not a credential; another organisation's device is itself; nothing is
// stripped from what goes upstream but the connection.
func TestAttack_DeviceMTLSScheme(t *testing.T) {
	w := newIDWorld(t)
	sc := deviceScheme(t, w)
	ctx := context.Background()
	c, cert := issueDevice(t, w, "sensor-a")
	t.Run("certificate in a header", func(t *testing.T) {
		req := certRequest(nil)
		for _, h := range []string{"X-Client-Cert", "X-Forwarded-Client-Cert", "Ssl-Client-Cert"} {
			req.HTTP.Header.Set(h, strings.ReplaceAll(c.Certificate, "\n", ""))
		}
		if sc.Presented(req.HTTP) {
			t.Fatal("a forwarded certificate header is presented")
		}
		if _, err := sc.Authenticate(ctx, req); core.KindOf(err) != core.KindUnauthenticated {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a device is its own organisation's", func(t *testing.T) {
		got, err := sc.Authenticate(ctx, certRequest(cert))
		if err != nil || got.OrgID != cert.Subject.Organization[0] {
			t.Fatalf("%+v %v", got, err)
		}
		// A device manages nothing: its certificate gets it no bearer route.
		res, err := w.mtlsClient(t, c).Get(w.mtlsURL + "/identities")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /identities with only a device certificate: %d", res.StatusCode)
		}
	})
	t.Run("strip leaves the request", func(t *testing.T) {
		out := httptest.NewRequest(http.MethodPost, "/x", nil)
		out.Header.Set("Authorization", "Bearer other")
		if b := sc.StripCredentials(out, []byte("b")); string(b) != "b" || out.Header.Get("Authorization") == "" {
			t.Fatalf("StripCredentials changed the request: %v %q", out.Header, b)
		}
	})
	t.Run("failures audited with the address", func(t *testing.T) {
		_, _ = sc.Authenticate(ctx, certRequest(selfSigned(t, "x")))
		evs, err := w.env.Svc.Store.ListAudit(ctx, core.AuditFilter{Action: core.AuditAuthFailure})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.RemoteAddr == "192.0.2.5" && strings.HasPrefix(e.Reason, "mtls: ") {
				return
			}
		}
		t.Fatal("no failure audited from 192.0.2.5")
	})
}
