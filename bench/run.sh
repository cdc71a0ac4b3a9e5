#!/usr/bin/env bash
# Produces the README "Benchmarks" table: runs `authgate bench` on SQLite
# and on a throwaway PostgreSQL (scripts/postgres.sh, loopback, temp dir),
# and writes table.txt, results.json and throughput.svg per backend under
# bench/results/<backend>/, then bench/results/README-table.md (what the
# README shows). Extra arguments go to `authgate bench`
# (e.g. --duration 5s --concurrency 1,8,32).
# Usage: bench/run.sh [--sqlite-only] [authgate bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
PG=1
if [ "${1:-}" = "--sqlite-only" ]; then PG=0; shift; fi
OUT=bench/results
mkdir -p "$OUT"
BIN="$(mktemp -d /tmp/authgate-bench-bin.XXXXXX)"
cleanup() {
	[ "$PG" = 1 ] && stop_test_postgres >/dev/null 2>&1 || true
	rm -rf "$BIN"
}
trap cleanup EXIT
go build -o "$BIN/authgate" ./cmd/authgate

echo "== SQLite" >&2
"$BIN/authgate" bench --out "$OUT/sqlite" "$@"
if [ "$PG" = 1 ]; then
	# shellcheck source=scripts/postgres.sh
	. scripts/postgres.sh
	start_test_postgres >&2
	echo "== PostgreSQL" >&2
	"$BIN/authgate" bench --db "$AUTHGATE_TEST_POSTGRES" --out "$OUT/postgresql" "$@"
fi

{
	echo "Produced by \`bench/run.sh\` on $(date -u +%Y-%m-%d)."
	for b in sqlite postgresql; do
		[ -f "$OUT/$b/table.txt" ] || continue
		echo
		echo '```'
		cat "$OUT/$b/table.txt"
		echo '```'
	done
} >"$OUT/README-table.md"
echo "wrote $OUT/README-table.md" >&2
