// Package adminapi is authgate's admin API under /admin on the main
// listener, and the contract every module declares its admin routes with:
// a Route is a method, a path, the privilege action it authorizes, the Go
// types of its body and answer, and a handler calling the module's own
// operations (the ones the CLI calls too). New puts every group's routes
// on one mount, which authenticates the caller (an access token, or the
// console's session through Sessions), bounds and decodes the JSON body,
// answers the result or maps the error once (httpapi.WriteAdminError),
// and serves the OpenAPI document generated from the same routes at
// /admin/openapi.json.
//
// The package is neutral: it imports the core and the HTTP plumbing,
// never an adapter. It also holds the routes of the core's own records
// (organisations, principals, credentials, the audit log) over the core's
// operations.
package adminapi
