"""Black-box fixtures: a real Docker engine, a real container, a real mount.

Every test talks to seshfs only through files (and the seshfs command line).
SESHFS_BIN names the binary under test, SESHFS_IMAGE the sandbox image
(both set by scripts/test.sh).
"""
import errno
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SESHFS_BIN = os.environ.get("SESHFS_BIN", os.path.join(ROOT, "build", "seshfs"))
IMAGE = os.environ.get("SESHFS_IMAGE", "seshfs-sandbox:2")


def docker(*args, check=True, timeout=60, host=None):
    """The docker CLI, on the suite's engine or the one at host (unix:// URL)."""
    prefix = ["docker", "-H", host] if host else ["docker"]
    return subprocess.run([*prefix, *args], check=check, capture_output=True,
                          text=True, timeout=timeout)


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Container:
    def __init__(self, name, host=None):
        self.name = name
        self.host = host

    def docker(self, *args, check=True):
        return docker(*args, check=check, host=self.host)

    def start(self):
        self.docker("run", "-d", "--init", "--network", "none", "--name", self.name, IMAGE,
                    "sleep", "2147483647")
        return self

    def remove(self):
        self.docker("rm", "-f", self.name, check=False)

    def running(self):
        return self.docker("inspect", "-f", "{{.State.Running}}", self.name,
                           check=False).stdout.strip() == "true"

    def sh(self, script):
        return self.docker("exec", self.name, "sh", "-c", script).stdout

    def has_path(self, path):
        return self.docker("exec", self.name, "test", "-e", path, check=False).returncode == 0

    def watchdogs(self):
        """pids of seshfs watchdogs (one per mount) in the container."""
        return [int(line.split(None, 1)[0]) for line in self.sh("ps -o pid,args").splitlines()
                if "seshfs-watchdog" in line]

    def processes(self):
        """(pid, args) of every process but the container's own two, this probe and
        seshfs's watchdog (one per mount, gone once it is unmounted)."""
        lines = self.sh("echo $$; ps -o pid,ppid,args").splitlines()
        probe = lines[0].strip()
        procs = []
        for line in lines[2:]:
            pid, ppid, args = line.split(None, 2)
            if pid in ("1", probe) or ppid == probe or args == "sleep 2147483647" or \
                    "seshfs-watchdog" in args:
                continue
            procs.append((int(pid), args))
        return procs


@pytest.fixture
def policy_file(tmp_path):
    """Writes a policy file of the test's own; returns its path."""
    def write(text):
        path = tmp_path / f"policy{len(list(tmp_path.glob('policy*')))}"
        path.write_text(text)
        return str(path)
    return write


@pytest.fixture(scope="session")
def container():
    c = Container(f"seshfs-test-{uuid.uuid4().hex[:8]}").start()
    yield c
    c.remove()


@pytest.fixture
def fresh_container():
    """A container of the test's own, for tests that stop or break it."""
    c = Container(f"seshfs-test-{uuid.uuid4().hex[:8]}").start()
    yield c
    c.remove()


