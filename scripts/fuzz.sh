#!/usr/bin/env bash
# Fuzzing of every decoder of store bytes (Fuzz/): the tuple layer, index
# keys, row values, the embedded engine's conflict log and long-key buckets.
# Each target is built with libFuzzer and AddressSanitizer and started from
# its committed corpus (Fuzz/Corpus/<target>/); a trap, a memory error or a
# leak is a finding, written to the state directory, and fails the run.
#
#   scripts/fuzz.sh                  100,000 inputs per target (make test)
#   scripts/fuzz.sh --runs N         N inputs per target
#   scripts/fuzz.sh --seconds S      S seconds per target; what it finds joins
#                                    the committed corpus (make fuzz)
#   scripts/fuzz.sh ... TARGET...    only these (FuzzTuple, FuzzRowFormat...)
source "$(dirname "$0")/common.sh"
cd "$PLINTH_ROOT"

runs=100000
seconds=
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(FuzzTuple FuzzIndexKey FuzzRowFormat FuzzConflictLog FuzzLongKeys)

product() {  # FuzzRowFormat -> fuzz-row-format
	echo "$1" | sed -E 's/^Fuzz//; s/([a-z])([A-Z])/\1-\2/g; s/.*/fuzz-\L&/'
}

# Findings are reported by libFuzzer and AddressSanitizer, not by Swift's
# backtracer (which ASan flags itself when it reads the stack).
export SWIFT_BACKTRACE=enable=no
state=$(state_dir)
out="$state/fuzz"
mkdir -p "$out"
# lld: gold fails on these links (an internal error reading their debug info).
build=(swift build --scratch-path "$PLINTH_ROOT/.build-fuzz" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
	-Xswiftc -use-ld=lld)
failed=0
for t in "${targets[@]}"; do
	p=$(product "$t")
	if ! PLINTH_FUZZ=1 "${build[@]}" --product "$p" >"$out/$t.build.log" 2>&1; then
		tail -20 "$out/$t.build.log"
		echo "$t: build FAILED"
		failed=1
		continue
	fi
	bin="$PLINTH_ROOT/.build-fuzz/debug/$p"
	corpus="Fuzz/Corpus/$t"
	if [ -n "$seconds" ]; then
		# New inputs join the committed corpus, minimised afterwards.
		args=(-max_total_time="$seconds" "$corpus")
	else
		rm -rf "$out/$t.corpus"; mkdir -p "$out/$t.corpus"
		args=(-runs="$runs" "$out/$t.corpus" "$corpus")
	fi
	if "$bin" -artifact_prefix="$out/$t-" -print_final_stats=1 "${args[@]}" >"$out/$t.log" 2>&1; then
		echo "$t: $(grep -E '^Done [0-9]+ runs' "$out/$t.log" | tail -1), no finding"
	else
		grep -E "ERROR|Fatal|SUMMARY|panic|precondition" "$out/$t.log" | head -10
		echo "$t: FINDING (log: $out/$t.log, input: $(ls "$out"/"$t"-* 2>/dev/null | head -1))"
		failed=1
	fi
	if [ -n "$seconds" ]; then
		rm -rf "$out/$t.min"; mkdir -p "$out/$t.min"
		"$bin" -merge=1 "$out/$t.min" "$corpus" >"$out/$t.merge.log" 2>&1 \
			&& rm -rf "$corpus" && mv "$out/$t.min" "$corpus"
		echo "$t: corpus $(ls "$corpus" | wc -l) inputs"
	fi
done
exit $failed
