"""seshfs core: the tree, mkdir/rmdir, stdin/stdout/stderr, ctl, and clean-up."""
import errno
import os
import signal
import stat
import subprocess
import threading
import time

import pytest

from conftest import SESHFS_BIN, expect_errno, shell, wait_until

SEQ = b"".join(b"%d\n" % i for i in range(1, 200001))


# ---- command line ----

def run_seshfs(*args, timeout=20):
    return subprocess.run([SESHFS_BIN, *args], capture_output=True, text=True, timeout=timeout)


def test_missing_container_mounts_nothing(tmp_path):
    r = run_seshfs("no-such-container-xyz", str(tmp_path))
    assert r.returncode != 0
    assert r.stderr == "seshfs: container 'no-such-container-xyz' does not exist\n"
    assert not os.path.ismount(tmp_path)


def test_stopped_container_mounts_nothing(fresh_container, tmp_path):
    subprocess.run(["docker", "stop", "-t", "0", fresh_container.name], check=True,
                   capture_output=True)
    r = run_seshfs(fresh_container.name, str(tmp_path))
    assert r.returncode != 0
    assert r.stderr == f"seshfs: container '{fresh_container.name}' is not running\n"
    assert not os.path.ismount(tmp_path)


def test_unreachable_engine_mounts_nothing(container, tmp_path):
    r = run_seshfs("-o", "docker_host=unix:///nonexistent.sock", container.name, str(tmp_path))
    assert r.returncode != 0
    assert r.stderr.startswith("seshfs: cannot reach the Docker engine at unix:///nonexistent.sock")
    assert r.stderr.count("\n") == 1
    assert not os.path.ismount(tmp_path)


def test_bad_options_are_refused(container, tmp_path):
    r = run_seshfs("-o", "timeout=-1", container.name, str(tmp_path))
    assert r.returncode != 0 and r.stderr == "seshfs: timeout '-1' is not a number of seconds >= 0\n"
    r = run_seshfs("-o", "docker_host=http://x", container.name, str(tmp_path))
    assert r.returncode != 0 and r.stderr == \
        "seshfs: docker host 'http://x': expected unix:///path, tcp://host:port or ssh://[user@]host[:port]\n"
    r = run_seshfs(container.name)
    assert r.returncode != 0 and r.stderr.startswith("usage:")


def test_help_and_version():
    r = run_seshfs("-h")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: ")
    for opt in ("docker_host=URL", "timeout=SECONDS", "shell=PATH", "bufsize=BYTES"):
        assert opt in r.stdout
    r = run_seshfs("-V")
    assert r.returncode == 0 and r.stdout.startswith("seshfs version ")


def test_docker_host_from_environment_and_option(make_mount, tmp_path):
    env = dict(os.environ, DOCKER_HOST="unix:///var/run/docker.sock")
    m = make_mount(env=env)
    s = m.session()
    s.send("echo env\n")
    assert s.read_until(b"env\n") == b"env\n"
    m2 = make_mount(options=["docker_host=unix:///var/run/docker.sock"])
    s2 = m2.session()
    s2.send("echo opt\n")
    assert s2.read_until(b"opt\n") == b"opt\n"


def test_docker_host_over_tcp(make_mount):
    """A tcp:// engine (socat forwards a loopback port to the engine's socket)."""
    port = 23750 + os.getpid() % 200
    relay = subprocess.Popen(["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
                              "UNIX-CONNECT:/var/run/docker.sock"])
    try:
        wait_until(lambda: shell(f"socat -u /dev/null TCP:127.0.0.1:{port}").returncode == 0,
                   what="socat relay")
        m = make_mount(options=[f"docker_host=tcp://127.0.0.1:{port}"])
        s = m.session()
        s.send("echo over tcp; echo err >&2\n")
        assert s.read_until(b"over tcp\n") == b"over tcp\n"
        assert s.read_until(b"err\n", "stderr") == b"err\n"
        s.ctl("signal INT")
        os.rmdir(s.dir)
        # The engine goes away: mkdir fails cleanly, with a log line, and leaves nothing.
        relay.kill()
        relay.wait()
        expect_errno(errno.ECONNREFUSED, os.mkdir, os.path.join(m.sessions, "down"))
        assert os.listdir(m.sessions) == []
        assert "mkdir down: cannot reach the Docker engine at tcp://127.0.0.1:" in m.read_log()
    finally:
        relay.kill()
        relay.wait()


