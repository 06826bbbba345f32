#!/usr/bin/env bash
# `make run`: a local Postgres with Plinth on a project-local data directory.
#   scripts/run.sh start   create the data directory on first use, start the
#                          server, open psql (later runs reuse the data)
#   scripts/run.sh stop    stop it
#   scripts/run.sh psql    connect again
# PLINTH_PORT (default 5499) picks the port.
source "$(dirname "$0")/common.sh"

state=$(state_dir)
data="$state/data"
port=${PLINTH_PORT:-5499}
log="$state/server.log"

pgctl() { as_server_user "$PG_BINDIR/pg_ctl" -D "$data" "$@"; }
psql_to() { "$PG_BINDIR/psql" -X -h "$state" -p "$port" -U "$PLINTH_USER" "$@"; }

init() {
	echo "creating the data directory $data"
	as_server_user "$PG_BINDIR/initdb" -D "$data" --auth=trust -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" \
		|| { cat "$state/initdb.log"; exit 1; }
	cat >>"$data/postgresql.conf" <<CONF

# --- Plinth (scripts/run.sh) ---
shared_preload_libraries = 'plinth'
default_table_access_method = 'plinth'
# This server's store is its own (make cluster shares one): GIN, GiST and
# the other local-file indexes may index Plinth tables.
plinth.single_server = on
port = $port
listen_addresses = 'localhost'
unix_socket_directories = '$state'
CONF
}

running() { pgctl status >/dev/null 2>&1; }

case "${1:-start}" in
start)
	[ -f "$data/PG_VERSION" ] || { init; fresh=1; }
	if ! running; then
		pgctl -l "$log" -w start >/dev/null || { tail -20 "$log"; exit 1; }
	fi
	if [ "${fresh:-0}" = 1 ]; then
		# In template1 too, so that every new database has the extension.
		for db in template1 postgres; do
			psql_to -q -d "$db" -c "CREATE EXTENSION IF NOT EXISTS plinth" >/dev/null
		done
	fi
	echo "Plinth $(psql_to -d postgres -Atc 'SELECT plinth_version()') on port $port; data in $data"
	echo "stop it with: make stop"
	exec "$PG_BINDIR/psql" -h "$state" -p "$port" -U "$PLINTH_USER" -d postgres
	;;
psql)
	exec "$PG_BINDIR/psql" -h "$state" -p "$port" -U "$PLINTH_USER" -d postgres
	;;
stop)
	if [ -f "$data/PG_VERSION" ] && running; then pgctl -w stop -m fast; else echo "not running"; fi
	;;
*)
	echo "usage: $0 start|stop|psql" >&2; exit 2
	;;
esac
