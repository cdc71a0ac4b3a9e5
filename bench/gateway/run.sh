#!/usr/bin/env bash
# Benchmarks authgate's gateway and forward-auth modes with wrk on loopback,
# every proxy in front of the same small upstream (bench/oauth2/bare, "ok"):
#   upstream        the upstream itself (no proxy)
#   bare-proxy      a bare httputil.ReverseProxy (bench/gateway/proxy)
#   caddy-plain     Caddy's reverse_proxy, no authentication
#   gateway-bearer  authgate's gateway, OAuth2 bearer route
#   gateway-pop     authgate's gateway, TAAP Bearer + PoP route (a fresh
#                   RS256 PoP token per request, signed beforehand)
#   nginx-plain     nginx proxy_pass, no authentication
#   nginx-fwdauth   nginx auth_request + authgate /gateway/check (bearer),
#                   configured with docs/gateway.md's nginx snippet as it stands
# and what the forward-auth ratio can reach at all, with nginx's own cost of
# a check separated from authgate's (each the same snippet, only the check
# server differs):
#   nginx-check-return  the check location answers 204 itself (return 204):
#                       nginx's subrequest without a second upstream hop
#   nginx-check-noop    the check goes to a Go server that does no work
#                       (bench/gateway/nocheck: 200 with the headers of
#                       authgate's own answer, no body) on CPU 1: a check
#                       that costs CPU 0 nothing, so the ceiling of any
#                       forward-auth server beside this nginx
#   nginx-check-noop0   the same server on CPU 0 (GOMAXPROCS=1), as authgate
#                       runs in nginx-fwdauth: the ceiling of any Go net/http
#                       check server sharing nginx's core
#   nginx-fwdauth-cpu1  nginx-fwdauth with authgate moved to CPU 1 (beside wrk
#                       and the upstream) for the run: authgate on a core of
#                       its own, as a deployment would give it
#   nginx-fwdauth-cached  docs/gateway.md's "nginx with a check cache"
#                       snippet as it stands, in front of a second authgate
#                       on CPU 0 with gateway.forward_auth_cache_ttl: 1s (the
#                       others' authgate keeps it off): one token and one URI,
#                       so nearly every check is answered by nginx's cache
#                       (the best case; the number of checks authgate
#                       answered is printed below the table)
# then, at half of gateway-bearer's peak rate, the p99 latency of the
# upstream, the bare ReverseProxy, Caddy, plain nginx and the gateway: the
# gateway's p99 minus the upstream's is the latency it adds (the bare
# ReverseProxy's is what one Go proxy hop on the pinned core adds without
# authgate, plain nginx's what a proxy without a garbage collector adds). The load there is open loop with evenly spaced
# arrivals (bench/gateway/latency: request i due at start + i/rate,
# latency from that due time, as wrk2 does). hey -q, used before, gives
# each of its -c workers a ticker of its own, all started at once: the
# load came as bursts of 16 requests, which a proxy on one core serves one
# after the other, so p99 was the length of a burst (+6.4 ms for Caddy
# and authgate alike), not the latency a proxy adds.
#
# Beside each rate, the CPU time (user + system, from /proc) the process
# under test spent per request (nginx-fwdauth: nginx and authgate). Other
# processes on a shared machine take CPU 0 from the proxy under test and
# change its rate from run to run; they change its CPU per request much
# less, and the ratio of two CPU costs is the ratio of the rates the two
# would reach on a core of their own.
#
# plain nginx keeps as many idle connections to the upstream as the
# documented forward-auth snippet does (its "upstream api" keepalive), so
# both nginx scenarios are configured alike.
#
# Usage: bench/gateway/run.sh [--duration 5s] [--connections 64] [--reps 3] [--no-pin] [--only REGEX]
# --only runs the scenarios whose names match REGEX (anchored, e.g.
# 'nginx.*'); the latency phase runs when gateway-bearer does.
# With GWBENCH_RAW=DIR the per-repetition rows (results) and latency rows
# (latency.txt) are copied to DIR before the table is printed.
# On 2+ cores the proxy under test (and authgate beside nginx in
# nginx-fwdauth) runs on CPU 0 with GOMAXPROCS=1 / one nginx worker, and
# wrk and the upstream on CPU 1, so every proxy gets the same single core.
# Every scenario runs --reps times, interleaved; the table shows medians and
# the ratios are medians of the per-repetition ratios, so load from other
# processes on a shared machine cancels out as far as possible.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:/usr/sbin:$PATH"
DURATION=5s POP_SECS=2 CONNS=64 REPS=3 PIN=1 ONLY='.*'
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DURATION="$2"; shift 2 ;;
	--connections) CONNS="$2"; shift 2 ;;
	--reps) REPS="$2"; shift 2 ;;
	--no-pin) PIN=0; shift ;;
	--only) ONLY="$2"; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