def test_timeout_and_shell_options(make_mount):
    m = make_mount(options=["timeout=2.5", "shell=/bin/ash"])
    s = m.session()
    assert s.status()["timeout"] == "2.5"
    s.send("head -c 8 /proc/$$/cmdline; echo\n")
    assert s.read_until(b"/bin/ash\n") == b"/bin/ash\n"


def test_missing_shell_fails_mkdir_cleanly(make_mount):
    m = make_mount(options=["shell=/bin/no-such-shell"])
    expect_errno(errno.ENOENT, os.mkdir, os.path.join(m.sessions, "x"))
    assert os.listdir(m.sessions) == []
    assert "shell /bin/no-such-shell not found" in m.read_log()


# ---- the tree ----

def test_tree_modes_owner_and_listing(mount):
    assert sorted(os.listdir(mount.path)) == ["sessions", "status"]
    assert os.listdir(mount.sessions) == []
    a = mount.session("alpha")
    b = mount.session("beta.2_x-y")
    assert sorted(os.listdir(mount.sessions)) == ["alpha", "beta.2_x-y"]
    assert sorted(os.listdir(a.dir)) == ["ctl", "history", "stderr", "stdin", "stdout", "transcript"]
    modes = {f: stat.S_IMODE(os.stat(a.path(f)).st_mode) for f in os.listdir(a.dir)}
    assert modes == {"stdin": 0o200, "stdout": 0o400, "stderr": 0o400, "ctl": 0o600,
                     "transcript": 0o400, "history": 0o400}
    for f in os.listdir(a.dir):
        st = os.stat(a.path(f))
        assert stat.S_ISREG(st.st_mode)
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert stat.S_ISDIR(os.stat(b.dir).st_mode)


def test_stdout_mtime_moves_with_output(mount):
    s = mount.session()
    before = os.stat(s.path("stdout")).st_mtime_ns
    err_before = os.stat(s.path("stderr")).st_mtime_ns
    time.sleep(0.05)
    s.send("echo tick\n")
    wait_until(lambda: os.stat(s.path("stdout")).st_mtime_ns > before, what="mtime")
    assert os.stat(s.path("stderr")).st_mtime_ns == err_before


# ---- mkdir / rmdir ----

@pytest.mark.parametrize("name", [".hidden", "a" * 65, "has space", "star*", "new\nline", "é"])
def test_mkdir_invalid_names(mount, name):
    expect_errno(errno.EINVAL, os.mkdir, os.path.join(mount.sessions, name))
    assert os.listdir(mount.sessions) == []


def test_mkdir_longest_name_and_exists(mount):
    name = "N" * 64
    mount.session(name)
    expect_errno(errno.EEXIST, os.mkdir, os.path.join(mount.sessions, name))


def test_mkdir_fails_when_container_stopped(make_mount, fresh_container):
    m = make_mount(target=fresh_container)
    subprocess.run(["docker", "stop", "-t", "0", fresh_container.name], check=True,
                   capture_output=True)
    with pytest.raises(OSError) as info:
        os.mkdir(os.path.join(m.sessions, "x"))
    assert info.value.errno in (errno.EIO, errno.ESRCH)
    assert os.listdir(m.sessions) == []
    assert "mkdir x: " in m.read_log()


def test_rmdir_kills_shell_and_foreground_command(mount, container):
    s = mount.session()
    s.send("sleep 1000 & sleep 1001\n")
    wait_until(lambda: any("sleep 1001" in c for _, c in container.processes()),
               what="sleep to start")
    os.rmdir(s.dir)
    assert os.listdir(mount.sessions) == []
    # rmdir answers once the session is out of the tree; its processes go within 2 s.
    wait_until(lambda: container.processes() == [], timeout=2, what="the session's processes to go")
    expect_errno(errno.ENOENT, os.rmdir, s.dir)


