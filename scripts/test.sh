#!/bin/sh
# Sets everything up, then runs the whole suite: unit tests, then the
# black-box tests against a real engine, container and mount.
#   SESHFS_SANITIZE=1 scripts/test.sh    the same under ASan + UBSan
set -eu
. "$(dirname "$0")/setup.sh"
if [ "${SESHFS_SANITIZE:-0}" = 1 ]; then
	SESHFS_BUILD=${SESHFS_BUILD_SANITIZE:-$SESHFS_ROOT/build-sanitize}
	SESHFS_MESON_OPTIONS="-Db_sanitize=address,undefined -Db_lundef=false"
	# A small quarantine: the memory-bound tests measure RSS, and ASan keeps 256 MiB
	# of freed chunks by default.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=16}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
seshfs_setup
"$SESHFS_BUILD/tests/unit-tests"
export SESHFS_BIN="$SESHFS_BUILD/seshfs" SESHFS_IMAGE
cd "$SESHFS_ROOT"
exec /usr/bin/python3 -m pytest -ra "$@" tests
