package m2m_test

import (
	"context"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// TestXMLSec1VerifiesPlatformMessages: authgate's signed SIMUsageResponse,
// MessageResponse, signed application fault, M2MAdmResponse and
// SIMNetworkStateChange all verify with xmlsec1 given authgate's signing
// certificate and the CA.
func TestXMLSec1VerifiesPlatformMessages(t *testing.T) {
	bin := wssectest.RequireXMLSec1(t)
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	msgs := map[string][]byte{}
	var err error
	if msgs["SIMUsageResponse"], err = w.client.RoundTrip(ctx, m2m.PathMon, sdk.SIMUsageGet{M2MApiKey: w.apiKey, ICCID: iccid}); err != nil {
		t.Fatal(err)
	}
	if msgs["signed fault"], err = w.client.RoundTrip(ctx, m2m.PathMon, sdk.SIMUsageGet{M2MApiKey: w.apiKey, ICCID: "8949020000000000099"}); err != nil {
		t.Fatal(err)
	}
	if msgs["MessageResponse"], err = w.client.RoundTrip(ctx, m2m.PathAdm, sdk.NewAdmRequest(sdk.OpSIMActivation, w.apiKey, iccid, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.ProcessDue(ctx); err != nil {
		t.Fatal(err)
	}
	w.partner.waitFor(t, 2)
	w.partner.mu.Lock()
	for _, raw := range w.partner.raw {
		if strings.Contains(string(raw), "M2MAdmResponse") {
			msgs["M2MAdmResponse"] = raw
		} else {
			msgs["SIMNetworkStateChange"] = raw
		}
	}
	w.partner.mu.Unlock()
	for _, want := range []string{"SIMUsageResponse", "signed fault", "MessageResponse", "M2MAdmResponse", "SIMNetworkStateChange"} {
		raw := msgs[want]
		if raw == nil {
			t.Fatalf("no %s captured", want)
		}
		if want != "signed fault" && !strings.Contains(string(raw), want) {
			t.Fatalf("%s: unexpected message %s", want, raw)
		}
		out, err := wssectest.XMLSec1Verify(t, bin, raw, w.platCert, w.ca.Cert)
		if err != nil || !strings.Contains(string(out), "OK") {
			t.Fatalf("%s: xmlsec1 refused (%v):\n%s\n%s", want, err, out, raw)
		}
	}
}
