package wssectest

import (
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed pysign.py
var pysign []byte

// RequireZeep finds a Python 3 that imports Debian's python3-zeep and
// python3-xmlsec, skipping only outside full CI runs (test.sh installs them).
func RequireZeep(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if bin, err := exec.LookPath(p); err == nil && exec.Command(bin, "-c", "import zeep, xmlsec, cryptography").Run() == nil {
			return bin
		}
	}
	if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
		t.Fatal("python3 with zeep and xmlsec is required (scripts/deps.sh installs python3-zeep and python3-xmlsec)")
	}
	t.Skip("python3-zeep / python3-xmlsec not installed")
	return ""
}

// Unsigned is a SOAP 1.1 envelope with a wsse:Security header holding only
// a wsu:Timestamp (no Ids: the signers add them), around payload.
func Unsigned(payload string, created, expires time.Time) []byte {
	const f = "2006-01-02T15:04:05Z"
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" soap:mustUnderstand="1"><wsu:Timestamp><wsu:Created>` +
		created.UTC().Format(f) + `</wsu:Created><wsu:Expires>` + expires.UTC().Format(f) + `</wsu:Expires></wsu:Timestamp></wsse:Security></soap:Header><soap:Body>` +
		payload + `</soap:Body></soap:Envelope>`)
}

// PySign signs unsigned with pysign.py in mode (see the script's
// docstring) using python3-zeep / python3-xmlsec, and returns the message.
func PySign(t testing.TB, py, mode string, unsigned []byte, cert *x509.Certificate, key *rsa.PrivateKey) []byte {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath := WriteFiles(t, dir, "signer", cert, key)
	script, in, out := filepath.Join(dir, "pysign.py"), filepath.Join(dir, "in.xml"), filepath.Join(dir, "out.xml")
	if err := os.WriteFile(script, pysign, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, unsigned, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(py, script, mode, keyPath, certPath, in, out).CombinedOutput(); err != nil {
		t.Fatalf("pysign %s: %v\n%s", mode, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// XMLSec1Sign runs `xmlsec1 --sign` on template (an envelope whose
// ds:Signature is a template: empty DigestValue, SignatureValue and, in
// KeyInfo, the empty elements xmlsec1 fills in such as X509IssuerSerial)
// with key and cert, wsu:Id declared the Id of soap:Body and wsu:Timestamp.
func XMLSec1Sign(t testing.TB, bin string, template []byte, cert *x509.Certificate, key *rsa.PrivateKey) []byte {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath := WriteFiles(t, dir, "signer", cert, key)
	in, out := filepath.Join(dir, "tmpl.xml"), filepath.Join(dir, "signed.xml")
	if err := os.WriteFile(in, template, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--sign",
		"--id-attr:Id", "http://schemas.xmlsoap.org/soap/envelope/:Body",
		"--id-attr:Id", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd:Timestamp",
		"--privkey-pem", keyPath+","+certPath, "--output", out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmlsec1 --sign: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SignatureTemplate is a wsse:Security ds:Signature template over #Body
// and #TS (exclusive c14n, rsa-sha256, sha256) whose KeyInfo holds keyInfo.
func SignatureTemplate(keyInfo string) string {
	ref := func(id string) string {
		return `<ds:Reference URI="#` + id + `"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
			`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>`
	}
	return strings.Join([]string{`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>`,
		`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`,
		`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>`,
		ref("TS"), ref("Body"), `</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo>`, keyInfo, `</ds:KeyInfo></ds:Signature>`}, "")
}

// Template is an envelope around payload with a Timestamp (wsu:Id TS), a
// Body (wsu:Id Body) and the signature template of SignatureTemplate.
func Template(payload, keyInfo string, created, expires time.Time) []byte {
	const f = "2006-01-02T15:04:05Z"
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" soap:mustUnderstand="1"><wsu:Timestamp wsu:Id="TS"><wsu:Created>` +
		created.UTC().Format(f) + `</wsu:Created><wsu:Expires>` + expires.UTC().Format(f) + `</wsu:Expires></wsu:Timestamp>` +
		SignatureTemplate(keyInfo) + `</wsse:Security></soap:Header><soap:Body wsu:Id="Body">` + payload + `</soap:Body></soap:Envelope>`)
}
