// Package examples holds sample input files for a first success with
// authgate: a TPV sales record, the setup document's annex openssl
// configurations for `authgate csr --config`, and a development
// configuration. Its test checks that each is accepted by the parser the
// server uses, so the samples cannot drift from what authgate accepts.
package examples
