// Package httpapi is authgate's HTTP plumbing shared by every protocol
// adapter: the handler chain (panic recovery, request ids, access log
// without secrets, metrics, body limits, overload shedding listener-wide
// and per client address, body read deadlines), health and readiness
// endpoints, JSON helpers, client-address resolution behind trusted
// proxies, and the server with graceful shutdown and a per-address
// connection cap.
//
// Adapters register their routes on the ServeMux through Module; they map
// core errors to their own protocol's error shape themselves.
package httpapi
