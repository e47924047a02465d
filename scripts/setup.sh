#!/bin/sh
# seshfs set-up for a fresh Debian 12 machine, as root. Idempotent:
#   - installs the packages seshfs builds, runs and is tested with;
#   - starts dockerd when no engine answers;
#   - builds the local sandbox image (no registry is needed);
#   - builds seshfs into $SESHFS_BUILD (default: build/).
# Sourced by demo.sh and test.sh; can be run alone.
set -eu

SESHFS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SESHFS_BUILD=${SESHFS_BUILD:-$SESHFS_ROOT/build}
SESHFS_IMAGE=${SESHFS_IMAGE:-seshfs-sandbox:2}
SESHFS_PACKAGES="build-essential pkg-config meson ninja-build libfuse3-dev fuse3 \
libcurl4-openssl-dev libjansson-dev libpcre2-dev docker.io busybox-static python3 python3-pytest \
socat procps openssl podman containernetworking-plugins openssh-server openssh-client dash strace"

log() { echo "seshfs-setup: $*" >&2; }

install_packages() {
	missing=
	for p in $SESHFS_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

start_engine() {
	docker info >/dev/null 2>&1 && return 0
	# A dockerd still starting or shutting down holds its pid file: wait for it
	# to answer or to exit, since a second one would refuse to start.
	i=0
	while [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; do
		docker info >/dev/null 2>&1 && return 0
		i=$((i + 1))
		if [ $i -gt 60 ]; then
			log "dockerd (pid $(cat /var/run/docker.pid)) neither answers nor exits"
			return 1
		fi
		sleep 0.5
	done
	log "starting dockerd"
	setsid dockerd >/var/log/seshfs-dockerd.log 2>&1 < /dev/null &
	i=0
	until docker info >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 60 ]; then
			log "dockerd did not answer within 30 s; its log:"
			tail -n 20 /var/log/seshfs-dockerd.log >&2
			return 1
		fi
		sleep 0.5
	done
}

# A busybox root file system (plus bash), imported: nothing is pulled.
build_image() {
	docker image inspect "$SESHFS_IMAGE" >/dev/null 2>&1 && return 0
	log "building image $SESHFS_IMAGE"
	root=$(mktemp -d)
	mkdir -p "$root/bin" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/etc" "$root/root"
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for applet in $("$root/bin/busybox" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
	done
	# bash too, with the libraries it links, for sessions started with shell=/bin/bash.
	rm -f "$root/bin/bash"
	cp /bin/bash "$root/bin/bash"
	for lib in $(ldd /bin/bash | awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
	echo 'root:x:0:' > "$root/etc/group"
	tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' - "$SESHFS_IMAGE" >/dev/null
	rm -rf "$root"
}

# Podman, for its Docker-compatible socket (tests/test_podman.py): the test
# image in its store, and, only where podman's default rlimits cannot be
# applied (a hard nofile limit below its default), limits it can apply.
podman_setup() {
	podman image exists "localhost/$SESHFS_IMAGE" 2>/dev/null ||
		docker save "$SESHFS_IMAGE" | podman load -q >/dev/null
	podman run --rm --network none "localhost/$SESHFS_IMAGE" true >/dev/null 2>&1 && return 0
	grep -qs default_ulimits /etc/containers/containers.conf && return 0
	log "podman cannot apply its default rlimits here: setting default_ulimits in containers.conf"
	mkdir -p /etc/containers
	printf '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n' \
		>> /etc/containers/containers.conf
}

build_seshfs() {
	if [ ! -f "$SESHFS_BUILD/build.ninja" ]; then
		# shellcheck disable=SC2086
		meson setup "$SESHFS_BUILD" "$SESHFS_ROOT" ${SESHFS_MESON_OPTIONS:-} >/dev/null
	fi
	ninja -C "$SESHFS_BUILD" >/dev/null
}

seshfs_setup() {
	install_packages
	start_engine
	build_image
	podman_setup
	build_seshfs
}

case "$0" in
*setup.sh) seshfs_setup ;;
esac
