// Package gateway puts authgate in front of a user's own API: a route table
// (configuration section `gateway:` plus routes stored in the database)
// matches a request by host, path prefix and method, the route's schemes
// (internal/scheme) authenticate it, the privilege table and the API
// subscriptions decide it (core.AccessGate), and the request is proxied
// upstream with the caller's identity in X-Authgate-* headers and a
// short-lived ES256 JWT. The forward-auth endpoint decides from the same
// table through Decide. docs/gateway.md describes both modes.
package gateway
