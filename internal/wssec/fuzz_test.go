package wssec_test

import (
	"bytes"
	"testing"

	"github.com/authgate/authgate/internal/wssec"
)

// The fuzzer minimises every new interesting input by trying to remove each
// subset of its bytes, which is quadratic in the input's length: a signed
// envelope of several kilobytes as a seed kept the fuzzer minimising for
// the whole run. So the targets here take small inputs: short messages for
// the parser and structure checks, and a short edit of a validly signed
// envelope for the signature checks.

// FuzzVerify feeds small arbitrary messages to the envelope parser and
// verifier: no panics, and nothing unsigned is accepted.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/><soap:Body/></soap:Envelope>`))
	f.Add([]byte(`<a><!-- c --><?pi?></a>`))
	f.Add([]byte{})
	fx := newFixture(f)
	v := fx.verifier(f, wssec.Policy{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		if _, err := v.Verify(msg); err == nil {
			t.Fatalf("accepted an unsigned message: %q", msg)
		}
	})
}

// FuzzVerifySignedEdit applies one edit (at offset, drop n bytes, insert
// ins) to a validly signed envelope. Whatever the verifier then accepts must
// come with the certificate and the signature value, and its Body must be
// the signed one (the same canonical bytes: an edit c14n undoes, such as
// other attribute quotes, is no change).
func FuzzVerifySignedEdit(f *testing.F) {
	fx := newFixture(f)
	signed := fx.sign(f)
	body := bytes.Index(signed, []byte("<soap:Body"))
	if body < 0 {
		f.Fatal("fixture has no soap:Body")
	}
	bodyEnd := bytes.Index(signed, []byte("</soap:Body>"))
	f.Add(uint16(0), uint8(0), []byte{})
	f.Add(uint16(body+len("<soap:Body")), uint8(0), []byte(` Id="x"`))
	f.Add(uint16(body), uint8(1), []byte("<"))
	f.Add(uint16(bodyEnd-4), uint8(2), []byte("zz"))
	f.Add(uint16(len(signed)/3), uint8(8), []byte(`<!-- -->`))
	v := fx.verifier(f, wssec.Policy{})
	orig, err := v.Verify(signed)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, at uint16, drop uint8, ins []byte) {
		if len(ins) > 64 {
			return
		}
		i := int(at) % (len(signed) + 1)
		j := min(i+int(drop), len(signed))
		msg := make([]byte, 0, len(signed)+len(ins))
		msg = append(append(append(msg, signed[:i]...), ins...), signed[j:]...)
		got, err := v.Verify(msg)
		if err != nil {
			return
		}
		if got.Body == nil || got.Certificate == nil || len(got.SignatureValue) == 0 {
			t.Fatal("accepted without body, certificate or signature")
		}
		if !bytes.Equal(got.BodyC14N, orig.BodyC14N) {
			t.Fatalf("accepted another Body: at %d drop %d insert %q:\n%s", i, j-i, ins, got.BodyC14N)
		}
	})
}
