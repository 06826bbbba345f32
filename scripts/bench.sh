#!/usr/bin/env bash
# `make bench`: Plinth beside heap on the same server, the same data and the
# same workloads, alternating heap and Plinth, several rounds, medians.
#
#   scripts/bench.sh            full run (scale 10, 1,000,000 rows, 3 rounds
#                               of 15 s pgbench runs; about 17 minutes on 2 cores)
#   scripts/bench.sh --quick    one round of 5 s runs, same data sizes
#   scripts/bench.sh --smoke    tiny data, one round, 1 s runs: proves the
#                               script works (exit 0), judges no number
#
# Options (after the mode): --rounds N, --scale N (pgbench), --rows N (the
# scan, COPY, range and primary-key table), --duration S (each pgbench run),
# --clients "1 4 8", --out DIR (default bench/results; smoke: a scratch
# directory under the state directory), --keep (leave the server's data
# directory behind for a look; the server is stopped all the same).
# PLINTH_BENCH_PORT (default 5498) names the server's socket; it listens on no
# TCP port.
#
# It starts its own temporary server (data under $state/bench/MODE, its own Unix
# socket, no TCP) as the server user, with shared_preload_libraries='plinth',
# durable commits for both (fsync, synchronous_commit; Plinth's store flushes
# each commit by default), shared_buffers=256MB and no parallel query, so both
# access methods run a query in one process. Two databases hold the same data:
# bench_heap (default_table_access_method=heap) and bench_plinth (=plinth).
#
# Output: the table on stdout and in DIR/results.md, DIR/results.json,
# DIR/ratios.png (bench/plot.py, matplotlib from Debian's python3-matplotlib,
# installed when missing), and the raw samples and logs in DIR/raw/.
# Exit status: non-zero when a workload failed (an error, an aborted pgbench
# client, a crash) or the server did not start; slow numbers never fail it.
source "$(dirname "$0")/common.sh"
cd "$PLINTH_ROOT"

mode=full length=()
rounds= scale= rows= duration= clients= out= keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) mode=smoke ;;
	--quick) mode=quick ;;
	--full) mode=full ;;
	--rounds) rounds=$2; shift ;;
	--scale) scale=$2; shift ;;
	--rows) rows=$2; shift ;;
	--duration) duration=$2; shift ;;
	--clients) clients=$2; shift ;;
	--out) out=$2; shift ;;
	--keep) keep=1 ;;
	-h|--help) sed -n '2,/^source/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
	esac
	shift
done

case $mode in
smoke) : "${rounds:=1}" "${scale:=1}" "${rows:=10000}" "${duration:=1}" "${clients:=1 4}"; scan_reps=1; rt_txns=10
	length=(-t 100) ;;  # 100 transactions per client rather than a duration