def test_rmdir_wakes_blocked_reader_with_eof(mount):
    s = mount.session()
    s.ctl("timeout 60\neof deadline")
    result = {}

    def reader():
        with open(s.path("stdout"), "rb") as f:
            result["data"] = f.read()

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)
    os.rmdir(s.dir)
    t.join(10)
    assert not t.is_alive()
    assert result["data"] == b""


def test_open_file_after_rmdir_reads_eof_and_write_epipe(mount):
    s = mount.session()
    out = open(s.path("stdout"), "rb")
    inp = open(s.path("stdin"), "wb", buffering=0)
    os.rmdir(s.dir)
    assert out.read() == b""
    expect_errno(errno.EPIPE, inp.write, b"echo\n")
    out.close()
    inp.close()


# ---- stdin / stdout / stderr ----

def test_echo_and_cat_from_a_shell(mount):
    s = mount.session()
    r = shell(f"echo 'echo hello world' > {s.path('stdin')}; cat {s.path('stdout')}")
    assert r.returncode == 0
    assert r.stdout == b"hello world\n"


def test_state_persists_between_commands(mount):
    s = mount.session()
    s.send("cd /tmp\nexport GREETING='hi there'\nX=7\n")
    s.send("echo \"$(pwd) $GREETING $X\"\n")
    assert s.read_until(b"/tmp hi there 7\n") == b"/tmp hi there 7\n"


def test_stderr_stays_apart(mount):
    s = mount.session()
    s.send("echo out1; echo err1 >&2; echo out2; echo err2 >&2\n")
    assert s.read_until(b"out1\nout2\n") == b"out1\nout2\n"
    assert s.read_until(b"err1\nerr2\n", "stderr") == b"err1\nerr2\n"


def test_seq_through_several_timed_out_reads_is_exact(mount):
    s = mount.session()
    s.ctl("timeout 0.2")
    s.send("seq 1 200000\n")
    chunks = []
    data = b""
    deadline = time.monotonic() + 60
    while len(data) < len(SEQ) and time.monotonic() < deadline:
        with open(s.path("stdout"), "rb", buffering=0) as f:
            piece = f.read(50000)  # one read(2): the rest stays for the next reader
        chunks.append(piece)
        data += piece
    assert data == SEQ
    assert len(chunks) > 5
    s.ctl("timeout 0")
    assert s.read() == b""


def test_stdin_delivers_large_input_whole_and_in_order(mount):
    s = mount.session()
    payload = b"".join(b"line %06d %s\n" % (i, b"x" * (i % 50)) for i in range(20000))
    s.send("cat > /tmp/in.txt <<'SESHFS_EOF'\n" + payload.decode() + "SESHFS_EOF\n")
    s.send("wc -c < /tmp/in.txt; md5sum < /tmp/in.txt\n")
    import hashlib
    expected = b"%d\n%s  -\n" % (len(payload), hashlib.md5(payload).hexdigest().encode())
    assert s.read_until(expected) == expected


def test_truncating_opens_are_accepted(mount):
    s = mount.session()
    fd = os.open(s.path("stdin"), os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"echo trunc\n")
    os.close(fd)
    os.truncate(s.path("stdin"), 0)
    os.truncate(s.path("ctl"), 0)
    assert s.read_until(b"trunc\n") == b"trunc\n"


def test_write_after_exit_is_epipe(mount):
    s = mount.session()
    s.send("exit 3\n")
    wait_until(lambda: s.status().get("exit_code") == "3", what="exit code")
    assert s.status()["state"] == "exited"
    expect_errno(errno.EPIPE, s.send, "echo\n")


def test_read_with_data_returns_at_once_and_empty_read_waits_for_deadline(mount):
    s = mount.session()
    s.ctl("timeout 3")
    s.send("echo ready\n")
    wait_until(lambda: os.stat(s.path("stdout")).st_size == 6, what="output")
    with open(s.path("stdout"), "rb", buffering=0) as f:
        start = time.monotonic()
        assert f.read(100) == b"ready\n"
        assert time.monotonic() - start < 1.0
    s.ctl("timeout 0.5\neof deadline")
    start = time.monotonic()
    assert s.read() == b""
    assert time.monotonic() - start >= 0.45


