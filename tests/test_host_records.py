"""The host's records of the sandboxes seshfs made (-o image=): a record per
container, written before it starts and removed with it. The sweep at the
next mount on a mount point removes only a recorded container: one that
merely carries seshfs's labels (set by hand, or copied by docker commit)
stays."""
import json
import os
import signal
import uuid

import pytest

from conftest import IMAGE, Container, Mount, docker, wait_until

RECORDS = "/var/lib/seshfs/sandboxes"


def inspect(name):
    r = docker("inspect", "--type", "container", name, check=False)
    return json.loads(r.stdout)[0] if r.returncode == 0 else None


def running(name):
    info = inspect(name)
    return info is not None and info["State"]["Running"]


@pytest.fixture
def sandboxes(container):
    """sandbox(path, *options, env=None): a -o image= mount on path; the same path again is
    the next mount on that mount point."""
    made = []

    def make(path, *options, env=None):
        m = Mount(str(path), container, [f"image={IMAGE}", *options], env=env, mount_only=True)
        m.sandbox = None
        made.append(m)
        m.start()
        with open(os.path.join(m.path, "status")) as f:
            m.sandbox = dict(line.split(" ", 1) for line in f.read().splitlines())["container"]
        return m
    yield make
    failures = []
    for m in reversed(made):  # the last one on a mount point first: a killed one's lazy unmount then finds none
        if m.unmount() != 0:
            failures.append(m.read_log())
        if m.sandbox:
            docker("rm", "-f", m.sandbox, check=False)
    assert not failures, "\n".join(failures)


def kill_leaving_the_sandbox(m):
    """Kills seshfs with -9 so that its container outlives it: stopped first, it cannot start
    another watchdog once the container's watchdog is killed."""
    os.kill(m.proc.pid, signal.SIGSTOP)
    sandbox = Container(m.sandbox)
    for pid in sandbox.watchdogs():
        sandbox.sh(f"kill -9 {pid}")
    os.kill(m.proc.pid, signal.SIGKILL)
    m.proc.wait(10)
    m.proc = None
    # A dead mount cannot be stat'ed: a directory again once it is gone.
    wait_until(lambda: os.path.isdir(m.path) and not os.path.ismount(m.path), timeout=10,
               what="the dead mount to go")
    assert running(m.sandbox)


def test_a_sandbox_a_killed_seshfs_left_is_swept_at_the_next_mount(sandboxes, tmp_path):
    path = tmp_path / "mnt"
    m = sandboxes(path)
    record = os.path.join(RECORDS, inspect(m.sandbox)["Id"])
    with open(record) as f:
        content = json.load(f)
    assert content["mountpoint"] == str(path) and content["name"] == m.sandbox
    assert content["engine"].startswith("unix://")
    assert os.stat(record).st_mode & 0o777 == 0o600 and os.stat(RECORDS).st_mode & 0o777 == 0o700
    kill_leaving_the_sandbox(m)
    assert os.path.exists(record)
    again = sandboxes(path)
    assert inspect(m.sandbox) is None
    assert (f"seshfs: removed container {os.path.basename(record)[:12]}, "
            "left by an earlier seshfs on this mount point\n") in again.read_log()
    assert not os.path.exists(record)


def test_a_hand_labelled_running_container_is_not_swept(sandboxes, tmp_path):
    path = tmp_path / "mnt"
    m = sandboxes(path)
    info = inspect(m.sandbox)
    record = os.path.join(RECORDS, info["Id"])
    assert os.path.exists(record)
    assert m.unmount() == 0
    assert not os.path.exists(record)  # removed with its container
    name = f"seshfs-test-labelled-{uuid.uuid4().hex[:8]}"
    labels = [arg for k, v in info["Config"]["Labels"].items() for arg in ("--label", f"{k}={v}")]
    docker("run", "-d", "--name", name, *labels, IMAGE, "sleep", "1000")
    try:
        again = sandboxes(path)
        assert running(name)
        assert "left by an earlier seshfs" not in again.read_log()
    finally:
        docker("rm", "-f", name, check=False)


def test_a_container_run_from_a_commit_of_a_sandbox_is_not_swept(sandboxes, tmp_path):
    path = tmp_path / "mnt"
    m = sandboxes(path)
    image = f"seshfs-test-commit-{uuid.uuid4().hex[:8]}"
    name = image
    docker("commit", m.sandbox, image)
    try:
        assert m.unmount() == 0
        docker("run", "-d", "--name", name, "--entrypoint", "sleep", image, "1000")
        assert inspect(name)["Config"]["Labels"]["seshfs.mountpoint"] == str(path)  # commit copied them
        again = sandboxes(path)
        assert running(name)
        assert "left by an earlier seshfs" not in again.read_log()
    finally:
        docker("rm", "-f", name, check=False)
        docker("rmi", image, check=False)


def test_records_that_cannot_be_kept_are_one_line_and_no_sweep(sandboxes, tmp_path):
    """$STATE_DIRECTORY (systemd's) moves the records; where none can be kept, a mount says so
    once and sweeps nothing: a leftover recorded elsewhere stays until a mount that reads its record."""
    path = tmp_path / "mnt"
    state = tmp_path / "state"
    m = sandboxes(path, env=dict(os.environ, STATE_DIRECTORY=str(state)))
    record = state / "sandboxes" / inspect(m.sandbox)["Id"]
    assert record.exists()
    kill_leaving_the_sandbox(m)
    blocker = tmp_path / "file"
    blocker.write_text("")
    unkept = sandboxes(path, env=dict(os.environ, STATE_DIRECTORY=str(blocker)))
    log = unkept.read_log()
    assert log.count("sandbox records") == 1
    assert (f"seshfs: sandbox records: {blocker}/sandboxes: Not a directory; "
            "a sandbox a killed seshfs leaves will not be swept\n") in log
    assert running(m.sandbox) and record.exists()
    assert unkept.unmount() == 0
    sandboxes(path, env=dict(os.environ, STATE_DIRECTORY=str(state)))
    assert inspect(m.sandbox) is None and not record.exists()


def test_a_kept_sandbox_is_neither_recorded_nor_swept(sandboxes, tmp_path):
    path = tmp_path / "mnt"
    kept = sandboxes(path, "keep", f"name=seshfs-test-kept-{uuid.uuid4().hex[:8]}")
    assert not os.path.exists(os.path.join(RECORDS, inspect(kept.sandbox)["Id"]))
    assert kept.unmount() == 0
    sandboxes(path)
    assert inspect(kept.sandbox) is not None  # stopped, and left to its owner


def test_records_of_containers_gone_by_themselves_go_and_no_other_is_touched(sandboxes, container, tmp_path):
    """A killed seshfs's container usually goes by itself (its watchdog ends it): its record
    goes at the next sandbox mount on the same engine, whatever the mount point; the record of
    a container that still exists stays, and so does the container, unless it is this mount point's."""
    env = dict(os.environ, STATE_DIRECTORY=str(tmp_path / "state"))
    records = tmp_path / "state" / "sandboxes"
    m = sandboxes(tmp_path / "a", env=env)
    engine = json.loads((records / inspect(m.sandbox)["Id"]).read_text())["engine"]
    gone = records / (uuid.uuid4().hex * 2)
    alive = records / inspect(container.name)["Id"]
    for record in (gone, alive):
        record.write_text(json.dumps({"engine": engine, "mountpoint": "/elsewhere", "name": "x"}))
    sandboxes(tmp_path / "b", env=env)
    assert not gone.exists() and alive.exists() and container.running()
