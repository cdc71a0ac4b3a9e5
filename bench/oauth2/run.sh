#!/usr/bin/env bash
# Load-tests authgate's device-server OAuth2 endpoints with wrk on loopback,
# next to a bare net/http handler in the same run, and prints requests/s and
# the ratio to bare:
#   bare           GET  /            bare net/http "ok" handler
#   anonymous      GET  /            authgate entry point, no token (handler chain only)
#   bearer         GET  /            authgate entry point with a Bearer token (token check, no DB)
#   password grant POST /oauth/token  tokens issued per second (SQLite; PostgreSQL with --postgres)
# Usage: bench/oauth2/run.sh [--duration 5s] [--connections 64] [--reps 3] [--postgres]
# Each scheme runs right after a run of the bare handler, --reps times; the
# table shows medians, and the ratio is the median of the per-pair ratios,
# so load from other processes on a shared machine cancels out as far as
# possible. The server runs with log level warn (no per-request access
# log). The load generator shares the machine's cores with the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
DURATION=5s CONNS=64 PG=0 REPS=3
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DURATION="$2"; shift 2 ;;
	--connections) CONNS="$2"; shift 2 ;;
	--postgres) PG=1; shift ;;
	--reps) REPS="$2"; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
command -v wrk >/dev/null || { . scripts/deps.sh; apt_install wrk; }

WORK="$(mktemp -d /tmp/authgate-bench.XXXXXX)"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ "$PG" = 1 ] && stop_test_postgres >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
go build -o "$WORK/authgate" ./cmd/authgate
go build -o "$WORK/bare" ./bench/oauth2/bare

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

BARE_PORT="$(free_port)"
"$WORK/bare" -listen "127.0.0.1:$BARE_PORT" &
PIDS+=($!)

start_authgate() { # $1 = name, rest = extra flags; sets AG_URL, AG_KEY, AG_SECRET
	local name="$1" port
	shift
	port="$(free_port)"
	"$WORK/authgate" serve --listen "127.0.0.1:$port" --data-dir "$WORK/$name" --log-level warn "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	for _ in $(seq 100); do
		grep -q "secret:" "$WORK/$name.out" 2>/dev/null && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	AG_URL="http://127.0.0.1:$port"
	AG_KEY="$(awk '/key:/ {print $2}' "$WORK/$name.out")"
	AG_SECRET="$(awk '/secret:/ {print $2}' "$WORK/$name.out")"
	[ -n "$AG_KEY" ] || { cat "$WORK/$name.err" >&2; exit 1; }
	export AG_KEY AG_SECRET
}

rate() { # wrk output -> requests/s
	awk '/Requests\/sec/ {print $2}'
}
run() { # label, wrk args...
	local label="$1" out
	shift
	out="$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$@")"
	if grep -q "Non-2xx" <<<"$out" || grep -q "non-200: [1-9]" <<<"$out"; then
		echo "$label: errors" >&2
		echo "$out" >&2
		exit 1
	fi
	printf '%s %s %s\n' "$label" "$(rate <<<"$out")" "$(awk '/ 99%/ {print $2}' <<<"$out")"
}
pair() { # label, wrk args...: bare run, then the scheme; appends "label rps p99 bare_rps"
	local label="$1" bare
	shift
	bare="$(run bare "http://127.0.0.1:$BARE_PORT/" | cut -d' ' -f2)"
	echo "$(run "$label" "$@") $bare" >>"$RESULTS"
}

RESULTS="$WORK/results"
: >"$RESULTS"
bench_backend() { # name
	local name="$1" token
	token="$(curl -sf -X POST -d "grant_type=password&username=$AG_KEY&password=$AG_SECRET" "$AG_URL/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
	for _ in $(seq "$REPS"); do
		pair "anonymous-entry($name)" "$AG_URL/"
		pair "bearer-entry($name)" -H "Authorization: Bearer $token" "$AG_URL/"
		pair "password-grant($name)" -s bench/oauth2/token.lua "$AG_URL/oauth/token"
	done
}

start_authgate sqlite
bench_backend sqlite
if [ "$PG" = 1 ]; then
	. scripts/postgres.sh
	start_test_postgres >/dev/null
	start_authgate postgres --db "$AUTHGATE_TEST_POSTGRES"
	bench_backend postgres
fi

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c$CONNS -d$DURATION, $REPS pairs per scheme"
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, rps, p99, bare = line.split()
    rows.setdefault(label, []).append((float(rps), p99, float(bare)))
print(f"{'scheme':<28} {'req/s':>10} {'bare req/s':>11} {'vs bare':>8}  p99 (last)")
for label, rs in rows.items():
    med = statistics.median(r[0] for r in rs)
    bare = statistics.median(r[2] for r in rs)
    ratio = statistics.median(100 * r[0] / r[2] for r in rs)
    print(f"{label:<28} {med:>10.0f} {bare:>11.0f} {ratio:>7.1f}%  {rs[-1][1]}")
PY
