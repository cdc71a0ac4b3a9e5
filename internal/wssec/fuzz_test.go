package wssec_test

import (
	"bytes"
	"testing"

	"github.com/authgate/authgate/internal/wssec"
)

// FuzzVerify feeds arbitrary bytes to the envelope parser and verifier. It
// must never panic, and whatever it accepts must come with a Body, the
// certificate and the signature value.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	signed := fx.sign(f)
	f.Add(signed)
	f.Add(bytes.Replace(signed, []byte("<soap:Body"), []byte("<soap:Body Id=\"x\""), 1))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/><soap:Body/></soap:Envelope>`))
	f.Add([]byte(`<a><!-- c --><?pi?></a>`))
	f.Add([]byte{})
	v := fx.verifier(f, wssec.Policy{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := v.Verify(msg)
		if err != nil {
			return
		}
		if got.Body == nil || got.Certificate == nil || len(got.SignatureValue) == 0 {
			t.Fatal("accepted without body, certificate or signature")
		}
	})
}
