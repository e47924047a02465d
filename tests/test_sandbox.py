"""-o image=REF: seshfs creates its own container with docker run's limits and
mounts, and stops and removes it at unmount (or keeps it with keep); a killed
seshfs leaves none behind."""
import json
import os
import signal
import socket

import pytest

from conftest import IMAGE, Container, docker, refused_mount, wait_until


def inspect(name):
    r = docker("inspect", name, check=False)
    return json.loads(r.stdout)[0] if r.returncode == 0 else None


def status(m):
    with open(os.path.join(m.path, "status")) as f:
        return dict(line.split(" ", 1) for line in f.read().splitlines())


@pytest.fixture
def sandbox(make_mount, container, tmp_path):
    """A mount with a container of its own; the fixture's container only anchors make_mount."""
    made = []

    def make(*options, target=None):
        m = make_mount([f"image={IMAGE}", *options], target=target, mount_only=True)
        m.sandbox = status(m)["container"]
        made.append(m.sandbox)
        return m
    yield make
    for name in made:
        docker("rm", "-f", name, check=False)


def test_limits_and_mounts_are_the_containers(sandbox, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("from the host\n")
    m = sandbox("memory=64m", "memory_swap=96m", "cpus=0.5", "pids=64", "network=none",
                f"volume={data}:/data:ro", "label=team=qa", "read_only", "no_new_privileges",
                "cap_drop=NET_RAW", "cap_drop=MKNOD", "env=GREETING=hi", "workdir=/tmp")
    info = inspect(m.sandbox)
    host = info["HostConfig"]
    assert (host["Memory"], host["MemorySwap"], host["NanoCpus"], host["PidsLimit"]) == \
        (64 << 20, 96 << 20, 500_000_000, 64)
    assert host["NetworkMode"] == "none" and host["Binds"] == [f"{data}:/data:ro"]
    assert host["ReadonlyRootfs"] and host["Tmpfs"] == {"/tmp": "rw,exec"}
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["CapDrop"] == ["NET_RAW", "MKNOD"]
    assert host["Init"] and host["AutoRemove"]
    labels = info["Config"]["Labels"]
    assert labels["team"] == "qa" and labels["seshfs.mountpoint"] == m.path
    assert labels["seshfs.host"] == socket.gethostname() and "seshfs.keep" not in labels
    assert "GREETING=hi" in info["Config"]["Env"] and info["Config"]["WorkingDir"] == "/tmp"
    st = status(m)
    assert (st["image"], st["memory"], st["memory_swap"], st["cpus"], st["pids"], st["network"]) == \
        (IMAGE, "64m", "96m", "0.5", "64", "none")
    assert st["container_state"] == "running"

    s = m.session()
    s.ctl("timeout 5")
    s.send("cat /data/f; touch /data/x; echo ro=$?; touch /tmp/y && echo tmp=0; touch /z; "
           "echo root=$?; echo $GREETING $(pwd)\n")
    assert s.read() == b"from the host\nro=1\ntmp=0\nroot=1\nhi /tmp\n"


def test_the_container_goes_at_unmount_and_stays_with_keep(sandbox):
    m = sandbox()
    assert inspect(m.sandbox)["State"]["Running"]
    assert m.unmount() == 0
    wait_until(lambda: inspect(m.sandbox) is None, what="the container to go")

    kept = sandbox("keep", "name=seshfs-test-kept")
    assert kept.sandbox == "seshfs-test-kept"
    assert inspect(kept.sandbox)["Config"]["Labels"]["seshfs.keep"] == "1"
    assert kept.unmount() == 0
    info = inspect(kept.sandbox)
    assert info is not None and not info["State"]["Running"]  # stopped only


def test_a_named_container_is_the_argument(make_mount, tmp_path):
    m = make_mount([f"image={IMAGE}"], target=Container("seshfs-test-named"))
    try:
        assert status(m)["container"] == "seshfs-test-named" and inspect("seshfs-test-named")
    finally:
        m.unmount()
        docker("rm", "-f", "seshfs-test-named", check=False)


def test_a_missing_image_mounts_nothing(tmp_path):
    r = refused_mount(tmp_path / "mnt", "-o", "image=seshfs-no-such-image:1")
    assert r.returncode == 1 and r.stderr == "seshfs: image 'seshfs-no-such-image:1' not found\n", r.stderr
    r = refused_mount(tmp_path / "mnt", "-o", f"image={IMAGE},memory=lots")
    assert r.returncode == 1 and r.stderr == "seshfs: memory 'lots' must be a size such as 512m or 1g\n"


def test_an_oom_kill_is_reported(sandbox):
    m = sandbox("memory=32m", "memory_swap=32m")
    s = m.session()
    s.ctl("timeout 20")
    assert s.status()["oom_kills"] == "0"
    s.send("sh -c 'x=$(head -c 100000000 /dev/zero | tr \"\\0\" a); echo survived'; echo exit=$?\n")
    assert s.read() == b"exit=137\n"
    assert int(s.status()["oom_kills"]) >= 1


def test_a_killed_seshfs_leaves_no_container(sandbox):
    m = sandbox()
    s = m.session()
    s.send("sleep 1000 &\n")
    os.kill(m.proc.pid, signal.SIGKILL)
    m.proc.wait(10)
    m.proc = None
    wait_until(lambda: inspect(m.sandbox) is None, timeout=15, what="the container to go")
