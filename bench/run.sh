#!/bin/sh
# The seshfs benchmark: sets everything up (like scripts/demo.sh), starts a
# container of its own, and prints each figure beside its baseline.
#   bench/run.sh [--rounds N] [--commands N] [--stream-mib N] [--sessions N] [--guard-mib N]
#   bench/run.sh --only local    round trips beside bare FIFOs, signal, rmdir's clean-up, warm mkdir
#   bench/run.sh --only guard    the guard rails (redaction, policy) alone
#   bench/run.sh --only sandbox  mkdir in an image= sandbox alone
#   bench/run.sh --only tls      round trip and mkdir over TLS alone
#   bench/run.sh --only podman   round trip and mkdir on Podman's socket alone
set -eu
. "$(dirname "$0")/container.sh"
/usr/bin/python3 "$SESHFS_ROOT/bench/bench.py" --seshfs "$SESHFS_BUILD/seshfs" \
	--client "$SESHFS_BUILD/bench/benchclient" --container "$CONTAINER" --image "$SESHFS_IMAGE" "$@"