def test_exited_and_drained_is_eof_at_once(mount):
    s = mount.session()
    s.send("echo last; exit 0\n")
    wait_until(lambda: s.status()["state"] == "exited", what="exit")
    s.ctl("timeout 30")
    start = time.monotonic()
    assert s.read() == b"last\n"
    assert s.read() == b""
    assert time.monotonic() - start < 5


def test_nonblocking_read_is_eagain(mount):
    s = mount.session()
    s.ctl("timeout 30\neof deadline")
    fd = os.open(s.path("stdout"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        expect_errno(errno.EAGAIN, os.read, fd, 100)
        s.send("echo nb\n")
        wait_until(lambda: os.stat(s.path("stdout")).st_size == 3, what="output")
        assert os.read(fd, 100) == b"nb\n"
    finally:
        os.close(fd)


def test_output_nobody_reads_is_held_and_the_producer_paused(make_mount, container):
    m = make_mount(options=["bufsize=64K"])
    s = m.session()
    total = 16 * 1024 * 1024
    s.send(f"dd if=/dev/zero bs=65536 count={total // 65536} 2>/dev/null; echo done >&2\n")
    time.sleep(1.5)
    # The producer is blocked on a full pipe: it has not finished.
    # (busybox ps shows an applet forked by the shell as "{dd} /bin/sh")
    assert any(args.startswith(("dd ", "{dd}")) for _, args in container.processes())
    assert m.rss_kb() - m.started_rss_kb < 56 * 1024
    s.ctl("timeout 0.5")
    received = 0
    nonzero = 0
    deadline = time.monotonic() + 120
    while received < total and time.monotonic() < deadline:
        with open(s.path("stdout"), "rb") as f:
            while True:
                block = f.read(1 << 20)
                if not block:
                    break
                received += len(block)
                nonzero += len(block.strip(b"\0"))
    assert (received, nonzero) == (total, 0)
    assert s.read_until(b"done\n", "stderr") == b"done\n"


# ---- ctl ----

def test_ctl_reports_keys(mount, container):
    s = mount.session()
    st = s.status()
    assert st["state"] == "running"
    assert st["timeout"] == "1"
    assert st["container"] == container.name
    assert len(st["exec_id"]) == 64
    assert int(st["pid"]) > 1
    assert "exit_code" not in st and "error" not in st


def test_ctl_timeout_and_malformed_writes(mount):
    s = mount.session()
    s.ctl("timeout 0.25")
    assert s.status()["timeout"] == "0.25"
    for bad in ["timeout -1", "timeout abc", "timeout", "timeout 1 2", "bogus",
                "signal FOO", "timeout 5\nbogus"]:
        expect_errno(errno.EINVAL, s.ctl, bad)
        assert s.status()["timeout"] == "0.25"
    assert s.status()["error"] == "unknown command 'bogus'"
    s.ctl("timeout 2")
    st = s.status()
    assert st["timeout"] == "2" and "error" not in st


def test_ctl_signal_stops_foreground_keeps_shell(mount, container):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("cd /tmp; sleep 1000 & sleep 1000; echo not reached\n")
    wait_until(lambda: len([c for _, c in container.processes() if c == "sleep 1000"]) == 2,
               what="two sleeps")
    s.ctl("signal INT")
    # Like Ctrl-C in a terminal: the command line is abandoned, the shell stays.
    assert s.read() == b""
    assert s.read(stream="stderr") == b""
    assert s.status()["last_exit"] == "130"
    s.send("pwd\n")
    assert s.read_until(b"/tmp\n") == b"/tmp\n"
    assert len([c for _, c in container.processes() if c == "sleep 1000"]) == 1
    s.send("sleep 1002; echo again $?\n")
    wait_until(lambda: any(c == "sleep 1002" for _, c in container.processes()), what="sleep")
    s.ctl("signal KILL")
    assert s.read_until(b"again 137\n") == b"again 137\n"
    os.rmdir(s.dir)


def test_ctl_signal_to_exited_shell_is_esrch(mount):
    s = mount.session()
    s.send("exit\n")
    wait_until(lambda: s.status()["state"] == "exited", what="exit")
    expect_errno(errno.ESRCH, s.ctl, "signal TERM")


# ---- everything else is refused cleanly ----

def test_other_operations_fail_cleanly(mount):
    s = mount.session()
    expect_errno(errno.EPERM, os.mkdir, os.path.join(mount.path, "x"))
    expect_errno(errno.EPERM, os.mkdir, os.path.join(s.dir, "x"))
    expect_errno(errno.EPERM, open, os.path.join(s.dir, "new"), "w")
    expect_errno(errno.EPERM, open, os.path.join(mount.sessions, "new"), "w")
    expect_errno(errno.EPERM, os.rename, s.dir, os.path.join(mount.sessions, "other"))
    expect_errno(errno.EPERM, os.unlink, s.path("stdout"))
    expect_errno(errno.EPERM, os.rmdir, mount.sessions)
    expect_errno(errno.EPERM, os.symlink, "x", os.path.join(s.dir, "l"))
    expect_errno(errno.EACCES, open, s.path("stdout"), "wb")
    expect_errno(errno.EACCES, open, s.path("stdin"), "rb")
    expect_errno(errno.EPERM, os.chmod, s.path("stdin"), 0o777)
    expect_errno(errno.ENOENT, os.stat, os.path.join(s.dir, "nope"))


# ---- interrupts and concurrency ----

def test_ctrl_c_on_blocked_cat_returns_at_once(mount):
    s = mount.session()
    s.ctl("timeout 60\neof deadline")
    p = subprocess.Popen(["cat", s.path("stdout")])
    time.sleep(0.5)
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    p.wait(10)
    assert time.monotonic() - start < 5
    assert p.returncode == -signal.SIGINT


def test_twenty_blocked_readers_do_not_stall_the_mount(mount):
    blocked = [mount.session() for _ in range(20)]
    for s in blocked:
        s.ctl("timeout 30\neof deadline")
    done = []
    threads = []
    for s in blocked:
        t = threading.Thread(target=lambda s=s: done.append(s.read()))
        t.start()
        threads.append(t)
    time.sleep(0.5)
    start = time.monotonic()
    assert len(os.listdir(mount.sessions)) == 20
    other = mount.session()
    other.ctl("timeout 0.3")
    other.send("echo alive\n")
    assert other.read_until(b"alive\n") == b"alive\n"
    assert time.monotonic() - start < 5
    assert done == []
    for s in blocked:
        os.rmdir(s.dir)
    for t in threads:
        t.join(10)
    assert done == [b""] * 20


# ---- leaving nothing behind ----

@pytest.mark.parametrize("how", ["fusermount", "SIGINT", "SIGTERM"])
def test_unmount_leaves_no_process(make_mount, container, how):
    m = make_mount()
    for i in range(3):
        s = m.session(f"u{i}")
        s.send("sleep 1000 & sleep 1001\n")
    wait_until(lambda: len(container.processes()) >= 9, what="processes to start")
    if how == "fusermount":
        subprocess.run(["fusermount3", "-u", m.path], check=True)
    else:
        m.proc.send_signal(getattr(signal, how))
    assert m.proc.wait(30) == 0
    assert container.processes() == []
    wait_until(lambda: not os.path.ismount(m.path), what="unmount")


def test_interrupted_blocked_writer_sees_its_bytes_written(make_mount, container):
    """A write parked over bufsize has queued its bytes: an interrupt must not make it look unwritten."""
    m = make_mount(options=["bufsize=64K"])
    s = m.session()
    s.send("sleep 1000\n")  # nobody reads stdin now
    wait_until(lambda: any(a == "sleep 1000" for _, a in container.processes()), what="sleep")
    writer = subprocess.Popen(["dd", "if=/dev/zero", "bs=64k", "count=64", f"of={s.path('stdin')}"],
                              stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert writer.poll() is None  # blocked: the queue is over bufsize
    writer.send_signal(signal.SIGINT)
    _, err = writer.communicate(timeout=10)
    copied = int(next(l for l in err.splitlines() if "bytes" in l and "copied" in l).split()[0])
    assert copied > 0
    # What dd was told it wrote is exactly what seshfs took (the transcript records every accepted byte).
    assert os.stat(s.path("transcript")).st_size == len("sleep 1000\n") + copied
