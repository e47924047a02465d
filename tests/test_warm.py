"""-o warm=N: shells started ahead with the mount's defaults, taken by mkdir."""
import errno
import os
import signal
import subprocess
import time

from conftest import Mount, expect_errno, wait_until
from test_podman import podman_container, podman_socket  # noqa: F401 (fixtures)


def status(m):
    with open(os.path.join(m.path, "status")) as f:
        return dict(line.split(" ", 1) for line in f.read().splitlines())


def wait_warm(m, n):
    wait_until(lambda: status(m)["warm"] == str(n), timeout=20, what=f"warm {n}")


def session_id(s):
    """The session's id, from its directory's inode (16 + 8 x id)."""
    return (os.stat(s.dir).st_ino - 16) // 8


def shells(container):
    """The session shells in the container (the wrapper execs the shell: one process each)."""
    return [p for p in container.processes() if "bash" in p[1]]


def test_status_counts_the_ready_pool_shells_and_ls_never_shows_them(make_mount, container):
    m = make_mount(options=["warm=2"])
    wait_warm(m, 2)
    st = status(m)
    assert st["sessions"] == "0"
    assert os.listdir(m.sessions) == []
    assert len(shells(container)) == 2
    s = m.session("only")
    assert os.listdir(m.sessions) == ["only"]
    wait_warm(m, 2)  # refilled
    assert os.listdir(m.sessions) == ["only"]
    assert status(m)["sessions"] == "1"
    assert len(shells(container)) == 3
    os.rmdir(s.dir)
    wait_until(lambda: len(shells(container)) == 2, what="the session's shell to go")


def test_a_mount_without_warm_keeps_no_shell(make_mount, container):
    m = make_mount()
    time.sleep(1)
    assert status(m)["warm"] == "0"
    assert shells(container) == []


def test_a_taken_shell_is_the_new_sessions_own(make_mount, container):
    m = make_mount(options=["warm=2"])
    wait_warm(m, 2)
    time.sleep(1.5)  # the session's times are its mkdir's, not its shell's start
    before = time.time()
    s = m.session("taken")
    assert os.stat(s.dir).st_mtime >= before - 0.01
    s.send("echo hello; printf '%s\\n' \"$SESHFS_SESSION\"; echo oops >&2; (exit 3)\n")
    out = s.read()
    lines = out.decode().splitlines()
    assert lines[0] == "hello"
    # The marker in the shell's environment names this session: its clean-up finds what it starts.
    assert lines[1].endswith(".%010d" % session_id(s)) and len(lines) == 2, out
    assert s.read("stderr") == b"oops\n"
    assert s.status()["last_exit"] == "3"
    # Its transcript and history begin with the session, not with the pool.
    assert s.read_file("transcript").startswith(b"echo hello;")
    assert s.read_file("history").count(b"\n") == 1
    s.send("sleep 1000 & sleep 1001 &\n")
    assert s.read() == b""
    wait_until(lambda: len(container.processes()) >= 4, what="the sleeps")
    os.rmdir(s.dir)
    wait_until(lambda: not any("sleep 100" in a for _, a in container.processes()),
               what="the session's processes to go")


def test_mkdir_returns_at_once_while_the_engine_stalls(make_mount, container, proxy):
    """A ready pool shell answers mkdir without asking the engine anything."""
    m = make_mount(options=[f"docker_host=unix://{proxy.path}", "warm=1"])
    wait_warm(m, 1)
    proxy.stall()
    try:
        start = time.monotonic()
        s = m.session("quick")
        took = time.monotonic() - start
        assert took < 3, took  # a start of its own would wait for the engine (15 s)
        assert os.listdir(m.sessions) == ["quick"]
    finally:
        proxy.resume()
    s.send("echo after\n")
    assert s.read_until(b"after\n") == b"after\n"


def test_the_pool_refills_and_replaces_a_shell_that_died(make_mount, container):
    m = make_mount(options=["warm=2"])
    wait_warm(m, 2)
    a = m.session("a")
    b = m.session("b")
    wait_warm(m, 2)
    assert len(shells(container)) == 4
    mine = {p for p, _ in shells(container)}
    for s in (a, b):
        s.send("echo $$\n")
        mine -= {int(s.read())}
    assert len(mine) == 2  # the pool's
    container.sh(f"kill -9 {min(mine)}")
    wait_until(lambda: min(mine) not in {p for p, _ in shells(container)}, what="the kill")
    wait_warm(m, 2)
    assert len(shells(container)) == 4
    assert sorted(os.listdir(m.sessions)) == ["a", "b"]
    for name in ("c", "d"):
        s = m.session(name)
        s.send(f"echo {name}\n")
        assert s.read() == f"{name}\n".encode()


def test_pool_shells_count_toward_max_sessions_and_give_way(make_mount, container):
    m = make_mount(options=["warm=2", "max_sessions=2"])
    wait_warm(m, 2)
    a = m.session("a")
    b = m.session("b")
    expect_errno(errno.EMFILE, os.mkdir, os.path.join(m.sessions, "c"))
    time.sleep(1.5)
    st = status(m)
    assert st["warm"] == "0" and st["sessions"] == "2"
    assert len(shells(container)) == 2
    for s in (a, b):
        s.send(f"echo {s.name}\n")
        assert s.read() == f"{s.name}\n".encode()
    os.rmdir(a.dir)
    wait_warm(m, 1)  # the room an rmdir frees goes to the pool again
    wait_until(lambda: len(shells(container)) == 2, what="a's shell to go")
    time.sleep(1.5)
    assert status(m)["warm"] == "1" and len(shells(container)) == 2


