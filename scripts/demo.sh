#!/bin/sh
# Sets everything up, starts a sandbox container, mounts seshfs on it and
# drives a shell with nothing but mkdir, echo and cat.
#   MOUNTPOINT (default /mnt/seshfs) stays mounted afterwards; unmount with
#   fusermount3 -u /mnt/seshfs
set -eu
. "$(dirname "$0")/setup.sh"
seshfs_setup

CONTAINER=${CONTAINER:-seshfs-sandbox}
MOUNTPOINT=${MOUNTPOINT:-/mnt/seshfs}

if [ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null)" != true ]; then
	docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
	docker run -d --init --name "$CONTAINER" "$SESHFS_IMAGE" sleep 2147483647 >/dev/null
fi
mountpoint -q "$MOUNTPOINT" && fusermount3 -u "$MOUNTPOINT"
mkdir -p "$MOUNTPOINT"
"$SESHFS_BUILD/seshfs" "$CONTAINER" "$MOUNTPOINT"

S=$MOUNTPOINT/sessions
run() { echo "\$ $*"; sh -c "$*"; }
run "mkdir $S/demo"
run "ls $S $S/demo"
run "echo 'cd /tmp; export GREETING=hello; echo \$GREETING from \$(pwd); ls /nope' > $S/demo/stdin"
run "cat $S/demo/stdout"
run "cat $S/demo/stderr"
run "echo 'echo still in \$(pwd) with \$GREETING' > $S/demo/stdin; cat $S/demo/stdout"
run "cat $S/demo/ctl"
echo
echo "seshfs is mounted on $MOUNTPOINT (container $CONTAINER). Unmount: fusermount3 -u $MOUNTPOINT"
