// Package wssec signs and verifies SOAP 1.1 messages with OASIS WS-Security
// 1.0 X.509 token profile signatures, the way the Deutsche Telekom M2M
// Connectivity API requires: a wsu:Timestamp (Created/Expires), the signer's
// certificate as a wsse:BinarySecurityToken (X509v3, Base64Binary), and one
// ds:Signature (exclusive c14n, rsa-sha256) over the soap:Body and the
// Timestamp, referenced by wsu:Id, whose key is found through a
// wsse:SecurityTokenReference to the token. The Verifier also accepts the
// key references Java, .NET and Python stacks send instead of a token
// (X509IssuerSerial, subject key identifier, SHA-1 thumbprint), resolved
// against registered certificates only: Policy.Pinned and a
// CertificateResolver.
//
// The Verifier is written against XML signature wrapping: it checks the
// envelope's shape before it trusts any reference, resolves references
// only as "#id" over document-unique Ids, requires that the signed elements
// ARE the Envelope's Body and the Security header's Timestamp, and hands
// the caller a Body parsed from the very bytes it digested. DESIGN.md's
// verifier checklist is implemented point by point in Verify.
//
// The Signer serializes exactly the canonical bytes it digested, so what a
// peer canonicalizes again is what was signed.
package wssec
