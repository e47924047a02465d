"""-o transport=: on a local engine a pipe session's stdin, stdout and stderr go through
FIFOs inside the container; the exec stream is the fallback (a terminal, transport=exec,
no writable place), and transport=fifo fails a start that cannot have them."""
import errno
import os
import socket
import subprocess
import uuid

import pytest

from conftest import (Container, IMAGE, docker, env_without_engine, expect_errno, free_port, refused_mount,
                      session_with, wait_until)

SHELLS = ["/bin/bash", "/bin/sh"]  # bash, and busybox ash


class CustomContainer(Container):
    """A container started with extra docker run arguments (and an optional command)."""

    def __init__(self, run_args, command=("sleep", "2147483647")):
        super().__init__(f"seshfs-test-{uuid.uuid4().hex[:8]}")
        self.run_args = list(run_args)
        self.command = list(command)

    def start(self):
        self.docker("run", "-d", "--init", "--network", "none", *self.run_args, "--name", self.name, IMAGE,
                    *self.command)
        return self


@pytest.fixture
def custom_container():
    made = []

    def make(run_args, command=("sleep", "2147483647")):
        c = CustomContainer(run_args, command).start()
        made.append(c)
        return c

    yield make
    for c in made:
        c.remove()


def leftovers(container):
    """seshfs's private directories in the container's writable places."""
    return container.sh("ls -a /tmp /dev/shm 2>/dev/null | grep -F .seshfs- || true").split()


@pytest.mark.parametrize("sh", SHELLS)
def test_a_pipe_session_on_a_local_engine_uses_fifos(mount, sh):
    s = session_with(mount, sh, "timeout 10")
    st = s.status()
    assert st["transport"] == "fifo" and "transport_reason" not in st
    # The shell's own fds are the FIFOs, not the engine's pipes.
    s.send("for fd in 0 1 2; do readlink /proc/$$/fd/$fd; done\n")
    links = s.read().decode().splitlines()
    assert len(links) == 3
    for link, name in zip(links, ["in", "out", "err"]):
        assert link.startswith("/tmp/.seshfs-") and link.endswith(f"/{name} (deleted)"), links
    s.send("echo out; echo err >&2; (exit 7)\n")
    assert s.read() == b"out\n"
    assert s.read("stderr") == b"err\n"
    assert s.status()["last_exit"] == "7"


@pytest.mark.parametrize("sh", SHELLS)
def test_stderr_merged_over_fifos_is_one_ordered_stream(mount, sh):
    s = session_with(mount, sh, "timeout 10", "stderr merged")
    assert s.status()["transport"] == "fifo"
    s.send("echo 1; echo 2 >&2; echo 3\n")
    assert s.read() == b"1\n2\n3\n"
    assert s.read("stderr") == b""


@pytest.mark.parametrize("sh", SHELLS)
def test_output_written_just_before_the_exit_is_all_read(mount, sh):
    """The exec stream ends with the shell; what it wrote is still in the FIFO, more than bufsize."""
    s = session_with(mount, sh, "timeout 10")
    assert s.status()["transport"] == "fifo"
    s.send("head -c 2500000 /dev/zero; echo tail; exit 5\n")
    data = s.read_until(b"\0" * 2500000 + b"tail\n")
    assert data == b"\0" * 2500000 + b"tail\n"
    wait_until(lambda: s.status().get("exit_code") == "5", what="the exit code")


def test_transport_exec_keeps_the_engine_stream(make_mount):
    m = make_mount(options=["transport=exec"])
    s = m.session()
    s.ctl("timeout 10")
    st = s.status()
    assert st["transport"] == "exec" and st["transport_reason"] == "-o transport=exec"
    s.send("readlink /proc/$$/fd/1\n")
    assert s.read().startswith(b"pipe:[")


def test_a_terminal_session_stays_on_the_exec_stream(mount):
    s = session_with(mount, "/bin/bash", "timeout 10", "tty on")
    st = s.status()
    assert st["transport"] == "exec"
    assert st["transport_reason"] == "a terminal session: the terminal is the engine's"
    s.send("echo hi\n")
    assert s.read() == b"echo hi\r\nhi\r\n"


def test_no_fifo_or_directory_is_left_in_the_container(mount, container):
    before = leftovers(container)
    sessions = [mount.session() for _ in range(3)]
    for s in sessions:
        assert s.status()["transport"] == "fifo"
    assert leftovers(container) == before == []
    os.rmdir(sessions[0].dir)
    sessions[1].ctl("restart")
    assert sessions[1].status()["transport"] == "fifo"
    assert leftovers(container) == []


