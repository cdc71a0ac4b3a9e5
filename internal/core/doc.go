// Package core holds authgate's protocol-neutral domain: organisations,
// principals, credentials, tokens, the replay cache, the audit log and the
// failed-authentication limiter (Guard) every adapter checks secrets under, the
// storage interfaces they need, typed errors, and the injected clock.
//
// Protocol adapters (internal/protocol/...) import core and translate their
// wire formats to and from it; core never imports an adapter.
package core
