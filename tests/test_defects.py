"""Regression tests for the defects a code review found, one or more per defect.

Each failed on the code the review read and passes since the fix.
"""
import errno
import os
import subprocess
import threading
import time

import pytest

from conftest import SESHFS_BIN, expect_errno, wait_until


def pid_args(container, pid):
    """The command line of pid in the container, or None."""
    for line in container.sh("ps -o pid,args").splitlines()[1:]:
        p, args = line.split(None, 1)
        if int(p) == pid:
            return args
    return None


def place_process_at(container, pid, command):
    """Starts command (host binaries) in the container's pid namespace as pid, no marker in its environment."""
    host_pid = docker_pid(container)
    for _ in range(20):
        subprocess.run(["nsenter", "-t", host_pid, "-p", "--", "sh", "-c",
                        f"echo {pid - 1} > /proc/sys/kernel/ns_last_pid; {command} >/dev/null 2>&1 &"],
                       check=True, env={"PATH": "/usr/bin:/bin"})
        if pid_args(container, pid) == command:
            return
        time.sleep(0.1)
    raise AssertionError(f"could not start {command!r} as pid {pid}")


def docker_pid(container):
    return subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container.name], check=True,
                          capture_output=True, text=True).stdout.strip()


# ---- 1. a dead shell's pid is not killed once someone else has it ----

def test_rmdir_of_an_exited_shell_spares_the_process_that_got_its_pid(make_mount, fresh_container):
    m = make_mount(target=fresh_container)
    s = m.session()
    pid = int(s.status()["pid"])
    s.send("exit\n")
    wait_until(lambda: s.status()["state"] == "exited", what="the shell to exit")
    place_process_at(fresh_container, pid, "sleep 4444")
    os.rmdir(s.dir)
    time.sleep(2)  # the clean-up has run: rmdir's processes go within 2 s
    assert pid_args(fresh_container, pid) == "sleep 4444"


def test_rmdir_of_an_exited_shell_still_kills_its_background_jobs(mount, container):
    """The guard against the fix above going too far: the group of a dead leader is still the shell's."""
    s = mount.session()
    s.send("env -i sleep 4445 & exit\n")
    wait_until(lambda: s.status()["state"] == "exited", what="the shell to exit")
    assert any(a == "sleep 4445" for _, a in container.processes())
    os.rmdir(s.dir)
    wait_until(lambda: container.processes() == [], timeout=2, what="the job to go")


def test_user_session_clean_up_reaches_processes_that_left_the_group(make_mount, container):
    """As root without CAP_SYS_PTRACE the helper could not read a uid 1000 process's environ."""
    m = make_mount(options=["user=1000"])
    s = m.session()
    s.send("setsid sleep 4446 & sleep 4447 & id -u\n")
    assert s.read_until(b"1000\n") == b"1000\n"
    wait_until(lambda: {a for _, a in container.processes()} >= {"sleep 4446", "sleep 4447"},
               what="the jobs to start")
    os.rmdir(s.dir)
    wait_until(lambda: container.processes() == [], timeout=2, what="the jobs to go")


# ---- 2. restart kills the old shell's process group ----

def test_restart_kills_what_the_old_shell_started(mount, container):
    s = mount.session()
    s.send("env -i sleep 7777 &\n")
    wait_until(lambda: any(a == "sleep 7777" for _, a in container.processes()), what="sleep")
    s.ctl("restart")
    wait_until(lambda: all(a != "sleep 7777" for _, a in container.processes()), timeout=2,
               what="the old shell's job to go")
    s.send("echo new\n")
    assert s.read() == b"new\n"


def test_signal_written_with_restart_reaches_the_old_shell(mount, container):
    s = mount.session()
    s.send("rm -f /tmp/termed; sh -c 'trap \"echo got > /tmp/termed; exit\" TERM; sleep 1000 & wait'\n")
    wait_until(lambda: any(a == "sleep 1000" for _, a in container.processes()), what="sleep")
    s.ctl("signal TERM\nrestart")
    assert "error" not in s.status()
    assert container.sh("cat /tmp/termed") == "got\n"  # the TERM came before the restart's KILL
    s.send("echo $$\n")
    assert int(s.read()) == int(s.status()["pid"])


# ---- 3. mkdir and rmdir do not hold sessions/ for an engine round trip ----