[ "$(nproc)" -ge 2 ] || PIN=0
. scripts/deps.sh
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v caddy >/dev/null || need+=(caddy)
command -v nginx >/dev/null || need+=(nginx)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

WORK="$(mktemp -d /tmp/authgate-gwbench.XXXXXX)"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
go build -o "$WORK/authgate" ./cmd/authgate
go build -o "$WORK/bare" ./bench/oauth2/bare
go build -o "$WORK/proxy" ./bench/gateway/proxy
go build -o "$WORK/poptokens" ./bench/gateway/poptokens
go build -o "$WORK/latency" ./bench/gateway/latency
go build -o "$WORK/nocheck" ./bench/gateway/nocheck

# exec: run in the background, $! is then the server itself (not a
# subshell around it), which cleanup stops; every use is in a subshell
# (&, $(...)).
sut() { if [ "$PIN" = 1 ]; then GOMAXPROCS=1 exec taskset -c 0 "$@"; else exec "$@"; fi; }
load() { if [ "$PIN" = 1 ]; then exec taskset -c 1 "$@"; else exec "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { # url
	for _ in $(seq 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
	echo "not answering: $1" >&2
	exit 1
}

UP="127.0.0.1:$(free_port)"
load "$WORK/bare" -listen "$UP" &
PIDS+=($!)
UP_PID=$!
PROXY="127.0.0.1:$(free_port)"
sut "$WORK/proxy" -listen "$PROXY" -upstream "http://$UP" &
PIDS+=($!)
PROXY_PID=$!

CADDY="127.0.0.1:$(free_port)"
cat >"$WORK/Caddyfile" <<EOF
{
	admin off
	auto_https off
	default_bind 127.0.0.1
	storage file_system $WORK/caddy
	log {
		output discard
	}
}
http://:${CADDY#127.0.0.1:} {
	reverse_proxy $UP
}
EOF
HOME="$WORK" XDG_DATA_HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" sut caddy run --adapter caddyfile --config "$WORK/Caddyfile" >"$WORK/caddy.log" 2>&1 &
PIDS+=($!)
CADDY_PID=$!

# authgate: the gateway routes and forward-auth for nginx on this host.
AG="127.0.0.1:$(free_port)"
cat >"$WORK/authgate.yaml" <<EOF
trusted_proxies: [127.0.0.1/32]
access_log: false
log_level: warn
taap:
  enabled: true
