# Sourced by test.sh: a throwaway PostgreSQL server for the test suite,
# listening only on 127.0.0.1 on a free port (unix socket in its temp
# directory), data in that temp directory, trust authentication for the
# superuser "authgate" on loopback only.
#   start_test_postgres  exports AUTHGATE_TEST_POSTGRES=postgres://...
#                        (a second call while the server runs reuses it)
#   stop_test_postgres   stops the server and removes its directory
# Installs nothing: scripts/deps.sh installs the Debian postgresql package.

_pg_bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/postgres" ] && { echo "$d"; return 0; }
	done
	echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
	return 1
}

# _pg_run runs a server binary as the postgres user when we are root
# (initdb and postgres refuse to run as root), from a directory it can read.
_pg_run() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$AUTHGATE_PG_DIR" && runuser -u postgres -- "$@")
	else
		(cd "$AUTHGATE_PG_DIR" && "$@")
	fi
}

# _pg_candidate_port prints a port nothing listens on right now; the start
# loop retries if another process takes it first.
_pg_candidate_port() {
	local port
	for _ in $(seq 50); do
		port=$((20000 + RANDOM % 40000))
		# A successful connect means the port is taken.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

start_test_postgres() {
	local bindir port attempt
	bindir="$(_pg_bindir)" || return 1
	if [ -n "${AUTHGATE_PG_DIR:-}" ] && [ -n "${AUTHGATE_TEST_POSTGRES:-}" ] &&
		_pg_run "$bindir/pg_ctl" -D "$AUTHGATE_PG_DIR/data" status >/dev/null 2>&1; then
		echo "test PostgreSQL already running: $AUTHGATE_TEST_POSTGRES"
		return 0
	fi
	AUTHGATE_PG_DIR="$(mktemp -d /tmp/authgate-pg.XXXXXX)"
	export AUTHGATE_PG_DIR
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
		chown postgres "$AUTHGATE_PG_DIR"
	fi
	if ! _pg_run "$bindir/initdb" -D "$AUTHGATE_PG_DIR/data" -U authgate --auth=trust -E UTF8 --no-sync >"$AUTHGATE_PG_DIR/initdb.log" 2>&1; then
		cat "$AUTHGATE_PG_DIR/initdb.log" >&2
		rm -rf "$AUTHGATE_PG_DIR"
		unset AUTHGATE_PG_DIR
		return 1
	fi
	for attempt in 1 2 3 4 5; do
		port="$(_pg_candidate_port)" || break
		[ -f "$AUTHGATE_PG_DIR/server.log" ] && : >"$AUTHGATE_PG_DIR/server.log"
		if _pg_run "$bindir/pg_ctl" -D "$AUTHGATE_PG_DIR/data" -l "$AUTHGATE_PG_DIR/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$AUTHGATE_PG_DIR -c max_connections=300 -c shared_buffers=128MB" \
			start >/dev/null; then
			export AUTHGATE_TEST_POSTGRES="postgres://authgate@127.0.0.1:$port/postgres?sslmode=disable"
			echo "test PostgreSQL on 127.0.0.1:$port ($AUTHGATE_PG_DIR)"
			return 0
		fi
		# Lost a race for the port: try another; any other failure is fatal.
		grep -q "in use" "$AUTHGATE_PG_DIR/server.log" 2>/dev/null || break
		echo "port $port taken (attempt $attempt), retrying" >&2
	done
	cat "$AUTHGATE_PG_DIR/server.log" >&2 2>/dev/null
	rm -rf "$AUTHGATE_PG_DIR"
	unset AUTHGATE_PG_DIR
	return 1
}

stop_test_postgres() {
	[ -n "${AUTHGATE_PG_DIR:-}" ] && [ -d "$AUTHGATE_PG_DIR/data" ] || return 0
	local bindir
	if bindir="$(_pg_bindir)"; then
		_pg_run "$bindir/pg_ctl" -D "$AUTHGATE_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$AUTHGATE_PG_DIR"
	unset AUTHGATE_PG_DIR AUTHGATE_TEST_POSTGRES
}
