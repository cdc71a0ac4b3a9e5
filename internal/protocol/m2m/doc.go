// Package m2m serves the Deutsche Telekom M2M Connectivity API style
// platform services: M2MAdm (SIMActivation, SIMDeactivation, SIMSuspend,
// SIMResume, SIMTariffChange; asynchronous, answered at once with a
// MessageResponse and completed later by a signed M2MAdmResponse to the
// partner's M2MAdmCl) and M2MMon (SIMUsageGet and SIMStateGet;
// synchronous). Every message in both directions is a SOAP 1.1 envelope
// signed with WS-Security (package wssec); every request carries the
// partner's M2MApiKey.
//
// The test-and-approval (TA) and production (PE) environments are separate
// listeners with separate TLS certificates, signing keys, trust anchors,
// partners, API keys and outboxes; the configuration refuses to share any
// of them. SIM records and M2M requests are core documents, and the work
// that follows a request (the state change, the callback, the network-state
// notification and its single re-send) is a core job, so a restart loses
// nothing.
package m2m
