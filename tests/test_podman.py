"""Podman through its Docker-compatible socket: a podman system service the test
starts, a container made with podman, and seshfs mounted on it; and the socket
found by itself where Docker's is absent. scripts/setup.sh installs podman, loads
the test image into its store, and sets rlimits podman can apply where needed."""
import os
import subprocess
import time
import uuid

import pytest

from conftest import IMAGE, SESHFS_BIN, Mount, wait_until

PODMAN_IMAGE = f"localhost/{IMAGE}"


def podman(*args, check=True):
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def podman_socket(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("podman") / "podman.sock")
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{path}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: os.path.exists(path), what="podman's socket")
    yield path
    service.terminate()
    service.wait(30)


class PodmanContainer:
    def __init__(self):
        self.name = f"seshfs-podman-{uuid.uuid4().hex[:8]}"
        podman("run", "-d", "--name", self.name, "--network", "none", PODMAN_IMAGE, "sleep", "2147483647")

    def processes(self):
        """What runs besides the container's own process, ps and the mount's watchdog (zombies left
        by a PID 1 that reaps nothing do not run)."""
        out = podman("exec", self.name, "ps", "-o", "pid,stat,args").stdout.splitlines()[1:]
        return [line for line in out if not line.split()[0] == "1" and " ps -o" not in line and
                "seshfs-watchdog" not in line and not line.split()[1].startswith("Z")]

    def watchdogs(self):
        return [line for line in podman("exec", self.name, "ps", "-o", "args").stdout.splitlines()
                if "seshfs-watchdog" in line]

    def remove(self):
        podman("rm", "-f", self.name, check=False)


@pytest.fixture
def podman_container(podman_socket):
    c = PodmanContainer()
    yield c
    c.remove()


def test_sessions_over_podman(podman_socket, podman_container, tmp_path):
    m = Mount(str(tmp_path / "mnt"), podman_container, [f"docker_host=unix://{podman_socket}"]).start()
    try:
        s = m.session()
        s.ctl("timeout 10")
        start = time.monotonic()
        s.send("echo via podman; cd /tmp\n")
        assert s.read() == b"via podman\n" and time.monotonic() - start < 5  # completion, not the deadline
        assert s.status()["cwd"] == "/tmp"
        s.send("sleep 100; echo not reached\n")
        time.sleep(0.3)
        s.ctl("signal INT")
        assert s.read() == b"" and s.status()["last_exit"] == "130"
        s.send("sleep 3333 &\n")
        s.read()
        t = m.session()
        t.ctl("timeout 10\ntty on\necho off\nrestart")
        t.ctl("resize 100 30")
        t.send("stty size\n")
        assert t.read() == b"30 100\r\n"
        assert len(podman_container.processes()) >= 3  # two shells and the background job
        os.rmdir(s.dir)
        os.rmdir(t.dir)
        wait_until(lambda: podman_container.processes() == [], what="the sessions' processes to go")
    finally:
        assert m.unmount() == 0, m.read_log()
    wait_until(lambda: podman_container.watchdogs() == [], what="the watchdog to go")


def test_podmans_socket_is_found_where_dockers_is_absent(podman_socket, podman_container, tmp_path):
    """In a mount namespace of its own, /run (so /var/run/docker.sock) is hidden and Podman's
    socket is where a rootful podman puts it; seshfs, with no DOCKER_HOST, is driven from a shell
    in that namespace."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = f"""
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/podman && touch /run/podman/podman.sock
mount --bind {podman_socket} /run/podman/podman.sock
{SESHFS_BIN} -f {podman_container.name} {mnt} 2>{tmp_path}/log &
i=0; until mountpoint -q {mnt}; do i=$((i + 1)); [ $i -lt 200 ] || exit 3; sleep 0.05; done
mkdir {mnt}/sessions/a
echo 'echo found podman' > {mnt}/sessions/a/stdin
cat {mnt}/sessions/a/stdout
fusermount3 -u {mnt}
wait
"""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                       env=env)
    log = (tmp_path / "log").read_text()
    assert r.returncode == 0 and r.stdout == "found podman\n", (r, log)
    assert "(engine unix:///run/podman/podman.sock)" in log
