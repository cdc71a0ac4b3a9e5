// Package oauth2 serves the device server's REST authentication (family 1
// of DESIGN.md): the HATEOAS entry point (GET /), GET /versions, the
// /accesskeys resource, and an OAuth 2.0 token endpoint (POST /oauth/token)
// with the password, refresh_token and client_credentials grants, RFC 7662
// introspection (POST /oauth/introspect) and RFC 7009 revocation (POST
// /oauth/revoke). BearerAuth lets any other route of authgate require an
// access token issued here.
//
// Access keys are core principals (kind user; the bootstrap admin is kind
// admin) holding a core.CredAccessKey credential: the key is the public
// lookup, the secret is stored only as a keyed hash. Tokens are opaque
// random strings stored as keyed hashes by core.Tokens; access and refresh
// tokens are different kinds, so neither is ever accepted as the other.
//
// Wire notes:
//   - Token responses are RFC 6749 section 5.1 JSON (200, expires_in a
//     number) unless the request's Accept names
//     application/vnd.imgtec.com.oauthtoken+json: then the device server's
//     documented shape is served, status 201 and that media type, with the
//     body flat (as in its refresh example) or, with the configuration
//     device_server_response: wrapped, as {"oAuthToken":{...}} with
//     expires_in a string (as in its password example).
//   - Refresh tokens rotate. Presenting a refresh token that was already
//     exchanged more than refresh_grace ago revokes its whole family (every
//     access and refresh token descended from the same password grant) and
//     is audited; inside the grace window one concurrent refresh gets a
//     second valid pair, so two racing refreshes never log a device out,
//     and further ones are refused (invalid_grant) without revoking
//     anything (core.Tokens.ExchangeRefresh, shared with TAAP).
//   - Failed client or resource-owner authentications are limited by
//     core.Guard (shared by all families and nodes; docs/limiter.md).
//   - Access-token lookups go through core.Tokens' cache: revocations made
//     on this node apply at once, those made on other nodes within
//     token_cache_max_age (default 1 s).
package oauth2