gateway:
  enabled: true
  routes:
    - name: bench
      path_prefix: /bench
      schemes: [oauth2-bearer]
      upstreams: [http://$UP]
    - name: orders
      path_prefix: /orders
      schemes: [taap-pop]
      upstreams: [http://$UP]
EOF
# The same for nginx-fwdauth-cached, with the check cache on.
AGC="127.0.0.1:$(free_port)"
sed 's/^gateway:$/gateway:\n  forward_auth_cache_ttl: 1s/' "$WORK/authgate.yaml" >"$WORK/authgate-cached.yaml"
grep -q 'forward_auth_cache_ttl: 1s' "$WORK/authgate-cached.yaml" || { echo "no gateway section to put the cache TTL in" >&2; exit 1; }
agcli() { "$WORK/authgate" "$@" --config "$WORK/authgate.yaml" --data-dir "$WORK/ag"; }
sut "$WORK/authgate" serve --config "$WORK/authgate.yaml" --data-dir "$WORK/ag" --listen "$AG" >"$WORK/ag.out" 2>"$WORK/ag.err" &
PIDS+=($!)
AG_PID=$!
sut "$WORK/authgate" serve --config "$WORK/authgate-cached.yaml" --data-dir "$WORK/agc" --listen "$AGC" >"$WORK/agc.out" 2>"$WORK/agc.err" &
PIDS+=($!)
AGC_PID=$!
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
bearer_token() { # authgate address, its stdout: an access key's token
	local ag="$1" out="$2" admin_key admin_secret admin_token keyjson
	wait_http "http://$ag/healthz"
	for _ in $(seq 100); do grep -q "secret:" "$out" && break; sleep 0.05; done
	admin_key="$(awk '/key:/ {print $2}' "$out")"
	admin_secret="$(awk '/secret:/ {print $2}' "$out")"
	admin_token="$(curl -sf -d "grant_type=password&username=$admin_key&password=$admin_secret" "http://$ag/oauth/token" | json access_token)"
	keyjson="$(curl -sf -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' -d '{"Name":"bench"}' "http://$ag/accesskeys")"
	curl -sf -d "grant_type=password&username=$(json Key <<<"$keyjson")&password=$(json Secret <<<"$keyjson")" "http://$ag/oauth/token" | json access_token
}
TOKEN="$(bearer_token "$AG" "$WORK/ag.out")"
TOKEN_C="$(bearer_token "$AGC" "$WORK/agc.out")"
# A TAAP client and its access token (the token request carries a PoP too).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/pop.key" 2>/dev/null
openssl pkey -in "$WORK/pop.key" -pubout -out "$WORK/pop.pub"
CLIENT="$(agcli taap client create --name bench --public-key "$WORK/pop.pub")"
BASIC="Basic $(printf '%s:%s' "$(json client_id <<<"$CLIENT")" "$(json client_secret <<<"$CLIENT")" | base64 -w0)"
TPOP="$("$WORK/authgate" pop --key "$WORK/pop.key" --method POST --uri /oauth2/v6/tokens --header "Authorization: $BASIC")"
POP_AT="$(curl -sf -X POST -H "Authorization: $BASIC" -H "X-Authorization: $TPOP" "http://$AG/oauth2/v6/tokens" | json access_token)"

# The no-op check servers of the ceiling scenarios (on CPU 1 and on CPU 0)
# answer with the headers of authgate's own answer to the bearer's check.
curl -sf -o /dev/null -D "$WORK/check.raw" -H "X-Original-URI: /bench/" -H "X-Original-Method: GET" \
	-H "Authorization: Bearer $TOKEN" "http://$AG/gateway/check"
{ grep -i -E '^(x-authgate-|cache-control:)' "$WORK/check.raw" | tr -d '\r'; echo; } >"$WORK/check.headers"
[ "$(grep -c -i '^x-authgate-' "$WORK/check.headers")" = 5 ] || { echo "authgate's check answer lacks identity headers" >&2; cat "$WORK/check.raw" >&2; exit 1; }
CHK1="127.0.0.1:$(free_port)"
load "$WORK/nocheck" -listen "$CHK1" -headers "$WORK/check.headers" &
PIDS+=($!)
CHK1_PID=$!
CHK0="127.0.0.1:$(free_port)"
sut "$WORK/nocheck" -listen "$CHK0" -headers "$WORK/check.headers" &
PIDS+=($!)
CHK0_PID=$!

# nginx, plain and with docs/gateway.md's forward-auth snippet.
nginx_start() { # name, server blocks
	local dir="$WORK/$1"
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log error;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $dir/cb;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
$2
}
EOF
	sut nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" &
	PIDS+=($!)
	NGINX_PID=$!
}
SNIPPET="$(awk '/<!-- fronttest:nginx -->/ {on=1; next} on && /^```/ {if (started) exit; started=1; next} on && started' docs/gateway.md)"
[ -n "$SNIPPET" ] || { echo "no nginx snippet in docs/gateway.md" >&2; exit 1; }
API_KEEPALIVE="$(sed -n 's/^upstream api {.*keepalive \([0-9]*\);.*/\1/p' <<<"$SNIPPET")"
[ -n "$API_KEEPALIVE" ] || { echo "no keepalive in the snippet's upstream api" >&2; exit 1; }
NGINX_PLAIN="127.0.0.1:$(free_port)"
nginx_start nginx-plain "upstream api { server $UP; keepalive $API_KEEPALIVE; }
server {
	listen $NGINX_PLAIN;
	location / {
		proxy_pass http://api;
		proxy_http_version 1.1;
		proxy_set_header Connection \"\";
	}
}"
NGINX_PLAIN_PID=$NGINX_PID
NGINX_FWD="127.0.0.1:$(free_port)"
SNIPPET="${SNIPPET//127.0.0.1:9000/$UP}"
FWD_SNIPPET="${SNIPPET//127.0.0.1:8080/$AG}"
nginx_start nginx-fwdauth "${FWD_SNIPPET//listen 80;/listen $NGINX_FWD;}"
NGINX_FWD_PID=$NGINX_PID
# The ceiling scenarios: the same snippet, another check server.
NGINX_RET="127.0.0.1:$(free_port)"
RET_SNIPPET="$(perl -0pe 's{location = /_authgate_check \{.*?\n    \}}{location = /_authgate_check {\n        internal;\n        return 204;\n    }}s' <<<"$FWD_SNIPPET")"
grep -q 'return 204;' <<<"$RET_SNIPPET" || { echo "no check location in the snippet" >&2; exit 1; }
nginx_start nginx-check-return "${RET_SNIPPET//listen 80;/listen $NGINX_RET;}"
NGINX_RET_PID=$NGINX_PID
NGINX_NOOP1="127.0.0.1:$(free_port)"
NOOP1_SNIPPET="${SNIPPET//127.0.0.1:8080/$CHK1}"
nginx_start nginx-check-noop "${NOOP1_SNIPPET//listen 80;/listen $NGINX_NOOP1;}"
NGINX_NOOP1_PID=$NGINX_PID
NGINX_NOOP0="127.0.0.1:$(free_port)"
NOOP0_SNIPPET="${SNIPPET//127.0.0.1:8080/$CHK0}"
nginx_start nginx-check-noop0 "${NOOP0_SNIPPET//listen 80;/listen $NGINX_NOOP0;}"
NGINX_NOOP0_PID=$NGINX_PID
# The cached snippet, its cache in the scenario's directory.
CSNIPPET="$(awk '/<!-- fronttest:nginx-cache -->/ {on=1; next} on && /^```/ {if (started) exit; started=1; next} on && started' docs/gateway.md)"
grep -q 'proxy_cache_path /run/nginx-authgate-checks ' <<<"$CSNIPPET" || { echo "no nginx-cache snippet (with its proxy_cache_path) in docs/gateway.md" >&2; exit 1; }
NGINX_C="127.0.0.1:$(free_port)"
CSNIPPET="${CSNIPPET//127.0.0.1:9000/$UP}"
CSNIPPET="${CSNIPPET//127.0.0.1:8080/$AGC}"
CSNIPPET="${CSNIPPET//\/run\/nginx-authgate-checks/$WORK/nginx-fwdauth-cached/checks}"
nginx_start nginx-fwdauth-cached "${CSNIPPET//listen 80;/listen $NGINX_C;}"
NGINX_C_PID=$NGINX_PID
for u in "http://$UP/" "http://$CHK1/" "http://$CHK0/" "http://$PROXY/" "http://$CADDY/" "http://$NGINX_PLAIN/"; do wait_http "$u"; done
for u in "http://$NGINX_FWD/" "http://$NGINX_RET/" "http://$NGINX_NOOP1/" "http://$NGINX_NOOP0/" "http://$NGINX_C/"; do wait_http "$u"; done
for u in "http://$NGINX_RET/bench/" "http://$NGINX_NOOP1/bench/" "http://$NGINX_NOOP0/bench/"; do
	curl -sf "$u" >/dev/null || { echo "a ceiling scenario refuses: $u" >&2; exit 1; }
done
curl -sf -H "Authorization: Bearer $TOKEN" "http://$AG/bench/" >/dev/null || { echo "the gateway refuses the bearer" >&2; cat "$WORK/ag.err" >&2; exit 1; }
curl -sf -H "Authorization: Bearer $TOKEN" "http://$NGINX_FWD/bench/" >/dev/null || { echo "nginx forward-auth refuses the bearer" >&2; exit 1; }
curl -sf -H "Authorization: Bearer $TOKEN_C" "http://$NGINX_C/bench/" >/dev/null || { echo "nginx with the check cache refuses the bearer" >&2; exit 1; }
# checks authgate answered for the bench route (authgate_gateway_requests_total)
ag_checks() { curl -sf "http://$1/metrics" | awk '/^authgate_gateway_requests_total\{route="bench"\}/ {printf "%d", $2}'; }

RESULTS="$WORK/results"
: >"$RESULTS"
TICK="$(getconf CLK_TCK)"
cpu_ticks() { # pids...: user + system CPU ticks so far
	local t=0 p
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
want() { [[ "$1" =~ ^(${ONLY})$ ]]; }
# run: label, "pids", duration, wrk args...: appends "label rep rps p99
# cpu-us-per-request split", the CPU of pids (the processes on CPU 0); split
# is each process's CPU per request, named, for the processes in SPLIT
# ("name=pid ...", "-" when empty), which may include ones on CPU 1.
SPLIT=""
run() {
	local label="$1" pids="$2" dur="$3" out rps non before n split="" sb=() p i
	shift 3
	want "$label" || return 0
	# shellcheck disable=SC2086 # pids is a list
	before="$(cpu_ticks $pids)"
	for p in $SPLIT; do sb+=("$(cpu_ticks "${p#*=}")"); done
	out="$(load wrk -t1 -c"$CONNS" -d"$dur" --latency "$@")"
	# shellcheck disable=SC2086
	n="$(($(cpu_ticks $pids) - before))"
	i=0
	for p in $SPLIT; do
		split+="${split:+,}${p%%=*}:$(awk -v n="$(($(cpu_ticks "${p#*=}") - sb[i]))" -v t="$TICK" '/requests in/ {printf "%.1f", n * 1e6 / t / $1}' <<<"$out")"
		i=$((i + 1))
	done
	rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
	non="$(awk '/Non-2xx/ {print $4}' <<<"$out")"
	if [ -n "$non" ]; then
		echo "$label: $non non-2xx answers" >&2
		echo "$out" >&2
		exit 1
	fi
	echo "$label $rep $rps $(awk '/ 99%/ {print $2}' <<<"$out") $(awk -v n="$n" -v t="$TICK" '/requests in/ {printf "%.1f", n * 1e6 / t / $1}' <<<"$out") ${split:--}" >>"$RESULTS"
}
for rep in $(seq "$REPS"); do
	run upstream "$UP_PID" "$DURATION" "http://$UP/bench/"
	run bare-proxy "$PROXY_PID" "$DURATION" "http://$PROXY/bench/"
	run caddy-plain "$CADDY_PID" "$DURATION" "http://$CADDY/bench/"
	run gateway-bearer "$AG_PID" "$DURATION" -H "Authorization: Bearer $TOKEN" "http://$AG/bench/"
	# Enough single-use PoP tokens for the run at the fastest proxy rate of
	# this repetition (PoP costs the gateway more than a bearer, but the
	# load from other processes can fall between two scenarios).
	if want gateway-pop; then
		n="$(awk -v r="$rep" -v s="$POP_SECS" '$2 == r && $1 != "upstream" && $3 > m {m = $3} END {printf "%d", m * s * 2 + 2000}' "$RESULTS")"
		[ "$n" -gt 2000 ] || n=100000 # no proxy ran before it (--only)
		"$WORK/poptokens" -key "$WORK/pop.key" -n "$n" -authorization "Bearer $POP_AT" -uri /orders/ -method GET >"$WORK/pop.tokens"
	fi
	run gateway-pop "$AG_PID" "${POP_SECS}s" -s bench/gateway/pop.lua -H "Authorization: Bearer $POP_AT" "http://$AG/orders/" -- "$WORK/pop.tokens" 1
	run nginx-plain "$NGINX_PLAIN_PID" "$DURATION" "http://$NGINX_PLAIN/bench/"
	SPLIT="nginx=$NGINX_FWD_PID authgate=$AG_PID"
	run nginx-fwdauth "$NGINX_FWD_PID $AG_PID" "$DURATION" -H "Authorization: Bearer $TOKEN" "http://$NGINX_FWD/bench/"
	SPLIT="nginx=$NGINX_C_PID authgate=$AGC_PID"
	if want nginx-fwdauth-cached; then CHECKS_BEFORE="$(ag_checks "$AGC")"; fi
	run nginx-fwdauth-cached "$NGINX_C_PID $AGC_PID" "$DURATION" -H "Authorization: Bearer $TOKEN_C" "http://$NGINX_C/bench/"
	if want nginx-fwdauth-cached; then CHECKS_CACHED="${CHECKS_CACHED:-} $(($(ag_checks "$AGC") - CHECKS_BEFORE))"; fi
	SPLIT=""
	run nginx-check-return "$NGINX_RET_PID" "$DURATION" "http://$NGINX_RET/bench/"
	SPLIT="nginx=$NGINX_NOOP1_PID nocheck-cpu1=$CHK1_PID"
	run nginx-check-noop "$NGINX_NOOP1_PID" "$DURATION" "http://$NGINX_NOOP1/bench/"
	SPLIT="nginx=$NGINX_NOOP0_PID nocheck=$CHK0_PID"
	run nginx-check-noop0 "$NGINX_NOOP0_PID $CHK0_PID" "$DURATION" "http://$NGINX_NOOP0/bench/"
	# authgate to CPU 1 for this run only (every thread), then back.
	if want nginx-fwdauth-cpu1; then
		if [ "$PIN" = 1 ]; then taskset -apc 1 "$AG_PID" >/dev/null; fi
		SPLIT="nginx=$NGINX_FWD_PID authgate-cpu1=$AG_PID"
		run nginx-fwdauth-cpu1 "$NGINX_FWD_PID" "$DURATION" -H "Authorization: Bearer $TOKEN" "http://$NGINX_FWD/bench/"
		if [ "$PIN" = 1 ]; then taskset -apc 0 "$AG_PID" >/dev/null; fi
	fi
	SPLIT=""
done

# Latency at half of the gateway's peak: open loop, evenly spaced arrivals.
: >"$WORK/latency.txt"
PEAK=0 RATE=0
if want gateway-bearer; then
	PEAK="$(awk '$1 == "gateway-bearer" {print $3}' "$RESULTS" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
	RATE="$(awk -v p="$PEAK" 'BEGIN {printf "%d", p / 2}')"
	lat() { # label, latency args...: appends "label p99-ms p50-ms achieved-rate"
		local label="$1" out
		shift
		out="$(load "$WORK/latency" -rate "$RATE" -duration "$DURATION" -conns "$CONNS" "$@")"
		if [ "$(awk '{print $4}' <<<"$out")" != 0 ]; then
			echo "$label: failed requests at $RATE req/s: $out" >&2
			exit 1
		fi
		echo "$label $(awk '{print $12, $8, $6}' <<<"$out")" >>"$WORK/latency.txt"
	}
	for _ in $(seq "$REPS"); do
		lat upstream -url "http://$UP/bench/"
		lat bare-proxy -url "http://$PROXY/bench/"
		lat caddy-plain -url "http://$CADDY/bench/"
		lat nginx-plain -url "http://$NGINX_PLAIN/bench/"
		lat gateway-bearer -H "Authorization: Bearer $TOKEN" -url "http://$AG/bench/"
	done
fi

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); wrk -t1 -c$CONNS -d$DURATION (PoP ${POP_SECS}s), $REPS repetitions; pinned: $([ "$PIN" = 1 ] && echo "proxy under test on CPU 0 (GOMAXPROCS=1, 1 nginx worker), wrk + upstream on CPU 1" || echo no)"
[ -z "${CHECKS_CACHED:-}" ] || echo "nginx-fwdauth-cached: checks authgate answered per repetition (TTL 1s, $DURATION):$CHECKS_CACHED"
[ -z "${GWBENCH_RAW:-}" ] || cp "$RESULTS" "$WORK/latency.txt" "$GWBENCH_RAW"/
python3 - "$RESULTS" "$WORK/latency.txt" "$PEAK" "$RATE" <<'PY'
import statistics, sys
rows, cpu, reps, creps, splits = {}, {}, {}, {}, {}
for line in open(sys.argv[1]):
    label, rep, rps, p99, us, split = line.split()
    rows.setdefault(label, []).append(float(rps))
    cpu.setdefault(label, []).append(float(us))
    reps.setdefault(rep, {})[label] = float(rps)
    creps.setdefault(rep, {})[label] = float(us)
    if split != "-":
        for part in split.split(","):
            name, v = part.split(":")
            splits.setdefault(label, {}).setdefault(name, []).append(float(v))
print(f"{'scenario':<18} {'req/s (median)':>15} {'CPU us/request':>15} {'busy':>5}  split (CPU us/request per process)")
for label, rs in rows.items():
    sp = " ".join(f"{n} {statistics.median(v):.1f}" for n, v in splits.get(label, {}).items())
    busy = statistics.median(r * u / 1e4 for r, u in zip(rs, cpu[label]))
    print(f"{label:<18} {statistics.median(rs):>15.0f} {statistics.median(cpu[label]):>15.1f} {busy:>4.0f}%  {sp}")
def ratio(a, b):
    v = [100 * r[a] / r[b] for r in reps.values() if a in r and b in r]
    return f"{statistics.median(v):.0f}%" if v else "-"
def cratio(a, b): # b's CPU per request over a's: the throughput ratio on a core of their own
    v = [100 * r[b] / r[a] for r in creps.values() if a in r and b in r]
    return f"{statistics.median(v):.0f}%" if v else "-"
def row(a, b, target=""):
    if a in rows and b in rows:
        print(f"| {a} / {b} | {ratio(a, b)} | {cratio(a, b)} | {target} |")
print()
print("CPU us/request is the CPU time (user + system) the processes on CPU 0 spent per")
print("request (nginx-fwdauth, nginx-check-noop0: nginx and the check server together;")
print("nginx-check-noop, nginx-fwdauth-cpu1: nginx alone, the check server runs on CPU 1);")
print("its ratio is the throughput ratio the two would have on a core each had to")
print("itself, which a shared machine's load does not change as much as it changes")
print("the rates. nginx-check-noop / nginx-plain is the ceiling of any forward-auth")
print("server beside this nginx: nginx's own cost of the check subrequest.")
print("busy is the share of one core those processes used (req/s x CPU per request):")
print("well below 100%, the scenario's rate was set by wrk and the upstream on CPU 1")
print("(or the machine's other load), not by the process under test, and its rate")
print("ratio is not the ratio of what the two would serve on one core.")
print()
print("| ratio | median (req/s) | median (CPU per request) | target |")
print("|---|---|---|---|")
row('gateway-bearer', 'caddy-plain', '>= 90%')
row('gateway-bearer', 'bare-proxy')
row('gateway-pop', 'caddy-plain')
row('nginx-fwdauth', 'nginx-plain', '>= 60%')
row('nginx-fwdauth-cached', 'nginx-plain', '>= 60%')
row('nginx-check-return', 'nginx-plain')
row('nginx-check-noop', 'nginx-plain')
row('nginx-check-noop0', 'nginx-plain')
row('nginx-fwdauth-cpu1', 'nginx-plain')
row('nginx-fwdauth', 'nginx-check-noop0')
lat, p50 = {}, {}
for line in open(sys.argv[2]):
    label, p99, median, _ = line.split()
    lat.setdefault(label, []).append(float(p99))
    p50.setdefault(label, []).append(float(median))
if lat:
    med = {k: statistics.median(v) for k, v in lat.items()}
    m50 = {k: statistics.median(v) for k, v in p50.items()}
    print(f"| p99 (p50) at {sys.argv[4]} req/s, open loop (half the gateway's {float(sys.argv[3]):.0f}): upstream {med['upstream']:.2f} ({m50['upstream']:.2f}) ms, bare-proxy {med['bare-proxy']:.2f} ({m50['bare-proxy']:.2f}) ms, caddy-plain {med['caddy-plain']:.2f} ({m50['caddy-plain']:.2f}) ms, nginx-plain {med['nginx-plain']:.2f} ({m50['nginx-plain']:.2f}) ms, gateway-bearer {med['gateway-bearer']:.2f} ({m50['gateway-bearer']:.2f}) ms | gateway adds {med['gateway-bearer'] - med['upstream']:.2f} ms, a bare ReverseProxy {med['bare-proxy'] - med['upstream']:.2f} ms, Caddy {med['caddy-plain'] - med['upstream']:.2f} ms, plain nginx {med['nginx-plain'] - med['upstream']:.2f} ms | | < 1 ms |")
PY
