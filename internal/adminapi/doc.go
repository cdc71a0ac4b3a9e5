// Package adminapi is the HTTP admin API of the core's own records, under
// /admin on the main listener: today the audit log (GET /admin/audit),
// paged with a cursor and filtered as `authgate admin audit` filters it.
// Callers authenticate with an access token (core.BearerAuth); the
// privilege table decides how far they see: an admin every organisation,
// an owner its own.
package adminapi
