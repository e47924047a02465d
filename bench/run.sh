#!/bin/sh
# The seshfs benchmark: sets everything up (like scripts/demo.sh), starts a
# container of its own, and prints each figure beside its baseline.
#   bench/run.sh [--rounds N] [--commands N] [--stream-mib N] [--sessions N]
set -eu
. "$(dirname "$0")/../scripts/setup.sh"
seshfs_setup
CONTAINER=seshfs-bench
docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
docker run -d --init --name "$CONTAINER" "$SESHFS_IMAGE" sleep 2147483647 >/dev/null
trap 'docker rm -f "$CONTAINER" >/dev/null 2>&1' EXIT
/usr/bin/python3 "$SESHFS_ROOT/bench/bench.py" --seshfs "$SESHFS_BUILD/seshfs" \
	--client "$SESHFS_BUILD/bench/benchclient" --container "$CONTAINER" "$@"
