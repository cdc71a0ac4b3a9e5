// Package device serves device identities in the device-server style
// (family "device"): X.509 certificates issued by authgate's CA under its
// device profile and DTLS pre-shared keys, managed under /identities with
// a bearer access token (core.BearerAuth), and the mutual-TLS listener
// devices authenticate on with their certificate. The device-mtls
// scheme.Scheme is that certificate check; GET /identities/current, the
// listener's tls_client_auth token endpoint (served by the oauth2
// adapter, handed the scheme) and the gateway all go through it.
//
// Errors are the device-server API's: RFC 6749 JSON bodies with RFC 6750
// codes and challenges, the same bytes the oauth2 adapter writes.
package device
