// Package cluster holds authgate's multi-node and fault tests: several
// stateless nodes on one PostgreSQL database behind a round-robin client
// (single use of signatures cluster-wide, the revocation propagation bound,
// failure limits shared by all nodes), a node killed with SIGKILL under
// load, PostgreSQL restarted under load, a full or read-only SQLite file,
// and overload answered with 503 + Retry-After.
//
// The short variants run in ./test.sh; AUTHGATE_LONG_TESTS=1 runs the long
// ones (more requests, longer outages).
package cluster
