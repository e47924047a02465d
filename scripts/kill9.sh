#!/bin/sh
# kill -9 of seshfs COUNT times in a row on one mount point, each time with a
# session running a command: the mount point must be free again (listable, not
# ENOTCONN, not a mount) within BOUND seconds. As root (the detacher needs it).
#   scripts/kill9.sh [COUNT] [BOUND]        (default: 100 kills, 5 s)
# SESHFS_BIN names the binary (default: build/seshfs), SESHFS_IMAGE the image.
# Prints one line: the kills, how many left the mount point dead, how many the
# detacher freed (the rest fusermount3's auto_unmount did), and the slowest.
set -eu

COUNT=${1:-100}
BOUND=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SESHFS_BIN:-$ROOT/build/seshfs}
IMAGE=${SESHFS_IMAGE:-seshfs-sandbox:2}
CONTAINER=seshfs-kill9-$$
WORK=$(mktemp -d)
MNT=$WORK/mnt
mkdir "$MNT"

cleanup() {
	fusermount3 -uz "$MNT" 2>/dev/null || true
	docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
docker run -d --init --network none --name "$CONTAINER" "$IMAGE" sleep 2147483647 >/dev/null

mounted() { grep -q " $MNT " /proc/self/mountinfo; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Who freed the mount point: the detacher says so in the log, just after it did.
count_detached() {
	if [ -f "$WORK/log" ] && grep -q "died without unmounting" "$WORK/log"; then
		detached=$((detached + 1))
	fi
}

dead=0 detached=0 slowest=0 i=0
while [ $i -lt "$COUNT" ]; do
	i=$((i + 1))
	count_detached
	"$BIN" -f "$CONTAINER" "$MNT" >"$WORK/log" 2>&1 &
	pid=$!
	t=0
	until mounted && [ -d "$MNT/sessions" ]; do
		t=$((t + 1))
		if [ $t -gt 300 ] || ! kill -0 $pid 2>/dev/null; then
			echo "kill $i: seshfs did not mount:" >&2
			cat "$WORK/log" >&2
			exit 1
		fi
		sleep 0.1
	done
	mkdir "$MNT/sessions/s"
	echo 'sleep 3343 &' >"$MNT/sessions/s/stdin"
	kill -9 $pid
	wait $pid 2>/dev/null || true
	start=$(now_ms)
	deadline=$((start + BOUND * 1000))
	until ls "$MNT" >/dev/null 2>&1 && ! mounted; do
		if [ "$(now_ms)" -gt $deadline ]; then
			dead=$((dead + 1))
			echo "kill $i: the mount point is still dead after ${BOUND}s" >&2
			fusermount3 -uz "$MNT"
			break
		fi
		sleep 0.01
	done
	took=$(($(now_ms) - start))
	[ $took -gt $slowest ] && slowest=$took
done
sleep 0.2
count_detached
echo "kill9: $COUNT kills, $dead left the mount point dead, the detacher freed it $detached times," \
	"slowest ${slowest} ms"
[ $dead -eq 0 ]