quick) : "${rounds:=1}" "${scale:=10}" "${rows:=1000000}" "${duration:=5}" "${clients:=1 4 8}"; scan_reps=2; rt_txns=50 ;;
full)  : "${rounds:=3}" "${scale:=10}" "${rows:=1000000}" "${duration:=15}" "${clients:=1 4 8}"; scan_reps=3; rt_txns=100 ;;
esac
[ ${#length[@]} -gt 0 ] || length=(-T "$duration")
# The index range scan reads range_rows rows of a 1,000,000-row table: 1%.
range_rows=$(( rows / 100 ))
[ "$range_rows" -ge 1 ] || range_rows=1
update_clients="1 $(echo $clients | awk '{print $NF}')"
[ "$update_clients" = "1 1" ] && update_clients=1
max_tries=10

state=$(state_dir)
base="$state/bench/$mode"  # per mode: a smoke run (the tests) may overlap a full one
server="$base/server"
data="$server/data"
port=${PLINTH_BENCH_PORT:-5498}
log="$server/server.log"
if [ -z "$out" ]; then
	if [ $mode = smoke ]; then out="$base/results"; else out="$PLINTH_ROOT/bench/results"; fi
fi
raw="$out/raw"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

mkdir -p "$base"
[ "$(id -u)" = 0 ] && chown "$PLINTH_USER": "$state/bench" "$base"
rm -rf "$raw"; mkdir -p "$raw"
: >"$raw/samples.tsv"; : >"$raw/roundtrips.tsv"; : >"$raw/meta.tsv"; : >"$raw/errors.txt"

pgctl() { as_server_user "$PG_BINDIR/pg_ctl" -D "$data" "$@"; }
conn=(-h "$server" -p "$port" -U "$PLINTH_USER")
psql_db() { local db=$1; shift; "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -d "$db" "$@"; }
pgbench_db() { "$PG_BINDIR/pgbench" "${conn[@]}" "$@"; }
dbof() { echo "bench_$1"; }

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
meta() { printf '%s\t%s\n' "$1" "$2" >>"$raw/meta.tsv"; }
sample() {  # workload am round value [failed retried txns]
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-0}" "${6:-0}" "${7:-}" >>"$raw/samples.tsv"
}
failures=0
fail() {  # what, details file or text
	failures=$((failures + 1))
	{ echo "== $1"; if [ -f "${2:-}" ]; then tail -30 "$2"; else echo "${2:-}"; fi; echo; } >>"$raw/errors.txt"
	echo "   FAILED: $1 (details in $raw/errors.txt)" >&2
}

# --- the temporary server ---------------------------------------------------
stop_server() {
	if [ -f "$data/postmaster.pid" ]; then
		pgctl -w -t 60 -m fast stop >/dev/null 2>&1 || pgctl -w -m immediate stop >/dev/null 2>&1 || true
	fi
}
# The server log without the serialization failures (hundreds of thousands
# under TPC-B on Plinth; pgbench counts them), into the results.
save_log() {
	[ -f "$log" ] || return 0
	awk '/ERROR:  could not serialize access/ {skip = 1; n++; next}
		skip && / (DETAIL|HINT|STATEMENT|CONTEXT): / {next}
		{skip = 0; print}
		END {print "(scripts/bench.sh: " n + 0 " serialization failures and their details left out)"}' "$log" >"$raw/server.log"
}
cleanup() {
	local rc=$?
	stop_server
	save_log
	if [ "$keep" = 1 ]; then echo "data directory kept: $data"; else rm -rf "$server"; fi
	rm -f "$base/items.data"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_server  # a server left by an interrupted run
rm -rf "$server"; mkdir -p "$server"
[ "$(id -u)" = 0 ] && chown "$PLINTH_USER": "$server"
as_server_user "$PG_BINDIR/initdb" -D "$data" --auth=trust -E UTF8 --locale=C.UTF-8 >"$raw/initdb.log" 2>&1 \
	|| { cat "$raw/initdb.log"; exit 1; }
cat >>"$data/postgresql.conf" <<CONF

# --- scripts/bench.sh ---
port = $port
listen_addresses = ''
unix_socket_directories = '$server'
shared_preload_libraries = 'plinth'
shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 4GB
max_connections = 40
# One process per query for both access methods (Plinth keeps its scans out
# of parallel plans; heap would otherwise use the second core).
max_parallel_workers_per_gather = 0
CONF
pgctl -l "$log" -w -t 60 start >/dev/null || { tail -30 "$log"; exit 1; }
# The library the server loaded (another build may install a new one later).
meta plinth_so "$(md5sum "$PG_PKGLIBDIR/plinth.so" | cut -c1-12), $(date -u -r "$PG_PKGLIBDIR/plinth.so" '+%Y-%m-%d %H:%M UTC')"
# Whatever else runs on the machine skews the figures: note the load.
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== Plinth beside heap: $mode run ($rounds round(s), pgbench scale $scale, $rows rows, ${duration}s runs, clients $clients)"
echo "   server: $data (port $port, socket in $server); results: $out"

for am in heap plinth; do
	psql_db postgres -c "CREATE DATABASE $(dbof $am)"
	psql_db "$(dbof $am)" -c "CREATE EXTENSION plinth"
	psql_db "$(dbof $am)" -c "ALTER DATABASE $(dbof $am) SET default_table_access_method = '$am'"
done
storedir=$(psql_db bench_plinth -Atc "SHOW plinth.data_directory")
[ -n "$storedir" ] || storedir="$data/plinth"
case "$storedir" in /*) ;; *) storedir="$data/$storedir" ;; esac

# Used bytes of the LMDB store: (pages in use - free pages) * page size.
store_used_bytes() {
	local env free
	env=$(mdb_stat -e "$storedir" 2>/dev/null) || { echo 0; return; }
	free=$(mdb_stat -f "$storedir" 2>/dev/null | awk '/Free pages:/ {print $3}')
	echo "$env" | awk -v free="${free:-0}" '
		/Page size:/ {ps=$3} /Number of pages used:/ {used=$5}
		END {printf "%.0f\n", (used - free) * ps}'
}
# Bytes a file takes on disk (allocated blocks: the conflict history's map is sparse).
disk_bytes() { du -sk "$@" 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s * 1024}'; }

# --- load ---------------------------------------------------------------------
store_before=$(store_used_bytes)
echo "== load"
# The table the scan, COPY, range and primary-key workloads use, written once
# to a file (server side, in the server user's directory) and loaded by COPY.
psql_db bench_heap -c "COPY (SELECT g, (g::bigint * 7919 % $rows)::int, g % 1000, md5(g::text)
	FROM generate_series(1, $rows) g) TO '$base/items.data'"
for am in heap plinth; do
	db=$(dbof $am)
	t0=$(date +%s.%N)
	if ! pgbench_db -i -q -s "$scale" "$db" >"$raw/init-$am.log" 2>&1; then
		fail "pgbench -i -s $scale on $am" "$raw/init-$am.log"; continue
	fi
	t1=$(date +%s.%N)
	if ! psql_db "$db" >"$raw/load-$am.log" 2>&1 <<SQL
CREATE TABLE items (id int, k int, v int, pad text);
COPY items FROM '$base/items.data';
ALTER TABLE items ADD PRIMARY KEY (id);
CREATE INDEX items_k ON items (k);
VACUUM ANALYZE items;
VACUUM ANALYZE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history;
SQL
	then fail "loading items on $am" "$raw/load-$am.log"; continue; fi
	t2=$(date +%s.%N)
	meta "load_pgbench_init_s_$am" "$(elapsed "$t0" "$t1")"
	meta "load_items_s_$am" "$(elapsed "$t1" "$t2")"
	printf '   %-6s pgbench -i %6.1f s, items (COPY, 2 indexes, analyze) %6.1f s\n' $am \
		"$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")"
done
psql_db postgres -c CHECKPOINT

# --- on-disk size -------------------------------------------------------------
# Heap: every relation of the bench tables (tables, indexes, TOAST, FSM, VM).
# Plinth: the LMDB store's used pages grown by the load (the store is shared by
# the server's databases; bench_heap writes nothing to it), beside the file size
# and Plinth's own count of the tables' row bytes.
TABLES="'items','pgbench_accounts','pgbench_branches','pgbench_tellers','pgbench_history'"
heap_bytes=$(psql_db bench_heap -Atc "SELECT sum(pg_total_relation_size(oid)) FROM pg_class WHERE relname IN ($TABLES)")
store_after=$(store_used_bytes)
sample size heap 1 "$heap_bytes"
sample size plinth 1 "$(( store_after - store_before ))"
meta store_data_file_bytes "$(disk_bytes "$storedir/data.mdb")"
meta store_conflicts_bytes "$(disk_bytes "$storedir/conflicts")"
meta store_tree_bytes "$(mdb_stat -s data "$storedir" 2>/dev/null | awk '/(Branch|Leaf|Overflow) pages:/ {p += $3} END {printf "%.0f\n", p * 4096}')"
meta store_used_before "$store_before"
meta store_used_after "$store_after"
meta plinth_row_bytes "$(psql_db bench_plinth -Atc "SELECT sum((plinth_relation_info(oid)).bytes) FROM pg_class WHERE relname IN ($TABLES)" 2>/dev/null || echo)"
meta heap_table_bytes "$(psql_db bench_heap -Atc "SELECT sum(pg_table_size(oid)) FROM pg_class WHERE relname IN ($TABLES)")"
meta heap_index_bytes "$(psql_db bench_heap -Atc "SELECT sum(pg_indexes_size(oid)) FROM pg_class WHERE relname IN ($TABLES)")"
meta range_plan_heap "$(psql_db bench_heap -Atc "EXPLAIN (COSTS OFF) SELECT count(*), sum(v) FROM items WHERE k >= 1 AND k < 1 + $range_rows" | tr '\n' ' ' | sed 's/  */ /g')"
meta range_plan_plinth "$(psql_db bench_plinth -Atc "EXPLAIN (COSTS OFF) SELECT count(*), sum(v) FROM items WHERE k >= 1 AND k < 1 + $range_rows" | tr '\n' ' ' | sed 's/  */ /g')"

# --- workloads ----------------------------------------------------------------
# pgbench run: workload label, am, round, clients, pgbench arguments...
run_pgbench() {
	local w=$1 am=$2 r=$3 c=$4; shift 4
	local f="$raw/$w-$am-r$r.log" jobs=$(( c < 2 ? c : 2 ))
	if pgbench_db "${length[@]}" -c "$c" -j "$jobs" -M prepared --max-tries=$max_tries "$@" "$(dbof $am)" >"$f" 2>&1; then
		local tps failed retried txns
		tps=$(awk '/^tps = / {print $3; exit}' "$f")
		txns=$(awk -F': ' '/number of transactions actually processed/ {print $2; exit}' "$f")
		failed=$(awk -F'[:(]' '/number of failed transactions/ {gsub(/ /,"",$2); print $2; exit}' "$f")
		retried=$(awk -F'[:(]' '/number of transactions retried/ {gsub(/ /,"",$2); print $2; exit}' "$f")
		sample "$w" "$am" "$r" "${tps:-0}" "${failed:-0}" "${retried:-0}" "${txns%%/*}"
		printf '   %-14s %-6s round %d: %10.1f tps  (failed %s, retried %s)\n' "$w" "$am" "$r" "${tps:-0}" "${failed:-0}" "${retried:-0}"
	else
		fail "$w on $am, round $r: pgbench $* (exit $?)" "$f"
	fi
}

# A timed psql session: the seconds of each statement (psql's \timing), the
# backend's peak resident set (VmHWM) and Plinth's store counters around it.
timed_session() {  # name am round sqlfile
	local name=$1 am=$2 r=$3 sql=$4 f="$raw/$1-$2-r$3.log"
	if psql_db "$(dbof $am)" -At -F $'\t' >"$f" 2>&1 <<SQL
\\timing off
SELECT 'hwm0', substring(pg_read_file('/proc/self/status') from 'VmHWM:\\s+(\\d+)');
$( [ $am = plinth ] && echo "SELECT 'stat0', * FROM plinth_stat_session();" )
\\o /dev/null
\\timing on
$(cat "$sql")
\\timing off
\\o
$( [ $am = plinth ] && echo "SELECT 'stat1', * FROM plinth_stat_session();" )
SELECT 'hwm1', substring(pg_read_file('/proc/self/status') from 'VmHWM:\\s+(\\d+)');
SELECT 'rss1', substring(pg_read_file('/proc/self/status') from 'RssAnon:\\s+(\\d+)'),
	substring(pg_read_file('/proc/self/status') from 'RssFile:\\s+(\\d+)'),
	substring(pg_read_file('/proc/self/status') from 'RssShmem:\\s+(\\d+)');
SQL
	then return 0; else fail "$name on $am, round $r (psql)" "$f"; return 1; fi
}
timings() { awk '/^Time: / {print $2 / 1000}' "$1"; }

seq_scan_sql="$base/seqscan.sql"
{
	for _ in $(seq "$scan_reps"); do
		echo "SELECT v % 10 AS g, count(*), sum(k), avg(id), max(pad) FROM items GROUP BY 1;"
	done
} >"$seq_scan_sql"
copy_sql="$base/copy.sql"
cat >"$copy_sql" <<SQL
\\timing off
DROP TABLE IF EXISTS items_copy;
CREATE TABLE items_copy (id int, k int, v int, pad text);
\\timing on
COPY items_copy FROM '$base/items.data';
\\timing off
SQL

seq_scan() {
	local am=$1 r=$2 f="$raw/seqscan-$1-r$2.log"
	timed_session seqscan "$am" "$r" "$seq_scan_sql" || return 0
	local t; for t in $(timings "$f"); do sample seqscan "$am" "$r" "$t"; done
	local h0 h1; h0=$(awk -F'\t' '$1=="hwm0" {print $2}' "$f"); h1=$(awk -F'\t' '$1=="hwm1" {print $2}' "$f")
	sample rss "$am" "$r" "$(( h1 * 1024 ))"
	sample rss_anon "$am" "$r" "$(( $(awk -F'\t' '$1=="rss1" {print $2}' "$f") * 1024 ))"
	meta "rss_start_kb_${am}_r$r" "$h0"
	meta "rss_end_anon_file_shmem_kb_${am}_r$r" "$(awk -F'\t' '$1=="rss1" {print $2 " " $3 " " $4}' "$f")"
	[ $am = plinth ] && roundtrips_from "$f" seqscan "$scan_reps"
	printf '   %-14s %-6s round %d: %s s; backend peak RSS %s kB (at start %s kB)\n' seqscan "$am" "$r" \
		"$(timings "$f" | tr '\n' ' ')" "$h1" "$h0"
}
copy_rows() {
	local am=$1 r=$2 f="$raw/copy-$1-r$2.log"
	timed_session copy "$am" "$r" "$copy_sql" || return 0
	local t; t=$(timings "$f" | tail -1)
	sample copy "$am" "$r" "$t"
	[ $am = plinth ] && roundtrips_from "$f" copy 1
	printf '   %-14s %-6s round %d: %s s\n' copy "$am" "$r" "$t"
}
roundtrips_from() {  # psql log with stat0/stat1 lines, workload, transactions
	awk -F'\t' -v w="$2" -v n="$3" '
		$1=="stat0" {for (i=2;i<=8;i++) a[i]=$i}
		$1=="stat1" {for (i=2;i<=8;i++) b[i]=$i}
		END {printf "%s\t%s", w, n; for (i=2;i<=8;i++) printf "\t%.0f", b[i]-a[i]; printf "\n"}' "$1" >>"$raw/roundtrips.tsv"
}

# pgbench scripts of the custom workloads.
cat >"$base/range.pgb" <<SQL
\\set lo random(0, $rows - $range_rows)
SELECT count(*), sum(v) FROM items WHERE k >= :lo AND k < :lo + $range_rows;
SQL
cat >"$base/pk_lookup.pgb" <<SQL
\\set id random(1, $rows)
SELECT v, pad FROM items WHERE id = :id;
SQL
cat >"$base/pk_update.pgb" <<SQL
\\set id random(1, $rows)
UPDATE items SET v = v + 1 WHERE id = :id;
SQL

for r in $(seq "$rounds"); do
	echo "== round $r of $rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	meta "loadavg_round$r" "$(cut -d' ' -f1-3 /proc/loadavg)"
	# Alternate which access method goes first.
	if [ $((r % 2)) = 1 ]; then order="heap plinth"; else order="plinth heap"; fi
	for am in $order; do seq_scan "$am" "$r"; done
	for c in $clients; do for am in $order; do run_pgbench "select_c$c" "$am" "$r" "$c" -S; done; done
	for am in $order; do run_pgbench range "$am" "$r" 1 -n -f "$base/range.pgb"; done
	for am in $order; do run_pgbench pk_lookup "$am" "$r" 1 -n -f "$base/pk_lookup.pgb"; done
	for c in $update_clients; do for am in $order; do run_pgbench "pk_update_c$c" "$am" "$r" "$c" -n -f "$base/pk_update.pgb"; done; done
	for c in $clients; do for am in $order; do run_pgbench "tpcb_c$c" "$am" "$r" "$c"; done; done
	for am in $order; do copy_rows "$am" "$r"; done
done

# --- store round trips per transaction -----------------------------------------
# A few transactions of each pgbench workload in one psql session on
# bench_plinth, with Plinth's session counters before and after.
echo "== store round trips per transaction ($rt_txns transactions of each workload)"
rt_session() {  # workload, awk statements printing rt_txns transactions
	local w=$1 f="$raw/roundtrips-$1.log"
	if psql_db bench_plinth -At -F $'\t' >"$f" 2>&1 <<SQL
\\o /dev/null
SELECT 1 FROM items WHERE id = 1;
\\o
SELECT 'stat0', * FROM plinth_stat_session();
\\o /dev/null
$(awk -v n="$rt_txns" -v rows="$rows" -v scale="$scale" -v range="$range_rows" "$ri BEGIN {srand(42); $2}")
\\o
SELECT 'stat1', * FROM plinth_stat_session();
SQL
	then roundtrips_from "$f" "$w" "$rt_txns"; else fail "round trips of $w (psql)" "$f"; fi
}
ri='function ri(lo, hi) { return lo + int(rand() * (hi - lo + 1)) }'
rt_session tpcb '
	for (i = 0; i < n; i++) { aid = ri(1, 100000 * scale); bid = ri(1, scale); tid = ri(1, 10 * scale); d = ri(-5000, 5000)
		print "BEGIN;"
		print "UPDATE pgbench_accounts SET abalance = abalance + " d " WHERE aid = " aid ";"
		print "SELECT abalance FROM pgbench_accounts WHERE aid = " aid ";"
		print "UPDATE pgbench_tellers SET tbalance = tbalance + " d " WHERE tid = " tid ";"
		print "UPDATE pgbench_branches SET bbalance = bbalance + " d " WHERE bid = " bid ";"
		print "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (" tid ", " bid ", " aid ", " d ", CURRENT_TIMESTAMP);"
		print "END;" }'
rt_session select '
	for (i = 0; i < n; i++) print "SELECT abalance FROM pgbench_accounts WHERE aid = " ri(1, 100000 * scale) ";"'
rt_session range '
	for (i = 0; i < n; i++) { lo = ri(0, rows - range); print "SELECT count(*), sum(v) FROM items WHERE k >= " lo " AND k < " lo + range ";" }'
rt_session pk_lookup '
	for (i = 0; i < n; i++) print "SELECT v, pad FROM items WHERE id = " ri(1, rows) ";"'
rt_session pk_update '
	for (i = 0; i < n; i++) print "UPDATE items SET v = v + 1 WHERE id = " ri(1, rows) ";"'

# --- the machine ------------------------------------------------------------------
meta mode "$mode"
meta rounds "$rounds"
meta scale "$scale"
meta rows "$rows"
meta range_rows "$range_rows"
meta duration_s "$duration"
meta run_length "$( [ "${length[0]}" = -T ] && echo "$duration s per pgbench run" || echo "${length[1]} transactions per client and pgbench run")"
meta clients "$clients"
meta max_tries "$max_tries"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
meta cores "$(nproc)"
meta ram "$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
# The machine's description never fails the run (a chroot, a container may
# lack some of these tools or files).
src=$(findmnt -no SOURCE --target "$data" 2>/dev/null | head -1 || true)
meta disk "$(findmnt -no FSTYPE --target "$data" 2>/dev/null | head -1 || true) on ${src:-?}$(lsblk -dno SIZE,ROTA "$src" 2>/dev/null | awk '{printf " (%s, rotational flag %s)", $1, $2}' || true)"
virt=$(systemd-detect-virt --vm 2>/dev/null || lscpu 2>/dev/null | awk -F': *' '/Hypervisor vendor/ {print $2}' || true)
ctr=$(systemd-detect-virt --container 2>/dev/null || true)
meta virtualisation "${virt:-none}${ctr:+, container: $ctr}"
meta kernel "$(uname -sr)"
meta os "$(. /etc/os-release && echo "$PRETTY_NAME")"
meta postgres "$(psql_db postgres -Atc 'SHOW server_version')"
meta plinth "$(psql_db bench_plinth -Atc 'SELECT plinth_version()')"
meta commit "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- Sources sql 2>/dev/null || echo ' (with uncommitted changes)')"
meta settings "$(psql_db bench_plinth -Atc "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
	WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'max_parallel_workers_per_gather', 'plinth.durable', 'wal_sync_method')")"
meta store_dir "$storedir"

meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
stop_server
save_log
# A backend that crashed (and the server's restart after it) is a failure even
# when every client happened to survive it.
if grep -qE "terminated by signal|PANIC:|was terminated by exception" "$log"; then
	fail "the server log shows a crash" "$(grep -E -B2 -A3 "terminated by signal|PANIC:|was terminated by exception" "$log" | head -40)"
fi

# --- report -------------------------------------------------------------------------
"$PY" bench/report.py "$raw" "$out" || fail "bench/report.py" ""
if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
	echo "installing python3-matplotlib (Debian) for the plot"
	{ as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib; } >"$raw/apt.log" 2>&1 \
		|| echo "   warning: could not install python3-matplotlib (see $raw/apt.log); no plot" >&2
fi
if "$PY" -c 'import matplotlib' 2>/dev/null; then
	"$PY" bench/plot.py "$out/results.json" "$out/ratios.png" || fail "bench/plot.py" ""
fi

if [ "$failures" -gt 0 ]; then
	echo
	echo "$failures workload(s) FAILED:"
	cat "$raw/errors.txt"
	exit 1
fi
echo "results: $out/results.md, $out/results.json, $out/ratios.png"
