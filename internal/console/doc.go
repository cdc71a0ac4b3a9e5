// Package console serves authgate's admin console at /console: embedded
// pages (vanilla JavaScript modules and CSS, no build step, no external
// assets) that call only the admin HTTP API (internal/adminapi), with the
// access token of a browser session in an HttpOnly, Secure, SameSite=Strict
// cookie. Signing in runs the OAuth2 family's password grant behind the
// scenes (a Granter the composition root provides); every state-changing
// admin request of a session must carry the session's CSRF token (an HMAC
// of the access token under the master key) in X-CSRF-Token; signing out
// revokes the token. The package implements adminapi.Sessions, which is how
// the admin API reads a session's token.
package console
