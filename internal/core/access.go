package core

import "context"

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
	// "wss" (WS-Security), "apstrata", "pop" (TAAP), "mtls", or a
	// scheme.Scheme name ("oauth2-bearer", "taap-pop", ...).
	Scheme string
	// Scope is the access token's scope, if the scheme has one; a scope
	// naming API resources limits the request to them.
	Scope string
	// Kind is the caller's principal kind, for the privilege check
	// (AccessGate); every adapter sets it.
	Kind PrincipalKind
	// Resource names the API resource directly (gateway routes, whose
	// paths are the user's API and not authgate's); "" looks the resource
	// up by Method and Path.
	Resource string
}

// accessPolicy is the policy an AccessGate applies after the privilege check.
type accessPolicy interface {
	Allow(ctx context.Context, a Access) error
}

// AccessGate is what adapters call as their access policy: first the
// privilege table (the caller uses the resource as itself:
// ActResourcesUse), then Policy (API subscriptions, rates, quotas).
type AccessGate struct {
	Authz  *Authorizer
	Policy accessPolicy // nil: the privilege check only
}

// Allow implements the adapters' access policy.
func (g AccessGate) Allow(ctx context.Context, a Access) error {
	if err := g.Authz.Authorize(ctx, Authorization{Actor: Actor{Kind: a.Kind, OrgID: a.OrgID, PrincipalID: a.PrincipalID},
		Action: ActResourcesUse, Target: Target{OrgID: a.OrgID, PrincipalID: a.PrincipalID}, Subject: a.Method + " " + a.Path, Protocol: a.Scheme}); err != nil {
		return err
	}
	if g.Policy == nil {
		return nil
	}
	return g.Policy.Allow(ctx, a)
}
