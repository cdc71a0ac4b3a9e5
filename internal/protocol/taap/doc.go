// Package taap implements T-Mobile's API Access Protocol (TAAP) on top of
// authgate's core: proof-of-possession (PoP) tokens carried in
// X-Authorization and verified as a reusable scheme (Verifier), the TAAP
// OAuth token endpoint (POST /oauth2/v6/tokens: Basic client id/secret plus
// a PoP token -> opaque access token, ID token JWT, refresh token; JWKS at
// /.well-known/jwks.json with rotating, sealed signing keys), and the demo
// IoT connectivity resource GET /iot-connectivity/v1/devices/{ICCID} that
// requires a Bearer access token plus a PoP token. Clients are application
// principals with a client secret and one or more RSA public keys; SIM
// records are core documents. docs/taap.md describes the wire formats.
package taap
