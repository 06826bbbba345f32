#!/usr/bin/env bash
# `make test`: every test Plinth has, each runner's summary, non-zero exit on
# any failure.
#   scripts/test.sh [unit|fuzz|regress|isolation|e2e|bench-smoke ...]   (default: all)
# PLINTH_FDB_CLUSTER_FILE=/etc/foundationdb/fdb.cluster runs all of it on
# FoundationDB instead of the embedded store: every server the tests start
# gets plinth.cluster_file. Without it the FoundationDB tests say skipped.
# The SQL suites start and stop their own temporary server (pg_regress
# --temp-instance); nothing here touches the `make run` server.
source "$(dirname "$0")/common.sh"
cd "$PLINTH_ROOT"

# The expected outputs are those of a UTF8 database in the C.UTF-8 locale
# (code point order); the temporary servers take their locale from the
# environment, which on a fresh machine may name none (SQL_ASCII).
export LC_ALL=C.UTF-8

state=$(state_dir)
work="$state/test"
results=()
failed=0

# pg_regress runs as the server user, who may not be able to read the clone:
# give it a copy of the test inputs in the state directory.
stage_inputs() {
	rm -rf "$work/in"; mkdir -p "$work/in"
	cp -r test/sql test/expected test/specs test/schedule test/am_schedule test/isolation_schedule \
		test/isolation_plinth_schedule test/*.conf "$work/in/"
	if [ -n "${PLINTH_FDB_CLUSTER_FILE:-}" ]; then
		for c in "$work"/in/*.conf; do
			echo "plinth.cluster_file = '$PLINTH_FDB_CLUSTER_FILE'" >>"$c"
			[ -z "${PLINTH_FDB_LIBRARY:-}" ] || echo "plinth.fdb_library = '$PLINTH_FDB_LIBRARY'" >>"$c"
		done
	fi
	[ "$(id -u)" = 0 ] && chown -R "$PLINTH_USER": "$work"
	return 0
}

record() {  # name status
	results+=("$(printf '%-12s %s' "$1" "$2")")
	[ "$2" = passed ] || failed=1
}

run_unit() {
	echo "== Swift unit tests (swift test), and the C shim's layers (scripts/check-shim-layers.py)"
	local rc=0
	python3 scripts/check-shim-layers.py >"$state/shim-layers.log" || { cat "$state/shim-layers.log"; rc=1; }
	swift test -Xcc -I"$($PG_CONFIG --includedir-server)" -Xcc -Wno-ignored-attributes >"$state/unit.log" 2>&1 || rc=1
	# The summaries, every failure and every skip.
	grep -E "error:|failed|skipped|Skipped|Executed|Test run with" "$state/unit.log" | grep -vE "^Test Case .* passed" | tail -60 || true
	if [ $rc = 0 ]; then record unit passed; else echo "(full log: $state/unit.log)"; record unit FAILED; fi
}

# Every decoder of store bytes on libFuzzer's inputs, a fixed number each
# (the long run: make fuzz).
run_fuzz() {
	echo "== fuzzing (scripts/fuzz.sh: 100,000 inputs per decoder)"
	if scripts/fuzz.sh; then record fuzz passed; else record fuzz FAILED; fi
}

# On a FoundationDB cluster every suite's servers share the cluster, and
# servers sharing a store share databases of one name (and their schema):
# each suite begins on an empty Plinth keyspace, as on a fresh embedded
# store. The e2e runner does the same before each test (PLINTH_STORE_TOOL).
clear_fdb() {
	[ -n "${PLINTH_FDB_CLUSTER_FILE:-}" ] || return 0
	if [ -z "${PLINTH_STORE_TOOL:-}" ]; then
		swift build --product plinth-store-tool >"$state/store-tool-build.log" 2>&1 \
			|| { cat "$state/store-tool-build.log"; exit 1; }
		export PLINTH_STORE_TOOL="$PLINTH_ROOT/.build/debug/plinth-store-tool"
	fi
	"$PLINTH_STORE_TOOL" clear "fdb:$PLINTH_FDB_CLUSTER_FILE"
}

# One pg_regress run: name, schedule, configuration.
pg_regress_run() {
	local name=$1 schedule=$2 conf=$3 extra=${4:-}
	echo "== pg_regress: $name ($schedule, $conf)"
	clear_fdb
	if as_server_user "$PG_REGRESS" --temp-instance="$work/$name-instance" --temp-config="$work/in/$conf" \
		--bindir="$PG_BINDIR" --inputdir="$work/in" --outputdir="$work/$name" \
		--schedule="$work/in/$schedule" --dbname=plinth_regression --encoding=UTF8 $extra; then
		record "$name" passed
	else
		[ -f "$work/$name/regression.diffs" ] && head -300 "$work/$name/regression.diffs"
		record "$name" FAILED
	fi
}

run_regress() {
	stage_inputs
	# Plinth's own behaviour.
	pg_regress_run regress schedule regress.conf
	# The same statements on heap and on Plinth, against the same expected output.
	pg_regress_run am-heap am_schedule regress_heap.conf --load-extension=plinth
	pg_regress_run am-plinth am_schedule regress_plinth.conf --load-extension=plinth
	# Again with every transaction's writes spilling to disk past 64 kB.
	pg_regress_run am-plinth-spill am_schedule regress_plinth_spill.conf --load-extension=plinth
}

# One pg_isolation_regress run: name, schedule, configuration.
isolation_run() {
	local name=$1 schedule=$2 conf=$3 dir=$work/in
	echo "== pg_isolation_regress: $name ($schedule, $conf)"
	clear_fdb
	if as_server_user "$PG_ISOLATION_REGRESS" --temp-instance="$work/$name-instance" --temp-config="$work/in/$conf" \
		--bindir="$PG_BINDIR" --inputdir="$dir" --outputdir="$work/$name" \
		--schedule="$dir/$schedule" --dbname=plinth_isolation --encoding=UTF8 --load-extension=plinth; then
		record "$name" passed
	else
		[ -f "$work/$name/regression.diffs" ] && head -200 "$work/$name/regression.diffs"
		record "$name" FAILED
	fi
}

run_isolation() {
	stage_inputs
	# Concurrency as Postgres defines it: heap and Plinth, one expected output.
	isolation_run isolation-heap isolation_schedule regress_heap.conf
	isolation_run isolation isolation_schedule regress_plinth.conf
	# SERIALIZABLE, Plinth's own way (heap's SSI words its errors otherwise).
	isolation_run isolation-plinth isolation_plinth_schedule regress_plinth.conf
}

# The benchmark on tiny data: it must run, its numbers are not judged.
run_bench_smoke() {
	echo "== benchmark smoke run (scripts/bench.sh --smoke)"
	if scripts/bench.sh --smoke >"$state/bench-smoke.log" 2>&1; then
		tail -25 "$state/bench-smoke.log"
		record bench-smoke passed
	else
		tail -60 "$state/bench-smoke.log"
		record bench-smoke FAILED
	fi
}

run_e2e() {
	echo "== end-to-end tests (test/t)"
	clear_fdb
	if python3 test/t/run.py --state "$state" --user "$PLINTH_USER"; then
		record e2e passed
	else
		record e2e FAILED
	fi
}

engine() {
	if [ -n "${PLINTH_FDB_CLUSTER_FILE:-}" ]; then
		echo "== engine: FoundationDB ($PLINTH_FDB_CLUSTER_FILE)"
		results+=("$(printf '%-12s %s' foundationdb "in use: $PLINTH_FDB_CLUSTER_FILE")")
	else
		echo "== engine: embedded (LMDB); FoundationDB runs SKIPPED: set PLINTH_FDB_CLUSTER_FILE to run everything on a cluster"
		results+=("$(printf '%-12s %s' foundationdb 'SKIPPED (no PLINTH_FDB_CLUSTER_FILE)')")
	fi
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit fuzz regress isolation e2e bench-smoke)
engine
for s in "${suites[@]}"; do
	case "$s" in
	unit) run_unit ;;
	fuzz) run_fuzz ;;
	regress) run_regress ;;
	isolation) run_isolation ;;
	e2e) run_e2e ;;
	bench-smoke) run_bench_smoke ;;
	*) echo "unknown suite $s" >&2; exit 2 ;;
	esac
done

echo
echo "== summary"
printf '%s\n' "${results[@]}"
exit $failed
