#!/usr/bin/env bash
# Produces the README "Benchmarks" tables: runs `authgate bench` on SQLite
# and on a throwaway PostgreSQL (scripts/postgres.sh, loopback, temp dir;
# each run gets a new database), alternating the backends run by run
# (--repeat N times each, default 3) so that load from other processes on a
# shared machine falls on both alike. Each run writes table.txt,
# results.json and throughput.svg under bench/results/<backend>/run-<i>/;
# bench/median prints the medians with PostgreSQL's share of SQLite per
# scheme into bench/results/README-table.md (what the README shows), after
# the last run's full tables. Extra arguments go to `authgate bench`
# (e.g. --duration 5s --concurrency 1,8,32 --schemes tpv,pop).
# Usage: bench/run.sh [--sqlite-only] [--repeat N] [authgate bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
PG=1 REPEAT=3 ARGS="$*"
while [ $# -gt 0 ]; do
	case "$1" in
	--sqlite-only) PG=0; shift ;;
	--repeat) REPEAT="$2"; shift 2 ;;
	*) break ;;
	esac
done
case "$REPEAT" in '' | *[!0-9]* | 0) echo "--repeat needs a positive number" >&2; exit 2 ;; esac
[ "$REPEAT" -le 20 ] || { echo "--repeat at most 20" >&2; exit 2; }
OUT=bench/results
rm -rf "$OUT/sqlite" "$OUT/postgresql"
mkdir -p "$OUT"
BIN="$(mktemp -d /tmp/authgate-bench-bin.XXXXXX)"
cleanup() {
	[ "$PG" = 1 ] && stop_test_postgres >/dev/null 2>&1 || true
	rm -rf "$BIN"
}
trap cleanup EXIT
go build -o "$BIN/authgate" ./cmd/authgate
go build -o "$BIN/median" ./bench/median
if [ "$PG" = 1 ]; then
	# shellcheck source=scripts/postgres.sh
	. scripts/postgres.sh
	start_test_postgres >&2
fi

for i in $(seq "$REPEAT"); do
	echo "== SQLite, run $i of $REPEAT" >&2
	"$BIN/authgate" bench --out "$OUT/sqlite/run-$i" "$@" >/dev/null
	if [ "$PG" = 1 ]; then
		echo "== PostgreSQL, run $i of $REPEAT" >&2
		psql -q "$AUTHGATE_TEST_POSTGRES" -c "CREATE DATABASE bench_$i" >/dev/null
		"$BIN/authgate" bench --db "${AUTHGATE_TEST_POSTGRES/\/postgres\?//bench_$i?}" --out "$OUT/postgresql/run-$i" "$@" >/dev/null
	fi
done

{
	echo "Produced by \`bench/run.sh $ARGS\` on $(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	if [ "$PG" = 1 ]; then
		echo
		echo '```'
		"$BIN/median" "$OUT"
		echo '```'
	fi
	echo
	echo "The last run's tables:"
	for b in sqlite postgresql; do
		[ -f "$OUT/$b/run-$REPEAT/table.txt" ] || continue
		echo
		echo '```'
		cat "$OUT/$b/run-$REPEAT/table.txt"
		echo '```'
	done
} >"$OUT/README-table.md"
cat "$OUT/README-table.md"
echo "wrote $OUT/README-table.md" >&2
