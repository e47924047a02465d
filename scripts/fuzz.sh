#!/bin/sh
# Fuzzes every parser fed by a user or a container (tests/fuzz/) with
# libFuzzer under ASan and UBSan, SECONDS each (default 60), one after the
# other. Inputs that find new coverage are kept in build-fuzz/corpus/NAME;
# with SESHFS_FUZZ_MERGE=1 the ones that add coverage to the seed corpus in
# the tree are merged into it. A crash stops the script and leaves its input
# in build-fuzz/ (replay it: build-fuzz/tests/fuzz/fuzz-NAME FILE).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
SESHFS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SESHFS_FUZZ_BUILD=${SESHFS_FUZZ_BUILD:-$SESHFS_ROOT/build-fuzz}
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-ctl demux noise prompt values policy redact}

. "$SESHFS_ROOT/scripts/setup.sh"
SESHFS_PACKAGES="clang meson ninja-build pkg-config libfuse3-dev libcurl4-openssl-dev libjansson-dev libpcre2-dev"
install_packages
log() { echo "seshfs-fuzz: $*" >&2; }

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