def test_a_read_only_container_without_tmpfs(make_mount, custom_container):
    """No writable place (/tmp read-only, no /dev/shm): auto falls back, fifo fails the mkdir."""
    c = custom_container(["--read-only", "--ipc=none"])
    auto = make_mount(target=c)
    s = auto.session()
    s.ctl("timeout 10")
    st = s.status()
    assert st["transport"] == "exec"
    assert st["transport_reason"] == ("no writable place: /tmp: Read-only file system; "
                                      "/dev/shm: No such file or directory")
    s.send("echo still works\n")
    assert s.read() == b"still works\n"
    assert "the shell uses the exec stream, not FIFOs: no writable place" in auto.read_log()

    strict = make_mount(target=c, options=["transport=fifo"])
    expect_errno(errno.EOPNOTSUPP, os.mkdir, os.path.join(strict.sessions, "x"))
    assert not os.path.exists(os.path.join(strict.sessions, "x"))
    wait_until(lambda: "mkdir x: -o transport=fifo: no writable place" in strict.read_log(),
               what="the log line")


def test_transport_fifo_fails_a_terminal_session(make_mount):
    m = make_mount(options=["transport=fifo", "tty"])
    expect_errno(errno.EOPNOTSUPP, os.mkdir, os.path.join(m.sessions, "t"))
    wait_until(lambda: "mkdir t: -o transport=fifo: a terminal session" in m.read_log(), what="the log line")


def test_a_symlink_at_tmp_never_leads_onto_the_host(make_mount, custom_container, tmp_path):
    """/tmp inside is a symlink to a host path: nothing is made there; /dev/shm is used."""
    target = tmp_path / "host-target"
    target.mkdir()
    c = custom_container([], ["sh", "-c", f"rm -rf /tmp && ln -s {target} /tmp && exec sleep 2147483647"])
    wait_until(lambda: c.sh("readlink /tmp").strip() == str(target), what="the symlink")
    m = make_mount(target=c)
    s = m.session()
    s.ctl("timeout 10")
    assert s.status()["transport"] == "fifo"
    s.send("readlink /proc/$$/fd/1\n")
    assert s.read().startswith(b"/dev/shm/.seshfs-")
    assert os.listdir(target) == []


def security_context():
    return ("grep -E '^(Seccomp|CapEff|CapBnd|NoNewPrivs):' /proc/self/status; "
            "cat /proc/self/attr/current; echo; id")


@pytest.mark.parametrize("user", ["", "1000:1000"])
def test_the_shell_has_the_security_context_of_a_plain_exec(make_mount, custom_container, user):
    c = custom_container(["--security-opt", "no-new-privileges", "--cap-drop", "NET_RAW"])
    m = make_mount(target=c)
    s = m.session()
    s.ctl("timeout 10" + (f"\nuser {user}\nrestart" if user else ""))
    assert s.status()["transport"] == "fifo"
    s.send(security_context() + "\n")
    inside = s.read().decode()
    plain = docker("exec", *(["-u", user] if user else []), c.name, "sh", "-c", security_context()).stdout
    assert inside == plain
    assert "NoNewPrivs:\t1" in inside and ("uid=1000" in inside) == bool(user)


@pytest.fixture
def tcp_engine():
    """The engine's socket behind plain TCP on loopback (socat): an engine seshfs cannot see into."""
    port = free_port()
    proxy = subprocess.Popen(["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
                              "UNIX-CONNECT:/var/run/docker.sock"], stderr=subprocess.DEVNULL)

    def listening():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_until(listening, what="socat to listen")
    yield f"tcp://127.0.0.1:{port}"
    proxy.terminate()
    proxy.wait(10)


def test_an_engine_that_is_not_local_keeps_the_exec_stream(make_mount, container, tcp_engine, tmp_path):
    m = make_mount(options=[f"docker_host={tcp_engine}"], env=env_without_engine())
    assert "shells use the engine's exec stream, not FIFOs: the engine is not local" in m.read_log()
    s = m.session()
    s.ctl("timeout 10")
    st = s.status()
    assert st["transport"] == "exec" and st["transport_reason"] == "the engine is not local (not a unix socket)"
    s.send("echo over tcp\n")
    assert s.read() == b"over tcp\n"
    r = refused_mount(tmp_path / "strict", "-o", f"docker_host={tcp_engine},transport=fifo", container.name,
                      env=env_without_engine())
    assert r.returncode != 0
    assert "-o transport=fifo: the engine is not local (not a unix socket)" in r.stderr
