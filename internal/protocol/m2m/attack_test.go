package m2m_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// post sends raw to the M2MMon endpoint and returns the fault (nil on success).
func (w *world) post(t *testing.T, path string, raw []byte) (*sdk.Fault, []byte) {
	t.Helper()
	res, err := w.http.Post(w.srv.URL+path, "text/xml; charset=utf-8", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		return nil, body
	}
	if res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("HTTP %d: %s", res.StatusCode, body)
	}
	f := sdk.ParseFault(body)
	if f == nil {
		t.Fatalf("HTTP 500 without a SOAP fault: %s", body)
	}
	return f, body
}

func (w *world) signedUsageGet(t *testing.T, s *wssec.Signer, apiKey string) []byte {
	t.Helper()
	payload, _ := xml.Marshal(sdk.SIMUsageGet{M2MApiKey: apiKey, ICCID: iccid})
	b, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttacksOverHTTPS: every attack of the issue, sent to the M2MMon
// endpoint, is answered with a SOAP Fault carrying its code, and every
// refusal is audited with its reason.
func TestAttacksOverHTTPS(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	signer := func(l wssectest.Leaf, ca *wssectest.CA, opt wssec.SignerOptions) *wssec.Signer {
		l.Now = w.now
		c, k := ca.Issue(t, l)
		s, err := wssec.NewSigner(k, c, opt)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	partnerSigner := func(opt wssec.SignerOptions) *wssec.Signer {
		s, err := wssec.NewSigner(w.pKey, w.pCert, opt)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := partnerSigner(wssec.SignerOptions{})
	valid := w.signedUsageGet(t, good, w.apiKey)
	otherCA := wssectest.NewCA(t, "Other CA", 1, w.now)
	// A second partner's (valid, CA-issued) certificate with acme's API key.
	strangerCert := signer(wssectest.Leaf{CN: "stranger.example", Slot: 20}, w.ca, wssec.SignerOptions{})

	wrap := func(raw []byte) []byte {
		// Move the signed Body into a header wrapper and put an attacker's Body in its place.
		i, j := bytes.Index(raw, []byte("<soap:Body")), bytes.Index(raw, []byte("</soap:Body>"))+len("</soap:Body>")
		body := raw[i:j]
		evil := []byte(`<soap:Body><m:SIMUsageGet xmlns:m="urn:authgate:m2m:v30"><m:M2MApiKey>` + w.apiKey + `</m:M2MApiKey><m:ICCID>8949020000000000099</m:ICCID></m:SIMUsageGet></soap:Body>`)
		out := append([]byte{}, raw[:i]...)
		out = append(out, evil...)
		out = append(out, raw[j:]...)
		return bytes.Replace(out, []byte("</wsse:Security>"), append(append([]byte("</wsse:Security><Wrapper>"), body...), "</Wrapper>"...), 1)
	}
	cases := []struct {
		name, code, detail string
		msg                func() []byte
	}{
		{"signature wrapping", "wsse:FailedCheck", "", func() []byte { return wrap(w.signedUsageGet(t, good, w.apiKey)) }},
		{"duplicate Ids", "wsse:InvalidSecurity", "", func() []byte {
			raw := w.signedUsageGet(t, good, w.apiKey)
			id := raw[bytes.Index(raw, []byte(`wsu:Id="Body-`))+8:]
			id = id[:bytes.IndexByte(id, '"')]
			return bytes.Replace(raw, []byte("</wsse:Security>"), []byte(`</wsse:Security><x Id="`+string(id)+`"/>`), 1)
		}},
		{"expired Timestamp", "wsse:MessageExpired", "", func() []byte {
			return w.signedUsageGet(t, partnerSigner(wssec.SignerOptions{Clock: core.NewManualClock(w.now.Add(-10 * time.Minute))}), w.apiKey)
		}},
		{"future Timestamp", "wsse:MessageExpired", "", func() []byte {
			return w.signedUsageGet(t, partnerSigner(wssec.SignerOptions{Clock: core.NewManualClock(w.now.Add(10 * time.Minute))}), w.apiKey)
		}},
		{"TTL over the limit", "wsse:InvalidSecurity", "", func() []byte {
			return w.signedUsageGet(t, partnerSigner(wssec.SignerOptions{TTL: time.Hour}), w.apiKey)
		}},
		{"certificate of another CA", "wsse:FailedAuthentication", "", func() []byte {
			return w.signedUsageGet(t, signer(wssectest.Leaf{}, otherCA, wssec.SignerOptions{}), w.apiKey)
		}},
		{"self-signed certificate", "wsse:FailedAuthentication", "", func() []byte {
			return w.signedUsageGet(t, signer(wssectest.Leaf{SelfSigned: true, Slot: 21}, w.ca, wssec.SignerOptions{}), w.apiKey)
		}},
		{"another partner's certificate", faultClient, sdk.ErrCertificateMismatch, func() []byte {
			return w.signedUsageGet(t, strangerCert, w.apiKey)
		}},
		{"certificate without clientAuth", "wsse:InvalidSecurityToken", "", func() []byte {
			return w.signedUsageGet(t, signer(wssectest.Leaf{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Slot: 22}, w.ca, wssec.SignerOptions{}), w.apiKey)
		}},
		{"RSA 1024", "wsse:InvalidSecurityToken", "", func() []byte {
			return w.signedUsageGet(t, signer(wssectest.Leaf{Bits: 1024}, w.ca, wssec.SignerOptions{}), w.apiKey)
		}},
		{"DOCTYPE with entities", "wsse:InvalidSecurity", "", func() []byte {
			raw := w.signedUsageGet(t, good, w.apiKey)
			return append([]byte(`<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY a "&x;&x;">]>`), raw[bytes.IndexByte(raw, '\n')+1:]...)
		}},
		{"comment injection", "wsse:InvalidSecurity", "", func() []byte {
			return bytes.Replace(w.signedUsageGet(t, good, w.apiKey), []byte(iccid), []byte(iccid[:10]+"<!---->"+iccid[10:]), 1)
		}},
		{"missing API key", faultClient, sdk.ErrMissingAPIKey, func() []byte { return w.signedUsageGet(t, good, "") }},
		{"wrong API key", faultClient, sdk.ErrInvalidAPIKey, func() []byte {
			lookup, _, _ := strings.Cut(w.apiKey, ".")
			return w.signedUsageGet(t, good, lookup+".wrong-secret")
		}},
		{"unsigned Timestamp", "wsse:FailedCheck", "", func() []byte {
			// A signature whose SignedInfo covers the Body only.
			raw := w.signedUsageGet(t, good, w.apiKey)
			i := bytes.Index(raw, []byte(`<ds:Reference URI="#TS-`))
			j := i + bytes.Index(raw[i:], []byte(`</ds:Reference>`)) + len(`</ds:Reference>`)
			return append(append([]byte{}, raw[:i]...), raw[j:]...)
		}},
		{"rsa-sha1 not allowed", "wsse:UnsupportedAlgorithm", "", func() []byte {
			return w.signedUsageGet(t, partnerSigner(wssec.SignerOptions{Algorithm: wssec.AlgRSASHA1}), w.apiKey)
		}},
		{"replayed message", faultClient, sdk.ErrReplayed, func() []byte { return valid }},
		{"unknown ICCID", faultClient, sdk.ErrUnknownICCID, func() []byte {
			p, _ := xml.Marshal(sdk.SIMUsageGet{M2MApiKey: w.apiKey, ICCID: "8949020000000000099"})
			b, _ := good.Sign(p)
			return b
		}},
		{"operation of the other service", faultClient, sdk.ErrUnknownOperation, func() []byte {
			p, _ := xml.Marshal(sdk.NewAdmRequest(sdk.OpSIMActivation, w.apiKey, iccid, ""))
			b, _ := good.Sign(p)
			return b
		}},
	}
	// The valid message is accepted once first, so its second use is a replay.
	if f, body := w.post(t, m2m.PathMon, valid); f != nil {
		t.Fatalf("valid request refused: %v\n%s", f, body)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, body := w.post(t, m2m.PathMon, tc.msg())
			if f == nil {
				t.Fatalf("accepted: %s", body)
			}
			if f.Code != tc.code || f.Detail != tc.detail {
				t.Fatalf("fault %q/%q (%s), want %q/%q", f.Code, f.Detail, f.String, tc.code, tc.detail)
			}
		})
	}
	events, err := w.svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditAuthFailure, Protocol: "m2m"})
	if err != nil {
		t.Fatal(err)
	}
	// Every case but the application errors (unknown ICCID, wrong service) is an authentication failure.
	if len(events) != len(cases)-2 {
		t.Fatalf("%d audited failures for %d refused authentications", len(events), len(cases)-2)
	}
	for _, e := range events {
		if e.Reason == "" || e.Outcome != core.OutcomeFailure || strings.Contains(e.Reason, "wrong-secret") {
			t.Fatalf("audit event %+v", e)
		}
	}
}

const faultClient = sdk.FaultClient

// TestAPIKeyIsPerEnvironment: a PE key is refused by the TA listener.
func TestAPIKeyIsPerEnvironment(t *testing.T) {
	w := newWorld(t, worldOptions{})
	peKey, err := m2m.CreateAPIKey(context.Background(), w.deps, m2m.EnvPE, "acme")
	if err != nil {
		t.Fatal(err)
	}
	w.client.APIKey = peKey
	_, err = w.client.SIMUsageGet(context.Background(), iccid)
	var f *sdk.Fault
	if !errors.As(err, &f) || f.Detail != sdk.ErrInvalidAPIKey {
		t.Fatalf("PE key on TA: %v", err)
	}
}
