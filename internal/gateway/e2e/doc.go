// Package e2e runs authgate's gateway and forward-auth endpoint as a
// user deploys them: the real `authgate serve` with a gateway
// configuration, real front ends (nginx auth_request, Caddy forward_auth)
// and real clients (golang.org/x/oauth2, the TPV PHP sample, npm
// tmo-poptoken-builder, Apstrata calls signed as the vendor's PHP SDK
// signs them) in front of an upstream that records what reached it and
// verifies X-Authgate-Identity against the JWKS. Its tests live apart
// so that their processes do not slow the unit tests of the gateway.
package e2e
