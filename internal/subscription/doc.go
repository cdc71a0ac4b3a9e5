// Package subscription governs which organisations and clients may call
// which of authgate's protected API routes, and how often.
//
// An API resource is a named set of routes (path prefixes and methods)
// with the authentication schemes it accepts. An organisation, or one
// principal (client) of it, subscribes to a resource, optionally under a
// plan: a request rate (requests per rate period) and a quota (requests
// per quota period). Resources, plans and subscriptions are core
// documents; the admin HTTP API (Module) and `authgate subscription`
// manage them.
//
// Every protocol adapter calls Service.Allow once per request, after it
// has authenticated the caller, with a core.Access naming the caller and
// the route. Allow answers with typed core errors the adapter maps once
// in its own error shape: KindForbidden when the caller is not subscribed
// (the reason names the resource), KindRateLimited over the rate and
// KindQuotaExceeded over the quota, both with Error.RetryAfter set to the
// end of the window (the quota's reset time is also in the reason).
//
// Counters live in the shared core.CounterStore and are taken with one
// atomic increment per limit before a request is admitted, so N nodes on
// one PostgreSQL admit at most the limit per window, not N times it.
// Windows are fixed and aligned to the Unix epoch (a 24h quota resets at
// 00:00 UTC). A node that has seen a subscription over its quota refuses
// it locally until the window ends; that cache only ever refuses.
//
// Resource, plan and subscription definitions are cached per node for
// cache_max_age (default 1 s): a change made on another node or with the
// CLI applies within that time, changes through this node at once.
package subscription
