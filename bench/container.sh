# Sourced by bench/run.sh and bench/compare.sh: sets everything up (like
# scripts/demo.sh) and starts the benchmark's own container, removed at exit.
. "$(dirname "$0")/../scripts/setup.sh"
seshfs_setup
CONTAINER=seshfs-bench
docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
docker run -d --init --name "$CONTAINER" "$SESHFS_IMAGE" sleep 2147483647 >/dev/null
trap 'docker rm -f "$CONTAINER" >/dev/null 2>&1' EXIT
