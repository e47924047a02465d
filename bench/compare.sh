#!/bin/sh
# Compares two seshfs binaries on this machine, alternating runs of the
# benchmark (see bench/compare.py).
#   bench/compare.sh OLD_SESHFS NEW_SESHFS [--runs N] [bench.py options]
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OLD_SESHFS NEW_SESHFS [--runs N] [bench options]" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2")
shift 2
. "$(dirname "$0")/container.sh"
/usr/bin/python3 "$SESHFS_ROOT/bench/compare.py" --old "$OLD" --new "$NEW" \
	--client "$SESHFS_BUILD/bench/benchclient" --container "$CONTAINER" "$@"
