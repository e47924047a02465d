# Sourced by bench/run.sh and bench/compare.sh: sets everything up (like
# scripts/demo.sh) and starts the benchmark's own container, removed at exit.
. "$(dirname "$0")/../scripts/setup.sh"
seshfs_setup
# A name per run: a benchmark running at the same time keeps its own container.
CONTAINER=seshfs-bench-$$
docker run -d --init --name "$CONTAINER" "$SESHFS_IMAGE" sleep 2147483647 >/dev/null
trap 'docker rm -f "$CONTAINER" >/dev/null 2>&1' EXIT
