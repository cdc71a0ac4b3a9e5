package m2m_test

import (
	"context"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/authgate/authgate/internal/protocol/m2m"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != string(got) {
		t.Fatalf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// normalize replaces what differs between runs (random Ids, times, digests,
// signature, certificate, request ids) so the rest of the wire format is
// compared byte for byte.
func normalize(b []byte) []byte {
	for _, r := range []struct{ re, repl string }{
		{`(Body|TS|X509|SIG)-[0-9a-f]{16}`, "$1-ID"},
		{`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`, "TIME"},
		{`<ds:DigestValue>[^<]*</ds:DigestValue>`, "<ds:DigestValue>DIGEST</ds:DigestValue>"},
		{`<ds:SignatureValue>[^<]*</ds:SignatureValue>`, "<ds:SignatureValue>SIGNATURE</ds:SignatureValue>"},
		{`(<wsse:BinarySecurityToken[^>]*>)[^<]*`, "${1}CERTIFICATE"},
		{`<RequestId>[0-9a-f]+</RequestId>`, "<RequestId>REQUEST</RequestId>"},
	} {
		b = regexp.MustCompile(r.re).ReplaceAll(b, []byte(r.repl))
	}
	return b
}

// TestGoldenEnvelopes pins the wire format: signed responses, the signed
// and unsigned faults, and the WSDLs.
func TestGoldenEnvelopes(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	usage, err := w.client.RoundTrip(ctx, m2m.PathMon, sdk.SIMUsageGet{M2MApiKey: w.apiKey, ICCID: iccid})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "simusageresponse.golden.xml", normalize(usage))
	accepted, err := w.client.RoundTrip(ctx, m2m.PathAdm, sdk.NewAdmRequest(sdk.OpSIMActivation, w.apiKey, iccid, ""))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "messageresponse.golden.xml", normalize(accepted))
	unknown, err := w.client.RoundTrip(ctx, m2m.PathMon, sdk.SIMUsageGet{M2MApiKey: w.apiKey, ICCID: "8949020000000000099"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "fault_unknown_iccid.golden.xml", normalize(unknown))
	_, security := w.post(t, m2m.PathMon, []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`))
	golden(t, "fault_security.golden.xml", security)
	req, _ := xml.Marshal(sdk.SIMUsageGet{M2MApiKey: "LOOKUP.SECRET", ICCID: iccid})
	signed, _ := w.client.Signer.Sign(req)
	golden(t, "simusageget_request.golden.xml", normalize(signed))
	for _, f := range []string{"M2MAdmv30.wsdl", "M2MMonv30.wsdl", "M2MAdmClv30.wsdl", "M2MMonClv30.wsdl"} {
		b, ok := m2m.WSDL(f, "https://m2m.example/"+f[:len(f)-8])
		if !ok {
			t.Fatal(f)
		}
		golden(t, f, b)
	}
}
