#!/usr/bin/env bash
# `make upstream`: Postgres's own regression suite (src/test/regress, the
# parallel schedule) and isolation suite (src/test/isolation) on two servers
# side by side — one whose tables default to heap, one whose tables default
# to Plinth — and, test by test, where their outputs differ. Both load Plinth, so what differs is the table
# access method, not the extension's presence; the heap run's differences
# from Postgres's expected output are listed as well (what loading Plinth
# changes for heap users).
#
# The suite comes from Debian's source package of the installed major
# version (apt-get source, through a source list of its own: the system's
# apt configuration is not changed), kept in the state directory.
# Not part of `make test`: most differences are plans (no parallel scans,
# other costs) and row orders, which a test cannot tell from errors; the
# report sorts them (docs/testing.md, "Postgres's own suite").
source "$(dirname "$0")/common.sh"
cd "$PLINTH_ROOT"
export LC_ALL=C.UTF-8

state=$(state_dir)
work="$state/upstream"
major=$($PG_CONFIG --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
mkdir -p "$work"

# The source of postgresql-$major: the installed version if Debian still
# serves it, else the newest of the major version it does.
fetch_source() {
	local src="$work/src"
	if [ -d "$src/src/test/regress/sql" ] && [ -d "$src/src/test/isolation/specs" ]; then return; fi
	local apt="$work/apt"
	rm -rf "$apt"; mkdir -p "$apt/lists/partial" "$work/download"
	local suites
	suites=$(sed -n 's/^Suites: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	cat >"$apt/src.sources" <<-EOF
	Types: deb-src
	URIs: http://deb.debian.org/debian
	Suites: ${suites:-bookworm bookworm-updates}
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	local opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt" -o Dir::State::Lists="$apt/lists"
		-o APT::Sandbox::User=root)
	as_root apt-get "${opts[@]}" update >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; exit 1; }
	local installed v got=
	installed=$(dpkg-query -W -f='${Version}' "postgresql-$major" 2>/dev/null || true)
	for v in "$installed" $(apt-cache "${opts[@]}" showsrc "postgresql-$major" | sed -n 's/^Version: //p' | sort -rV); do
		[ -n "$v" ] || continue
		if (cd "$work/download" && as_root apt-get "${opts[@]}" source --download-only "postgresql-$major=$v" \
			>>"$work/apt.log" 2>&1); then got=$v; break; fi
	done
	[ -n "$got" ] || { echo "no source package of postgresql-$major could be downloaded"; cat "$work/apt.log"; exit 1; }
	echo "== Postgres's regression suite from postgresql-$major $got (Debian source)"
	rm -rf "$src"; mkdir -p "$src"
	tar -xf "$work"/download/postgresql-"$major"_*.orig.tar.* -C "$src" --strip-components=1 \
		--wildcards '*/src/test/regress/*' '*/src/test/isolation/*'
	# The suite's C functions (regress.so), against the installed server.
	local cc=${CC:-cc}
	command -v "$cc" >/dev/null || cc=/opt/swift/usr/bin/clang
	"$cc" -O2 -fPIC -shared -I"$($PG_CONFIG --includedir-server)" "$src/src/test/regress/regress.c" \
		-o "$src/src/test/regress/regress.so"
}

# One server: name, port, its setting of default_table_access_method.
run_suite() {
	local name=$1 port=$2 am=$3 dir="$work/$1"
	local regress="$work/src/src/test/regress"
	rm -rf "$dir"; mkdir -p "$dir/out" "$dir/isolation"
	[ "$(id -u)" = 0 ] && chown -R "$PLINTH_USER": "$work"
	init_report_server "$dir" "$port" "$am" <<-EOF
	max_prepared_transactions = 2
	# A spec whose last step heap fails (SERIALIZABLE: at the write) and
	# Plinth does not (at the commit) leaves a session in its transaction,
	# and the teardown would wait for it for ever.
	idle_in_transaction_session_timeout = '30s'
	EOF
	as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
	echo "== $name: Postgres's regression and isolation schedules, default_table_access_method = $am"
	as_server_user env PG_LIBDIR="$regress" PG_DLSUFFIX=.so "$PG_REGRESS" --bindir="$PG_BINDIR" \
		--inputdir="$regress" --outputdir="$dir/out" --dlpath="$regress" --host="$dir" --port="$port" \
		--user="$PLINTH_USER" --schedule="$regress/parallel_schedule" --max-connections=4 \
		--load-extension=plinth >"$dir/summary" 2>&1 || true
	# Each isolation step may wait for a lock at most a minute (a step
	# Plinth does not block where heap does would otherwise hang it).
	local isolation="$work/src/src/test/isolation"
	as_server_user env PGISOLATIONTIMEOUT=60 "$PG_ISOLATION_REGRESS" --bindir="$PG_BINDIR" \
		--inputdir="$isolation" --outputdir="$dir/isolation" --host="$dir" --port="$port" --user="$PLINTH_USER" \
		--schedule="$isolation/isolation_schedule" --load-extension=plinth >"$dir/isolation-summary" 2>&1 || true
	as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -w stop -m fast >/dev/null
	echo "   regression tests differing from Postgres's expected output: $(grep -c "FAILED" "$dir/summary" || true)"
	echo "   isolation tests differing from Postgres's expected output: $(grep -c "FAILED" "$dir/isolation-summary" || true)"
	if grep -qE "was terminated by signal|Fatal error:" "$dir/server.log"; then
		echo "   A BACKEND CRASHED: see $dir/server.log"
	fi
}

fetch_source
run_suite heap 5471 heap
run_suite plinth 5472 plinth
{
	python3 scripts/upstream_compare.py "$work/heap/out/results" "$work/plinth/out/results" "regression suite"
	echo
	python3 scripts/upstream_compare.py "$work/heap/isolation/results" "$work/plinth/isolation/results" "isolation suite"
} | tee "$work/report.txt"
echo "(report: $work/report.txt; outputs: $work/{heap,plinth}/{out,isolation})"
