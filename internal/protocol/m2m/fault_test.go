package m2m_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/wssec"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// TestStoreDownAnswers503Fault breaks the store under a running
// environment (closes it: every query fails as when the database is
// unreachable). A signed request is then answered with a soap:Server
// Fault, HTTP 503 and Retry-After, the one answer of every family to a
// database fault (it was HTTP 500 with no hint), and the SDK client reads
// it as a Fault.
func TestStoreDownAnswers503Fault(t *testing.T) {
	w := newWorld(t, worldOptions{})
	signer, err := wssec.NewSigner(w.pKey, w.pCert, wssec.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	post := func() (*http.Response, []byte) {
		res, err := w.http.Post(w.srv.URL+m2m.PathMon, "text/xml; charset=utf-8", bytes.NewReader(w.signedUsageGet(t, signer, w.apiKey)))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	if res, body := post(); res.StatusCode != http.StatusOK {
		t.Fatalf("before the fault: %d %s", res.StatusCode, body)
	}
	if err := w.svc.Store.Close(); err != nil {
		t.Fatal(err)
	}
	res, body := post()
	f := sdk.ParseFault(body)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" || f == nil ||
		f.Code != sdk.FaultServer || f.Detail != sdk.ErrUnavailable {
		t.Fatalf("store down: HTTP %d Retry-After %q fault %+v\n%s", res.StatusCode, res.Header.Get("Retry-After"), f, body)
	}
	_, err = w.client.SIMUsageGet(t.Context(), iccid)
	var sf *sdk.Fault
	if !errors.As(err, &sf) || sf.Detail != sdk.ErrUnavailable {
		t.Fatalf("SDK client while the store is down: %v", err)
	}
}
