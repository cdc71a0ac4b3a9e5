# Sourced by test.sh: a throwaway PostgreSQL server for the test suite,
# listening only on 127.0.0.1 on a free port, data in a temp directory.
#   start_test_postgres  exports AUTHGATE_TEST_POSTGRES=postgres://...
#   stop_test_postgres   stops the server and removes its directory

_pg_bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/postgres" ] && { echo "$d"; return 0; }
	done
	echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
	return 1
}

_pg_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

start_test_postgres() {
	local bindir port runas=()
	bindir="$(_pg_bindir)" || return 1
	AUTHGATE_PG_DIR="$(mktemp -d /tmp/authgate-pg.XXXXXX)"
	export AUTHGATE_PG_DIR
	port="$(_pg_free_port)"
	# initdb refuses to run as root: run the server as the postgres user
	# (created by the Debian package) or as nobody-like fallback.
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
		chown postgres "$AUTHGATE_PG_DIR"
		runas=(runuser -u postgres --)
	fi
	"${runas[@]}" "$bindir/initdb" -D "$AUTHGATE_PG_DIR/data" -U authgate --auth=trust -E UTF8 --no-sync >"$AUTHGATE_PG_DIR/initdb.log" 2>&1 ||
		{ cat "$AUTHGATE_PG_DIR/initdb.log" >&2; return 1; }
	"${runas[@]}" "$bindir/pg_ctl" -D "$AUTHGATE_PG_DIR/data" -l "$AUTHGATE_PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$AUTHGATE_PG_DIR -c max_connections=300 -c fsync=on -c shared_buffers=128MB" \
		start >/dev/null || { cat "$AUTHGATE_PG_DIR/server.log" >&2; return 1; }
	export AUTHGATE_TEST_POSTGRES="postgres://authgate@127.0.0.1:$port/postgres?sslmode=disable"
	echo "test PostgreSQL on 127.0.0.1:$port ($AUTHGATE_PG_DIR)"
}

stop_test_postgres() {
	[ -n "${AUTHGATE_PG_DIR:-}" ] && [ -d "$AUTHGATE_PG_DIR/data" ] || return 0
	local bindir runas=()
	bindir="$(_pg_bindir)" || return 0
	[ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
	"${runas[@]}" "$bindir/pg_ctl" -D "$AUTHGATE_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$AUTHGATE_PG_DIR"
	unset AUTHGATE_PG_DIR
}
