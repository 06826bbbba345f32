# Shared by the scripts: where things are and who runs the server.
# Sourced, not executed.
set -euo pipefail

PLINTH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="/opt/swift/usr/bin:$PATH"
PG_CONFIG=${PG_CONFIG:-pg_config}
PG_BINDIR=$($PG_CONFIG --bindir)
PG_PKGLIBDIR=$($PG_CONFIG --pkglibdir)
PG_REGRESS="$PG_PKGLIBDIR/pgxs/src/test/regress/pg_regress"
PG_ISOLATION_REGRESS="$PG_PKGLIBDIR/pgxs/src/test/isolation/pg_isolation_regress"

# Run something with root rights: directly as root, through sudo otherwise.
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Postgres refuses to run as root. As root we run it as an unprivileged
# user: "postgres" (created by Debian's postgresql package) or "plinth".
server_user() {
	if [ "$(id -u)" != 0 ]; then id -un; return; fi
	if id postgres >/dev/null 2>&1; then echo postgres; return; fi
	id plinth >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin plinth
	echo plinth
}
PLINTH_USER=$(server_user)

# Every path handed to it is absolute; it runs from / because the server
# user may not be allowed into root's working directory (Postgres's tools
# then complain that they cannot change back to it).
as_server_user() {
	if [ "$(id -u)" = 0 ]; then runuser -u "$PLINTH_USER" -- env -C / "$@"; else "$@"; fi
}

# The project-local state directory (data directory, sockets, logs, test
# output): .plinth in the clone. When the server user cannot reach the clone
# (root's clone under /root, say), the state lives in /var/tmp and .plinth
# is a symbolic link to it, so it is still found from the project.
state_dir() {
	local link="$PLINTH_ROOT/.plinth"
	if [ "$(id -u)" != 0 ]; then mkdir -p "$link"; echo "$link"; return; fi
	if [ -L "$link" ]; then
		local target; target=$(readlink "$link")
		mkdir -p "$target"; chown "$PLINTH_USER": "$target"; echo "$target"; return
	fi
	if runuser -u "$PLINTH_USER" -- test -x "$PLINTH_ROOT" 2>/dev/null; then
		mkdir -p "$link"; chown "$PLINTH_USER": "$link"; echo "$link"; return
	fi
	local target="/var/tmp/plinth-$(printf %s "$PLINTH_ROOT" | md5sum | cut -c1-10)"
	mkdir -p "$target"; chown "$PLINTH_USER": "$target"; chmod 700 "$target"
	rm -rf "$link"; ln -s "$target" "$link"
	echo "$target"
}

# A server of its own for a report script (upstream.sh, orm.sh): initdb in
# $1/data, reached on socket directory $1 and port $2 only, Plinth preloaded
# with its store in $1/store and plinth.single_server on (GIN, GiST, BRIN
# and hash indexes stay allowed), tables defaulting to access method $3.
# The caller's own settings follow on standard input.
init_report_server() {
	local dir=$1 port=$2 am=$3
	as_server_user "$PG_BINDIR/initdb" -D "$dir/data" -U "$PLINTH_USER" --no-sync >"$dir/initdb.log" 2>&1
	{
		cat <<-EOF
		port = $port
		listen_addresses = ''
		unix_socket_directories = '$dir'
		shared_preload_libraries = 'plinth'
		plinth.data_directory = '$dir/store'
		plinth.single_server = on
		default_table_access_method = '$am'
		EOF
		cat
	} >>"$dir/data/postgresql.conf"
}
