#!/usr/bin/env bash
# Produces the README "Scale-out" table: 1, 2 and 3 `authgate serve`
# processes on one throwaway PostgreSQL (scripts/postgres.sh: loopback,
# temp dir), load round-robin over the nodes per scheme (bench/scaleout).
# On this 2-core machine PostgreSQL (the postmaster and every backend it
# forks) is pinned to CPU 0 and every node to CPU 1; the load generator is
# not pinned and shares both, so besides req/s the table gives CPU per
# request (database, nodes, load generator, from /proc) and the req/s the
# cluster would reach with a core per node and one for the database.
# Usage: bench/scaleout.sh [-nodes 1,2,3] [-duration 4s] [-concurrency 48] [-schemes ...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed" >&2; exit 1; }
OUT=bench/results/scaleout
BIN="$(mktemp -d /tmp/authgate-scaleout-bin.XXXXXX)"
cleanup() {
	stop_test_postgres >/dev/null 2>&1 || true
	rm -rf "$BIN"
}
trap cleanup EXIT
go build -o "$BIN/authgate" ./cmd/authgate
go build -o "$BIN/scaleout" ./bench/scaleout
# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
start_test_postgres >&2
PGPID="$(head -1 "$AUTHGATE_PG_DIR/data/postmaster.pid")"
NCPU="$(nproc)"
PGCPU=0 NODECPU=$((NCPU > 1 ? 1 : 0))
# Backends forked from now on inherit the postmaster's affinity.
taskset -a -cp "$PGCPU" "$PGPID" >/dev/null
for p in $(pgrep -P "$PGPID"); do taskset -a -cp "$PGCPU" "$p" >/dev/null || true; done
"$BIN/scaleout" -db "$AUTHGATE_TEST_POSTGRES" -bin "$BIN/authgate" -pgdata "$AUTHGATE_PG_DIR/data" \
	-node-cpus "$NODECPU" -out "$OUT" "$@"
{
	echo "Produced by \`bench/scaleout.sh $*\` on $(date -u +%Y-%m-%d): PostgreSQL pinned to CPU $PGCPU, nodes to CPU $NODECPU, load generator unpinned."
	echo
	echo '```'
	cat "$OUT/table.txt"
	echo '```'
} >"$OUT/README-table.md"
echo "wrote $OUT/README-table.md" >&2