class Engine:
    """A dockerd of a test's own (its own data root, containerd and socket), to
    stop and start without touching the suite's engine. It has the sandbox
    image, copied from the suite's engine."""

    def __init__(self, root):
        self.root = root
        self.socket = os.path.join(root, "docker.sock")
        self.url = "unix://" + self.socket
        self.proc = None

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        log = open(os.path.join(self.root, "dockerd.log"), "a")
        # A network namespace of its own: its default bridge is not the host's docker0
        # (and --bridge none would delete that one).
        self.proc = subprocess.Popen(
            ["unshare", "--net", "dockerd", "--data-root", os.path.join(self.root, "data"),
             "--exec-root", os.path.join(self.root, "exec"),
             "--pidfile", os.path.join(self.root, "dockerd.pid"), "-H", self.url,
             "--iptables=false", "--ip-masq=false",
             "--containerd-namespace", "seshfs-test",
             "--containerd-plugins-namespace", "seshfs-test-plugins"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        wait_until(lambda: docker("info", check=False, host=self.url).returncode == 0,
                   timeout=60, interval=0.2, what="the test's dockerd")
        return self

    def stop(self):
        """As a service manager stops it: SIGTERM, then it stops its containers."""
        self.proc.terminate()  # unshare execs dockerd: the same process
        self.proc.wait(60)
        self.proc = None

    def load_image(self):
        saved = subprocess.run(["docker", "save", IMAGE], check=True, capture_output=True).stdout
        subprocess.run(["docker", "-H", self.url, "load"], input=saved, check=True,
                       capture_output=True)


@pytest.fixture
def own_engine(tmp_path_factory):
    engine = Engine(str(tmp_path_factory.mktemp("engine"))).start()
    engine.load_image()
    yield engine
    if engine.proc is None:
        engine.start()
    for name in docker("ps", "-aq", host=engine.url).stdout.split():
        docker("rm", "-f", name, check=False, host=engine.url)
    engine.stop()
    subprocess.run(["rm", "-rf", engine.root], check=False)


class StallingProxy:
    """A unix socket in front of the engine's; while stalled, nothing goes from seshfs to the engine."""

    def __init__(self, path, upstream="/var/run/docker.sock"):
        self.path = path
        self.upstream = upstream
        self.open = threading.Event()
        self.open.set()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(self.upstream)
            threading.Thread(target=self._pump, args=(client, engine, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(engine, client, False), daemon=True).start()

    def _pump(self, src, dst, gated):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                while gated and not self.open.wait(0.05):
                    if self.closing:
                        return
                dst.sendall(data)
        except OSError:
            pass

    def stall(self):
        self.open.clear()

    def resume(self):
        self.open.set()

    def close(self):
        self.closing = True
        self.open.set()
        self.listener.close()


@pytest.fixture
def proxy(tmp_path):
    p = StallingProxy(str(tmp_path / "engine.sock"))
    yield p
    p.close()


class Session:
    def __init__(self, mount, name):
        self.mount = mount
        self.name = name
        self.dir = os.path.join(mount.sessions, name)

    def path(self, f):
        return os.path.join(self.dir, f)

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        with open(self.path("stdin"), "wb") as f:
            f.write(data)

    def read(self, stream="stdout", timeout=None):
        """One open: read until EOF (the open's deadline, or the shell is done)."""
        if timeout is not None:
            self.ctl(f"timeout {timeout}")
        with open(self.path(stream), "rb") as f:
            return f.read()

    def read_until(self, expected, stream="stdout", limit=20.0):
        """Reads (several opens) until exactly len(expected) bytes came or limit passes."""
        data = b""
        deadline = time.monotonic() + limit
        while len(data) < len(expected) and time.monotonic() < deadline:
            with open(self.path(stream), "rb") as f:
                data += f.read()
        return data

    def read_file(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def ctl(self, text):
        with open(self.path("ctl"), "w") as f:
            f.write(text + "\n")

    def status(self):
        with open(self.path("ctl")) as f:
            lines = f.read().splitlines()
        return dict(line.split(" ", 1) for line in lines)


class Mount:
    def __init__(self, path, container, options=(), env=None, wrapper=(), mount_only=False):
        self.path = path
        self.mount_only = mount_only  # -o image= alone: no CONTAINER argument
        self.wrapper = list(wrapper)
        self.sessions = os.path.join(path, "sessions")
        self.container = container
        self.log_path = path + ".log"
        self.proc = None
        self.options = list(options)
        self.env = env

    def start(self):
        os.makedirs(self.path, exist_ok=True)
        args = [*self.wrapper, SESHFS_BIN, "-f"]
        for opt in self.options:
            args += ["-o", opt]
        args += [self.path] if self.mount_only else [self.container.name, self.path]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env)
        wait_until(lambda: os.path.ismount(self.path) or self.proc.poll() is not None,
                   what="mount")
        if self.proc.poll() is not None:
            raise AssertionError(f"seshfs exited: {self.read_log()}")
        # Memory bounds are on growth: a sanitizer's own share is not seshfs's.
        self.started_rss_kb = self.rss_kb()
        return self

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def session(self, name=None):
        name = name or f"s{uuid.uuid4().hex[:8]}"
        os.mkdir(os.path.join(self.sessions, name))
        return Session(self, name)

    def unmount(self):
        """Unmounts and returns seshfs's exit status (sanitizer reports make it non-zero)."""
        if self.proc is None:  # killed by the test: what is left of the mount goes, lazily
            subprocess.run(["fusermount3", "-uz", self.path], capture_output=True)
            return 0
        # Not guarded by ismount(): a dead seshfs leaves a mount that stat cannot see.
        subprocess.run(["fusermount3", "-u", self.path], capture_output=True)
        try:
            status = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        subprocess.run(["fusermount3", "-uz", self.path], capture_output=True)
        self.proc = None
        self.log.close()
        return status


@pytest.fixture
def make_mount(container, tmp_path):
    mounts = []

    def make(options=(), target=None, env=None, wrapper=(), mount_only=False):
        m = Mount(str(tmp_path / f"mnt{len(mounts)}"), target or container, options, env, wrapper, mount_only)
        mounts.append(m)
        return m.start()

    yield make
    failures = []
    for m in mounts:
        status = m.unmount()
        if status != 0:
            failures.append(f"seshfs exited {status}:\n{m.read_log()}")
    # Unmounting must leave nothing any session started.
    for c in {id(m.container): m.container for m in mounts}.values():
        if c.running():
            left = c.processes()
            if left:
                failures.append(f"left running in {c.name}: {left}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def mount(make_mount):
    return make_mount()


def expect_errno(code, fn, *args):
    with pytest.raises(OSError) as info:
        fn(*args)
    assert info.value.errno == code, f"expected {errno.errorcode[code]}, got {info.value!r}"


def shell(script, timeout=60):
    """Runs a host shell command, as a user of the mount would."""
    return subprocess.run(["sh", "-c", script], capture_output=True, timeout=timeout)


def session_with(mount, sh, *settings):
    """A session of mount restarted with shell sh and the ctl settings given."""
    s = mount.session()
    s.ctl("\n".join([*settings, f"shell {sh}", "restart"]))
    return s


def timed_read(s, stream="stdout"):
    """One read to EOF, and how long it took."""
    start = time.monotonic()
    data = s.read(stream=stream)
    return data, time.monotonic() - start


def free_port():
    """A TCP port free on loopback now, for a daemon a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_without_engine():
    """This environment without DOCKER_*: the engine is what the test says."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}


def exercise_engine(m, container, word):
    """What a session does over an engine's connections: a round trip, 3 MB of output, an
    interrupt, a tty restarted and resized; then rmdir leaves nothing running."""
    s = m.session()
    s.ctl("timeout 10")
    s.send(f"echo over {word}; head -c 3000000 /dev/zero | wc -c\n")
    assert s.read() == f"over {word}\n3000000\n".encode()
    s.send("sleep 100; echo not reached\n")
    time.sleep(0.3)
    s.ctl("signal INT")  # the shell drops the rest of the line, as after Ctrl-C
    assert s.read() == b"" and s.status()["last_exit"] == "130"
    t = m.session()
    t.ctl("timeout 10\ntty on\necho off\nrestart")
    t.ctl("resize 100 30")
    t.send("stty size\n")
    assert t.read() == b"30 100\r\n"
    os.rmdir(s.dir)
    os.rmdir(t.dir)
    wait_until(lambda: container.processes() == [], what="the shells to go")


def refused_mount(target, *args, env=None):
    """Runs seshfs with args and a mount point target that it must refuse: its result, nothing mounted."""
    os.makedirs(target, exist_ok=True)
    r = subprocess.run([SESHFS_BIN, *args, str(target)], capture_output=True, text=True, timeout=60, env=env)
    assert not os.path.ismount(target)
    return r


def no_session_processes(container):
    return container.processes() == []


__all__ = ["wait_until", "expect_errno", "shell", "Mount", "Session", "signal", "refused_mount", "free_port",
           "env_without_engine", "exercise_engine",
           "no_session_processes", "session_with", "timed_read", "SESHFS_BIN"]
