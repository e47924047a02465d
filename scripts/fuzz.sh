#!/bin/sh
# Fuzzes every parser fed by a user or a container (tests/fuzz/) with
# libFuzzer under ASan and UBSan, SECONDS each (default 60), one after the
# other. Inputs that find new coverage are kept in build-fuzz/corpus/NAME;
# with SESHFS_FUZZ_MERGE=1 the ones that add coverage to the seed corpus in
# the tree are merged into it. A crash stops the script and leaves its input
# in build-fuzz/ (replay it: build-fuzz/tests/fuzz/fuzz-NAME FILE).
#
# The target "differential" (only when named; it needs root) is no libFuzzer
# target: it runs generated shell input in bash, busybox ash and dash at once,
# at low priority, SECONDS each, and compares what ran with what the command
# splitter reports (tests/differential/run.py). Each bypass found is minimized
# and kept in build-fuzz/corpus/differential (with SESHFS_FUZZ_MERGE=1 in
# tests/differential/corpus/, which CI replays), and described in
# build-fuzz/differential-findings.md; any bypass fails the script.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
SESHFS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SESHFS_FUZZ_BUILD=${SESHFS_FUZZ_BUILD:-$SESHFS_ROOT/build-fuzz}
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-ctl demux noise prompt values policy redact}
differential=0
case " $targets " in
*" differential "*)
	differential=1
	targets=$(echo " $targets " | sed 's/ differential / /') ;;
esac

. "$SESHFS_ROOT/scripts/setup.sh"
SESHFS_PACKAGES="clang meson ninja-build pkg-config libfuse3-dev libcurl4-openssl-dev libjansson-dev libpcre2-dev"
[ "$differential" = 1 ] && SESHFS_PACKAGES="$SESHFS_PACKAGES build-essential busybox-static dash strace python3"
install_packages
log() { echo "seshfs-fuzz: $*" >&2; }

fuzz_differential() {
	# The splitter's report comes from the plain build: libFuzzer's hooks need its main.
	build_seshfs
	found=$SESHFS_FUZZ_BUILD/corpus/differential
	[ "${SESHFS_FUZZ_MERGE:-0}" = 1 ] && found=$SESHFS_ROOT/tests/differential/corpus
	mkdir -p "$found"
	pids=
	for shell in bash ash dash; do
		log "differential: $shell for $seconds s"
		nice -n 19 /usr/bin/python3 "$SESHFS_ROOT/tests/differential/run.py" --shell "$shell" \
			--driver "$SESHFS_BUILD/tests/splitter-report" --seconds "$seconds" --found "$found" \
			--findings "$SESHFS_FUZZ_BUILD/differential-findings.md" \
			> "$SESHFS_FUZZ_BUILD/differential-$shell.log" 2>&1 &
		pids="$pids $!"
	done
	failed=0
	for pid in $pids; do
		wait "$pid" || failed=1
	done
	for shell in bash ash dash; do
		tail -n 1 "$SESHFS_FUZZ_BUILD/differential-$shell.log" >&2
	done
	if [ "$failed" = 1 ]; then
		log "differential: bypasses found: $SESHFS_FUZZ_BUILD/differential-findings.md"
		exit 1
	fi
}

mkdir -p "$SESHFS_FUZZ_BUILD"
[ "$differential" = 1 ] && fuzz_differential
[ -z "$(echo $targets)" ] && exit 0

if [ ! -f "$SESHFS_FUZZ_BUILD/build.ninja" ]; then
	CC=clang meson setup "$SESHFS_FUZZ_BUILD" "$SESHFS_ROOT" -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
for name in $targets; do
	ninja -C "$SESHFS_FUZZ_BUILD" "tests/fuzz/fuzz-$name" >/dev/null
done

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for name in $targets; do
	seeds=$SESHFS_ROOT/tests/fuzz/corpus/$name
	found=$SESHFS_FUZZ_BUILD/corpus/$name
	dict=$SESHFS_ROOT/tests/fuzz/$name.dict
	mkdir -p "$found"
	log "fuzzing $name for $seconds s"
	# shellcheck disable=SC2046
	(cd "$SESHFS_FUZZ_BUILD" && "tests/fuzz/fuzz-$name" -max_total_time="$seconds" \
		-print_final_stats=1 $( [ -f "$dict" ] && echo "-dict=$dict" ) "$found" "$seeds") \
		> "$SESHFS_FUZZ_BUILD/fuzz-$name.log" 2>&1 || {
		tail -n 40 "$SESHFS_FUZZ_BUILD/fuzz-$name.log" >&2
		log "$name: failed; its log is $SESHFS_FUZZ_BUILD/fuzz-$name.log"
		exit 1
	}
	grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb' \
		"$SESHFS_FUZZ_BUILD/fuzz-$name.log" | tail -n 3 | sed "s/^/$name: /" >&2
	if [ "${SESHFS_FUZZ_MERGE:-0}" = 1 ]; then
		"$SESHFS_FUZZ_BUILD/tests/fuzz/fuzz-$name" -merge=1 "$seeds" "$found" \
			>>"$SESHFS_FUZZ_BUILD/fuzz-$name.log" 2>&1
		log "$name: seed corpus now $(ls "$seeds" | wc -l) inputs"
	fi
done
