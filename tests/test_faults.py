"""Faults and limits: a killed daemon frees its mount point and leaves no
process behind, a dead mount is named, the number of sessions is bounded, a
stopped container or engine ends its sessions cleanly and mkdir works again
once it is back."""
import errno
import hashlib
import os
import random
import signal
import subprocess
import threading

from conftest import SESHFS_BIN, Container, Mount, expect_errno, wait_until


def test_max_sessions_is_emfile_with_a_log_line(make_mount):
    m = make_mount(options=["max_sessions=2"])
    a = m.session("a")
    m.session("b")
    expect_errno(errno.EMFILE, os.mkdir, os.path.join(m.sessions, "c"))
    assert "mkdir c: 2 sessions already, the most max_sessions allows" in m.read_log()
    os.rmdir(a.dir)
    m.session("c")  # a removed session's place is free at once, its clean-up still running
    assert sorted(os.listdir(m.sessions)) == ["b", "c"]


def test_bad_max_sessions_is_refused(container, tmp_path):
    for bad in ("0", "x", "2000000"):
        r = subprocess.run([SESHFS_BIN, "-o", f"max_sessions={bad}", container.name, str(tmp_path)],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 1 and f"max_sessions '{bad}' must be 1 to 1000000" in r.stderr


def fusermount_helpers(path):
    """pids of the fusermount3 processes that watch path (auto_unmount)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [int(l.split(None, 1)[0]) for l in out.splitlines()[1:]
            if "fusermount3" in l and l.rstrip().endswith(path)]


def detachers(path):
    """pids of the live processes that detach path's mount once its seshfs is gone."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:].rsplit(") ", 1)
        if name == "seshfs-detach" and rest[0] not in "ZX" and path.encode() in args:
            found.append(int(pid))
    return found


def kill_9(m):
    os.kill(m.proc.pid, signal.SIGKILL)
    m.proc.wait(10)
    m.proc = None  # nothing left for the fixture to unmount or check


def usable(path):
    """The directory can be listed: no "Transport endpoint is not connected"."""
    try:
        os.listdir(path)
        return True
    except OSError:
        return False


def test_kill_9_frees_the_mount_point_at_once(make_mount, container):
    m = make_mount()
    kill_9(m)
    wait_until(lambda: usable(m.path), timeout=5, what="the mount point to be free")
    assert not os.path.ismount(m.path)
    again = subprocess.Popen([SESHFS_BIN, "-f", container.name, m.path], stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: os.path.ismount(m.path) or again.poll() is not None, timeout=30,
                   what="the new mount")
        assert again.poll() is None, again.stderr.read()
    finally:
        subprocess.run(["fusermount3", "-u", m.path])
        if again.poll() is None:
            again.terminate()  # a clean stop unmounts, should fusermount3 have come too early
        assert again.wait(30) == 0


def test_a_mount_point_left_by_a_dead_filesystem_is_named(make_mount, container):
    m = make_mount()
    helpers = fusermount_helpers(m.path)
    assert helpers, "auto_unmount's fusermount3 is running"
    assert detachers(m.path), "seshfs's detacher is running"
    for pid in helpers + detachers(m.path):  # without them, the mount outlives seshfs
        os.kill(pid, signal.SIGKILL)
    kill_9(m)
    assert not usable(m.path)
    try:
        r = subprocess.run([SESHFS_BIN, container.name, m.path], capture_output=True, text=True, timeout=20)
        assert r.returncode == 1
        assert r.stderr == (f"seshfs: {m.path} is still mounted by a filesystem that died; "
                            f"fusermount3 -u {m.path} frees it\n")
    finally:
        subprocess.run(["fusermount3", "-u", m.path])
    assert usable(m.path)


def test_kill_9_leaves_no_process_in_the_container(make_mount, container):
    m = make_mount()
    a, b = m.session(), m.session()
    a.send("sleep 3333 & setsid sleep 3335 & env -i sleep 3337 &\n")
    b.send("sleep 3334\n")
    wait_until(lambda: len(container.processes()) >= 6, what="the sessions' processes")
    assert len(container.watchdogs()) == 1
    kill_9(m)
    wait_until(lambda: container.processes() == [] and container.watchdogs() == [], timeout=5,
               what="everything the sessions started to go")
    wait_until(lambda: usable(m.path), timeout=5, what="the mount point to be free")


def test_kill_9_detaches_the_mount_without_fusermount3s_watcher(container, tmp_path):
    """fusermount3's watcher sometimes loses a race and leaves the mount dead: seshfs's
    detacher frees it even when that watcher is gone (here on a path that mountinfo escapes)."""
    m = Mount(str(tmp_path / "a mount\\point"), container).start()
    try:
        m.session().send("sleep 3339 &\n")
        for pid in fusermount_helpers(m.path):
            os.kill(pid, signal.SIGKILL)
        kill_9(m)
        wait_until(lambda: usable(m.path), timeout=5, what="the mount point to be free")
        assert not os.path.ismount(m.path)
        shown = m.path.replace("\\", "\\\\")  # as the log escapes it
        # The detacher writes its line after the detach the test has just seen.
        wait_until(lambda: m.read_log().endswith(
            f"seshfs: died without unmounting: the mount on {shown} is detached\n"),
            timeout=5, what="the detacher's log line")
        wait_until(lambda: detachers(m.path) == [], timeout=5, what="the detacher to exit")
    finally:
        m.unmount()


def test_the_detacher_holds_nothing_on_the_mount_and_a_clean_unmount_ends_it(make_mount):
    m = make_mount()
    [pid] = detachers(m.path)
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    assert not [f for f in held if f in ("/dev/fuse", m.path) or f.startswith(m.path + "/")], held
    r = subprocess.run(["fusermount3", "-u", m.path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr  # not busy: a plain unmount works
    assert m.proc.wait(30) == 0
    wait_until(lambda: detachers(m.path) == [], timeout=5, what="the detacher to exit")
    assert "detached" not in m.read_log()


def test_the_detacher_leaves_a_mount_that_is_not_seshfss(make_mount, tmp_path):
    m = make_mount()
    [pid] = detachers(m.path)
    os.kill(pid, signal.SIGSTOP)
    try:
        for helper in fusermount_helpers(m.path):
            os.kill(helper, signal.SIGKILL)
        kill_9(m)
        subprocess.run(["mount", "-t", "tmpfs", "seshfs-test-tmpfs", m.path], check=True)
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        wait_until(lambda: detachers(m.path) == [], timeout=5, what="the detacher to exit")
        with open("/proc/self/mountinfo") as f:
            on_path = [line.split(" - ")[1].split()[0] for line in f if line.split()[4] == m.path]
        assert on_path == ["fuse.seshfs", "tmpfs"]  # the dead mount, with another on top: both stay
        assert "detached" not in m.read_log()
    finally:
        subprocess.run(["umount", m.path])


def test_not_root_one_log_line_says_there_is_no_detacher(tmp_path):
    """Not root, seshfs leaves its mount to fusermount3 alone (here /dev/fuse is root's, so the
    run ends at an engine that is not there, after the line)."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    r = subprocess.run([*as_nobody, SESHFS_BIN, "-o", "docker_host=unix:///nonexistent.sock", "c", "/tmp"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == ("seshfs: not root: a killed seshfs's mount is left to fusermount3 "
                                        "(auto_unmount), which may leave it dead until fusermount3 -u")


def test_ten_kills_in_a_row_each_free_the_mount_point(container, tmp_path):
    """scripts/kill9.sh does the same a hundred times."""
    path = str(tmp_path / "mnt")
    for _ in range(10):
        m = Mount(path, container).start()
        m.session().send("sleep 3341 &\n")
        kill_9(m)
        try:
            wait_until(lambda: usable(path), timeout=5, what="the mount point to be free")
        finally:
            m.unmount()


def test_a_killed_watchdog_is_started_again(make_mount, container):
    m = make_mount()
    s = m.session()
    first = container.watchdogs()
    assert len(first) == 1
    container.sh(f"kill -9 {first[0]}")
    wait_until(lambda: len(container.watchdogs()) == 1 and container.watchdogs() != first,
               what="a new watchdog")
    assert "watchdog: its exec ended while seshfs runs; starting another" in m.read_log()
    s.send("sleep 3338 &\n")  # the new one knows the old session too
    wait_until(lambda: any(a == "sleep 3338" for _, a in container.processes()), what="sleep")
    kill_9(m)
    wait_until(lambda: container.processes() == [] and container.watchdogs() == [], timeout=5,
               what="everything to go")


def test_unmount_ends_the_watchdog(make_mount, container):
    m = make_mount()
    assert len(container.watchdogs()) == 1
    assert m.unmount() == 0
    wait_until(lambda: container.watchdogs() == [], timeout=5, what="the watchdog to end")


class ParkedRead(threading.Thread):
    """A read of stdout that waits for a command to finish."""

    def __init__(self, session):
        super().__init__(daemon=True)
        self.session = session
        self.data = None

    def run(self):
        with open(self.session.path("stdout"), "rb") as f:
            self.data = f.read()


def busy_session_with_a_reader(m):
    s = m.session()
    s.ctl("timeout 120")
    s.send("echo before; sleep 3340\n")
    reader = ParkedRead(s)
    reader.start()
    wait_until(lambda: os.stat(s.path("stdout")).st_size > 0 or reader.data is not None,
               what="the command to start")
    return s, reader


def assert_ended(m, s, reader, exit_code):
    """The session's end reached its reader (EOF, nothing lost) and its files."""
    reader.join(20)
    assert not reader.is_alive(), "the parked read ended"
    assert reader.data == b"before\n"
    wait_until(lambda: s.status()["state"] == "exited", what="state exited")
    # The exit code comes from the engine: it is shown once the engine said it.
    wait_until(lambda: "exit_code" in s.status() or "error" in s.status(), what="the exit code")
    assert s.status().get("exit_code", s.status().get("error")) in exit_code
    with open(s.path("stdout"), "rb") as f:
        assert f.read() == b""
    expect_errno(errno.EPIPE, s.send, "echo lost\n")


def test_container_stop_and_start(make_mount, fresh_container):
    m = make_mount(target=fresh_container)
    s, reader = busy_session_with_a_reader(m)
    fresh_container.docker("stop", "-t", "1", fresh_container.name)
    assert_ended(m, s, reader, ["137"])
    expect_errno(errno.ESRCH, os.mkdir, os.path.join(m.sessions, "while-stopped"))
    assert "mkdir while-stopped: " in m.read_log()
    fresh_container.docker("start", fresh_container.name)
    t = m.session("after")
    t.send("echo back\n")
    assert t.read() == b"back\n"
    assert sorted(os.listdir(m.sessions)) == sorted([s.name, "after"])
    os.rmdir(s.dir)


def test_engine_restart(make_mount, own_engine):
    c = Container("seshfs-restarted", host=own_engine.url).start()
    m = make_mount(target=c, options=[f"docker_host={own_engine.url}"])
    s, reader = busy_session_with_a_reader(m)
    own_engine.stop()
    # A stopping engine may answer the exit code, or be gone before it is asked.
    assert_ended(m, s, reader, ["137", "exit code unknown"])
    assert os.path.ismount(m.path)
    expect_errno(errno.ECONNREFUSED, os.mkdir, os.path.join(m.sessions, "while-down"))
    assert "mkdir while-down: " in m.read_log()
    own_engine.start()
    c.docker("start", c.name)
    t = m.session("after")
    t.send("echo back\n")
    assert t.read() == b"back\n"
    os.rmdir(s.dir)


def test_random_bytes_into_stdin_arrive_intact(mount, container):
    s = mount.session()
    s.ctl("timeout 30")
    payload = random.Random(7).randbytes(4 << 20)
    s.send(f"head -c {len(payload)} >/tmp/in.$$; md5sum </tmp/in.$$; rm /tmp/in.$$\n")
    # The payload goes once head reads: a shell reading ahead would take it as commands.
    wait_until(lambda: any(a.startswith(("head ", "{head}")) for _, a in container.processes()),
               what="head to run")
    s.send(payload)
    assert s.read() == f"{hashlib.md5(payload).hexdigest()}  -\n".encode()
    assert s.read("stderr") == b""