def test_rmdir_answers_at_once_while_the_engine_is_slow(make_mount, container, proxy):
    m = make_mount(options=[f"docker_host=unix://{proxy.path}"])
    a, b = m.session("a"), m.session("b")
    a.send("sleep 1000 & sleep 1001\n")
    wait_until(lambda: len(container.processes()) >= 3, what="a's processes")
    proxy.stall()
    start = time.monotonic()
    r = subprocess.run(["rmdir", a.dir], timeout=30)
    assert r.returncode == 0 and time.monotonic() - start < 1
    assert sorted(os.listdir(m.sessions)) == ["b"]  # and sessions/ is not locked
    proxy.resume()
    wait_until(lambda: all("sleep 100" not in c for _, c in container.processes()), timeout=5,
               what="a's processes to go")
    assert b.dir


def test_unmount_waits_for_the_clean_up_of_an_rmdir(make_mount, container, proxy):
    m = make_mount(options=[f"docker_host=unix://{proxy.path}"])
    s = m.session()
    s.send("sleep 1002 &\n")
    wait_until(lambda: any(a == "sleep 1002" for _, a in container.processes()), what="sleep")
    proxy.stall()
    os.rmdir(s.dir)
    threading.Timer(1.0, proxy.resume).start()
    assert m.unmount() == 0
    assert container.processes() == []


def test_interrupted_mkdir_returns_at_once_and_frees_the_name(make_mount, container, proxy):
    m = make_mount(options=[f"docker_host=unix://{proxy.path}"])
    proxy.stall()
    name = os.path.join(m.sessions, "x")
    mkdir = subprocess.Popen(["mkdir", name])
    time.sleep(0.5)
    assert mkdir.poll() is None  # waiting for the engine
    start = time.monotonic()
    mkdir.send_signal(2)
    assert mkdir.wait(5) != 0 and time.monotonic() - start < 1
    assert os.listdir(m.sessions) == []
    proxy.resume()
    os.mkdir(name)  # the name is free; the abandoned start is undone in the background
    assert os.listdir(m.sessions) == ["x"]
    assert "mkdir x: Interrupted system call" in m.read_log()


def test_mkdir_waits_for_the_engine_at_most_15_s(make_mount, proxy):
    m = make_mount(options=[f"docker_host=unix://{proxy.path}"])
    proxy.stall()
    start = time.monotonic()
    expect_errno(errno.ETIMEDOUT, os.mkdir, os.path.join(m.sessions, "slow"))
    assert 14 < time.monotonic() - start < 17
    proxy.resume()


# ---- 4. settings that are not UTF-8 are refused ----

def test_non_utf8_settings_are_refused_with_einval(mount):
    s = mount.session()
    for bad in (b"env A=\xff\n", b"user \xfe\n", b"workdir /tmp/\xc3\n", b"shell /bin/\xed\xa0\x80\n"):
        with pytest.raises(OSError) as info:
            with open(s.path("ctl"), "wb") as f:
                f.write(bad)
        assert info.value.errno == errno.EINVAL, bad
    st = s.status()
    assert st["error"] == "shell: expected PATH (UTF-8)"
    assert "env" not in st and "user" not in st and "workdir" not in st


def test_non_utf8_mount_options_are_refused(container, tmp_path):
    for opt in (b"env=A=\xff", b"user=\xfe", b"shell=/bin/\xc3"):
        r = subprocess.run([SESHFS_BIN.encode(), b"-o", opt, container.name.encode(), str(tmp_path).encode()],
                           capture_output=True, timeout=20)
        name = opt.split(b"=")[0]
        assert r.returncode == 1 and b"seshfs: -o " + name in r.stderr and b"(UTF-8)" in r.stderr, r.stderr
    assert not os.path.ismount(tmp_path)


# ---- 5. a failed start-up exits cleanly ----