def test_a_warm_shell_under_max_sessions_1_leaves_room_for_the_mkdir(make_mount, container):
    m = make_mount(options=["warm=3", "max_sessions=1"])
    wait_warm(m, 1)
    s = m.session("one")
    s.send("echo one\n")
    assert s.read() == b"one\n"
    expect_errno(errno.EMFILE, os.mkdir, os.path.join(m.sessions, "two"))


def test_unmount_ends_the_pool_shells(make_mount, container):
    m = make_mount(options=["warm=2"])
    wait_warm(m, 2)
    s = m.session("x")
    s.send("sleep 1000 &\n")
    assert len(shells(container)) == 3
    subprocess.run(["fusermount3", "-u", m.path], check=True)
    assert m.proc.wait(30) == 0
    assert container.processes() == []


def test_an_unmount_while_the_pool_starts_leaves_nothing(make_mount, container):
    m = make_mount(options=["warm=4"])
    subprocess.run(["fusermount3", "-u", m.path], check=True)
    assert m.proc.wait(30) == 0
    assert container.processes() == []


def test_a_shell_that_cannot_start_is_not_retried_in_a_loop(make_mount, container):
    m = make_mount(options=["warm=2", "shell=/no/such/shell"])
    time.sleep(3)
    assert status(m)["warm"] == "0"
    failures = [l for l in m.read_log().splitlines() if "warm shell" in l]
    assert len(failures) == 1, failures
    assert "tries again in 5 s" in failures[0]
    expect_errno(errno.ENOENT, os.mkdir, os.path.join(m.sessions, "s"))
    assert os.listdir(m.sessions) == []
    # Each failure in a row doubles the wait.
    again = wait_until(lambda: [l for l in m.read_log().splitlines() if "warm shell" in l][1:],
                       timeout=10, what="the second try")
    assert "tries again in 10 s" in again[0], again


def test_a_kill_9_leaves_no_pool_shell(make_mount, container):
    m = make_mount(options=["warm=2"])
    wait_warm(m, 2)
    m.session("a").send("sleep 3333 &\n")
    wait_until(lambda: len(container.processes()) >= 4, what="the shells and the sleep")
    os.kill(m.proc.pid, signal.SIGKILL)
    m.proc.wait(10)
    m.proc = None  # nothing left for the fixture to unmount
    wait_until(lambda: container.processes() == [] and container.watchdogs() == [], timeout=5,
               what="the watchdog to end the pool's shells and the session's")


def test_a_tty_mount_keeps_tty_shells_of_its_size(make_mount, container):
    m = make_mount(options=["warm=1", "tty", "echo=off"])
    wait_warm(m, 1)
    s = m.session()
    s.send("stty size; tty | cut -c1-8\n")
    assert s.read_until(b"24 80\r\n/dev/pts\r\n") == b"24 80\r\n/dev/pts\r\n"


def test_warm_shells_over_podman(podman_socket, podman_container, tmp_path):
    m = Mount(str(tmp_path / "mnt"), podman_container, [f"docker_host=unix://{podman_socket}", "warm=2"]).start()
    try:
        wait_warm(m, 2)
        assert len(podman_container.processes()) == 2
        s = m.session("p")
        s.send("echo via podman; sleep 3333 &\n")
        assert s.read_until(b"via podman\n") == b"via podman\n"
        assert os.listdir(m.sessions) == ["p"]
        wait_warm(m, 2)
    finally:
        assert m.unmount() == 0, m.read_log()
    wait_until(lambda: podman_container.processes() == [] and podman_container.watchdogs() == [],
               what="the pool's shells and the session's to go")


def test_mkdirs_faster_than_the_pool_refills_all_get_working_sessions(make_mount, container):
    """Back to back, most mkdirs find no ready shell and take one still starting."""
    m = make_mount(options=["warm=2"])
    wait_warm(m, 2)
    sessions = [m.session(f"b{i}") for i in range(8)]
    for s in sessions:
        s.send(f"echo {s.name} $$\n")
    pids = set()
    for s in sessions:
        name, pid = s.read().split()
        assert name == s.name.encode()
        pids.add(int(pid))
    assert len(pids) == 8
    assert sorted(os.listdir(m.sessions)) == sorted(s.name for s in sessions)
    wait_warm(m, 2)
    assert len(shells(container)) == 10


def test_idle_timeout_spares_the_pool_and_counts_from_the_mkdir(make_mount, container):
    m = make_mount(options=["warm=1", "idle_timeout=2"])
    wait_warm(m, 1)
    time.sleep(3)  # the pool shell is older than idle_timeout, and still there
    assert status(m)["warm"] == "1"
    s = m.session("fresh")
    time.sleep(1.2)  # an idle check or more
    assert os.listdir(m.sessions) == ["fresh"]
    wait_until(lambda: os.listdir(m.sessions) == [], timeout=5, what="the idle session to close")
    assert "closed after 2 s" in m.read_log()
