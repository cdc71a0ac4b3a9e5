// Package telemetry turns what the core observes into Prometheus metrics:
// authentication outcomes per family, scheme and reason, tokens issued
// and revoked, replays refused, limiter refusals, the expiry of every
// served and CA certificate, store latency and pool use, and the depth
// of the outbox. Every metric goes to the server's one registry; names
// and units follow the Prometheus conventions (a test lints them).
package telemetry