def test_start_up_without_a_random_source_exits_cleanly(container, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["unshare", "-m", "sh", "-c",
                        f'mount --bind /dev/null /dev/urandom && exec "$0" -f {container.name} {mnt}',
                        SESHFS_BIN], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    assert "cannot start: Input/output error" in r.stderr


def test_mkdir_without_a_random_source_is_eio(container, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    seshfs = subprocess.Popen(["unshare", "-m", "--propagation", "private", SESHFS_BIN, "-f",
                               container.name, str(mnt)], stderr=subprocess.PIPE, text=True)
    try:
        ns = ["nsenter", "-t", str(seshfs.pid), "-m", "--"]
        wait_until(lambda: subprocess.run([*ns, "mountpoint", "-q", str(mnt)]).returncode == 0,
                   what="the mount in its namespace")
        subprocess.run([*ns, "mount", "--bind", "/dev/null", "/dev/urandom"], check=True)
        r = subprocess.run([*ns, "mkdir", str(mnt / "sessions" / "x")], capture_output=True, text=True)
        assert r.returncode != 0 and "Input/output error" in r.stderr, r.stderr
    finally:
        subprocess.run(["nsenter", "-t", str(seshfs.pid), "-m", "--", "fusermount3", "-u", str(mnt)])
        seshfs.wait(30)
    assert seshfs.returncode == 0


# ---- 6. stdin holds at most bufsize bytes ----

def test_a_write_that_does_not_fit_waits_before_its_bytes_are_taken(make_mount, container):
    m = make_mount(options=["bufsize=64K"])
    s = m.session()
    s.send("sleep 1000\n")  # nobody reads stdin now
    wait_until(lambda: any(a == "sleep 1000" for _, a in container.processes()), what="sleep")
    written = []

    def writer():
        fd = os.open(s.path("stdin"), os.O_WRONLY)
        try:
            for _ in range(400):  # 64 KiB writes: each one request, each fits an empty queue
                written.append(os.write(fd, b"#" * 65535 + b"\n"))
        except OSError as e:
            assert e.errno == errno.EPIPE  # the rmdir below
        finally:
            os.close(fd)

    t = threading.Thread(target=writer)
    t.start()
    # The socket, the engine and the pipe take what they can; then a write blocks.
    size = lambda: os.stat(s.path("transcript")).st_size
    last = -1
    while size() != last:
        last = size()
        time.sleep(1)
    assert t.is_alive() and 1 <= len(written) < 400
    # What the transcript holds is exactly what the completed writes wrote: the blocked one took nothing.
    assert size() == len("sleep 1000\n") + sum(written)
    os.rmdir(s.dir)
    t.join(10)
    assert not t.is_alive()


# ---- 7. a failed INT helper leaves no newline-eating behind ----

def test_failed_interrupt_does_not_eat_the_next_newline(mount, container):
    s = mount.session()
    subprocess.run(["docker", "pause", container.name], check=True, capture_output=True)
    try:
        with pytest.raises(OSError):
            s.ctl("signal INT")
    finally:
        subprocess.run(["docker", "unpause", container.name], check=True, capture_output=True)
    s.send("echo err >&2\n")
    assert s.read("stderr") == b"err\n"


# ---- 8. text from a user or a container is escaped in ctl and the log ----

def test_ctl_values_and_errors_are_escaped(mount):
    s = mount.session()
    s.ctl("env A=\x1b[31mred")
    s.ctl("user nobody\x1b]0;owned\x07")
    with pytest.raises(OSError):
        s.ctl("restart")  # the engine refuses the user, and says so quoting it
    with open(s.path("ctl"), "rb") as f:
        text = f.read()
    assert b"\x1b" not in text and b"\x07" not in text
    assert b"env A=\\x1b[31mred\n" in text
    assert b"user nobody\\x1b]0;owned\\x07\n" in text
    error = next(line for line in text.splitlines() if line.startswith(b"error "))
    assert b"nobody\\x1b]0;owned\\x07" in error and len(error) <= len("error ") + 200
    assert "\x1b" not in mount.read_log() and "nobody\\x1b]0;owned\\x07" in mount.read_log()


def test_unknown_command_error_is_one_printable_line(mount):
    s = mount.session()
    with pytest.raises(OSError):
        with open(s.path("ctl"), "wb") as f:
            f.write(b"bogus \x1b[2J\xff\rlast_exit 0\n")
    lines = open(s.path("ctl"), "rb").read().splitlines()
    assert [l for l in lines if l.startswith(b"error ")] == \
        [b"error unknown command 'bogus \\x1b[2J\\xff\\x0dlast_exit 0'"]
    assert not any(l.startswith(b"last_exit") for l in lines)


# ---- 9. the same cause gives the same errno ----

def test_out_of_descriptors_is_emfile_not_econnrefused(make_mount):
    m = make_mount(wrapper=["prlimit", "--nofile=24:24", "--"])
    with pytest.raises(OSError) as info:
        for i in range(30):
            os.mkdir(os.path.join(m.sessions, f"s{i}"))
    assert info.value.errno == errno.EMFILE, info.value
    assert "Too many open files" in m.read_log()


def test_restart_with_a_missing_shell_is_enoent_like_mkdir(mount):
    s = mount.session()
    s.ctl("shell /bin/no-such-shell")
    expect_errno(errno.ENOENT, s.ctl, "restart")
    assert s.status()["error"] == "shell did not start: shell /bin/no-such-shell not found"
