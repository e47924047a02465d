#!/bin/sh
# Sets everything up, then runs the whole suite: unit tests, the fuzz
# corpora, then the black-box tests against a real engine, container and mount.
#   SESHFS_SANITIZE=1 scripts/test.sh       the same under ASan + UBSan
#   SESHFS_SANITIZE=thread scripts/test.sh  the same under ThreadSanitizer
set -eu
. "$(dirname "$0")/setup.sh"
case "${SESHFS_SANITIZE:-0}" in
1)
	SESHFS_BUILD=${SESHFS_BUILD_SANITIZE:-$SESHFS_ROOT/build-sanitize}
	SESHFS_MESON_OPTIONS="-Db_sanitize=address,undefined -Db_lundef=false"
	# A small quarantine: the memory-bound tests measure RSS, and ASan keeps 256 MiB
	# of freed chunks by default.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=16}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	;;
thread)
	SESHFS_BUILD=${SESHFS_BUILD_TSAN:-$SESHFS_ROOT/build-tsan}
	SESHFS_MESON_OPTIONS="-Db_sanitize=thread -Db_lundef=false"
	# A report makes seshfs exit non-zero, which fails the test that unmounts it.
	export TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1:history_size=4}
	;;
esac
seshfs_setup
"$SESHFS_BUILD/tests/unit-tests"
# Each fuzz target once over its seed corpus (scripts/fuzz.sh fuzzes them).
for corpus in "$SESHFS_ROOT"/tests/fuzz/corpus/*; do
	"$SESHFS_BUILD/tests/fuzz/fuzz-$(basename "$corpus")" "$corpus"
done
export SESHFS_BIN="$SESHFS_BUILD/seshfs" SESHFS_IMAGE
cd "$SESHFS_ROOT"
exec /usr/bin/python3 -m pytest -ra "$@" tests
