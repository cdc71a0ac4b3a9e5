package core

// Access describes one authenticated request to a protected API route, as
// the adapter that authenticated it reports it to an access policy (API
// subscriptions: internal/subscription). Adapters declare the one-method
// interface they call, e.g.
//
//	type accessPolicy interface{ Allow(ctx context.Context, a core.Access) error }
//
// and map its errors (KindForbidden: not subscribed; KindRateLimited and
// KindQuotaExceeded with Error.RetryAfter) in their usual error mapping.
type Access struct {
	OrgID       string
	PrincipalID string
	Method      string // HTTP method (SOAP: POST)
	Path        string // route path; SOAP adapters append "/<operation>"
	// Scheme names how the caller authenticated: "bearer", "tpv",
	// "wss" (WS-Security), "apstrata", "pop" (TAAP), "mtls".
	Scheme string
	// Scope is the access token's scope, if the scheme has one; a scope
	// naming API resources limits the request to them.
	Scope string
}
