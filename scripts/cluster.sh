#!/usr/bin/env bash
# `make cluster N=3`: N local Postgres servers with Plinth on one store —
# one database seen from every server (docs/design.md, "Several servers,
# one store"). On the embedded store by default; on FoundationDB when
# PLINTH_FDB_CLUSTER_FILE names a cluster file.
#   scripts/cluster.sh start [N]   create (first use) and start servers 1..N
#   scripts/cluster.sh stop        stop every server of the cluster
# Server i listens on port PLINTH_CLUSTER_PORT+i (default 5510+i); its
# socket, data directory and log are under .plinth/cluster/server<i>.
source "$(dirname "$0")/common.sh"

state=$(state_dir)
base="$state/cluster"
first_port=${PLINTH_CLUSTER_PORT:-5510}

pgctl() { as_server_user "$PG_BINDIR/pg_ctl" -D "$1/data" "${@:2}"; }

init_server() {
	local dir=$1 port=$2
	as_server_user mkdir -p "$dir"
	as_server_user "$PG_BINDIR/initdb" -D "$dir/data" --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" \
		|| { cat "$dir/initdb.log"; exit 1; }
	local store="plinth.data_directory = '$base/store'"
	[ -n "${PLINTH_FDB_CLUSTER_FILE:-}" ] && store="plinth.cluster_file = '$PLINTH_FDB_CLUSTER_FILE'"
	cat >>"$dir/data/postgresql.conf" <<CONF

# --- Plinth cluster (scripts/cluster.sh) ---
shared_preload_libraries = 'plinth'
default_table_access_method = 'plinth'
$store
port = $port
listen_addresses = 'localhost'
unix_socket_directories = '$dir'
CONF
}

case "${1:-start}" in
start)
	n=${2:-3}
	as_server_user mkdir -p "$base"
	for i in $(seq 1 "$n"); do
		dir="$base/server$i" port=$((first_port + i))
		fresh=0
		[ -f "$dir/data/PG_VERSION" ] || { init_server "$dir" "$port"; fresh=1; }
		pgctl "$dir" status >/dev/null 2>&1 || pgctl "$dir" -l "$dir/server.log" -w start >/dev/null \
			|| { tail -20 "$dir/server.log"; exit 1; }
		if [ "$fresh" = 1 ]; then
			# A server joining others gets the extension from their schema
			# (its worker creates it), maybe while this runs: then it is there.
			for db in template1 postgres; do
				for try in $(seq 1 50); do
					err=$("$PG_BINDIR/psql" -X -q -h "$dir" -p "$port" -U "$PLINTH_USER" -d "$db" \
						-c "CREATE EXTENSION IF NOT EXISTS plinth" 2>&1 >/dev/null) && break
					case "$err" in *"already exists"*) break ;; esac
					[ "$try" = 50 ] && { echo "$err" >&2; exit 1; }
					sleep 0.2
				done
			done
		fi
		echo "server $i: psql -h $dir -p $port -U $PLINTH_USER postgres"
	done
	echo "stop them with: make cluster-stop"
	;;
stop)
	for dir in "$base"/server*; do
		[ -f "$dir/data/PG_VERSION" ] && pgctl "$dir" status >/dev/null 2>&1 && pgctl "$dir" -w stop -m fast >/dev/null
		echo "stopped $(basename "$dir")"
	done
	;;
*)
	echo "usage: $0 start [N] | stop" >&2; exit 2
	;;
esac
