#!/bin/sh
# Compares two seshfs binaries on this machine, alternating runs of the
# benchmark (see bench/compare.py). Sets up like bench/run.sh.
#   bench/compare.sh OLD_SESHFS NEW_SESHFS [--runs N] [bench.py options]
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OLD_SESHFS NEW_SESHFS [--runs N] [bench options]" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2")
shift 2
. "$(dirname "$0")/../scripts/setup.sh"
seshfs_setup
CONTAINER=seshfs-bench
docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
docker run -d --init --name "$CONTAINER" "$SESHFS_IMAGE" sleep 2147483647 >/dev/null
trap 'docker rm -f "$CONTAINER" >/dev/null 2>&1' EXIT
/usr/bin/python3 "$SESHFS_ROOT/bench/compare.py" --old "$OLD" --new "$NEW" \
	--client "$SESHFS_BUILD/bench/benchclient" --container "$CONTAINER" "$@"
