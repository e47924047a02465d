"""A session is a cgroup below its container's, and its processes are controlled
from the host (local engine, seshfs root): nothing escapes the clean-up, ctl shows
what the session used, and signals and clean-ups need no helper exec."""
import functools
import glob
import os
import signal
import time

from conftest import docker, wait_until


@functools.lru_cache(maxsize=None)
def engine_id(name):
    return docker("inspect", "-f", "{{.Id}}", name).stdout.strip()


def container_id(container):
    return engine_id(container.name)


def session_cgroups(container):
    """The sessions' cgroup directories below the container's, in any hierarchy."""
    cid = container_id(container)
    return sorted(glob.glob(f"/sys/fs/cgroup/*/docker/{cid}/seshfs-*") +
                  glob.glob(f"/sys/fs/cgroup/docker/{cid}/seshfs-*") +
                  glob.glob(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/seshfs-*"))


def sleeps(container, seconds):
    """Host pids of `sleep SECONDS` in the container, found through the host's /proc (no exec)."""
    cid = container_id(container)
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read() != f"sleep\0{seconds}\0".encode():
                    continue
            with open(f"/proc/{entry}/cgroup") as f:
                if cid in f.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def execs_during(container, action):
    """The execs the engine started in container while action ran."""
    since = time.time()
    action()
    until = time.time() + 0.5
    time.sleep(0.6)
    events = docker("events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
                    "--filter", f"container={container.name}", "--filter", "event=exec_create",
                    "--format", "{{.Action}}").stdout
    return [line for line in events.splitlines() if line]


def escaped_sleep(s, seconds):
    """A background job that clears its environment (no session marker) and leaves the shell's group."""
    s.send(f"env -i setsid sleep {seconds} &\necho started\n")
    assert s.read() == b"started\n"


def test_rmdir_kills_what_left_the_group_and_the_environment(mount, container):
    s = mount.session()
    escaped_sleep(s, 1361)
    wait_until(lambda: sleeps(container, 1361), what="the escaped sleep")
    assert session_cgroups(container), "no cgroup for the session"
    os.rmdir(s.dir)
    wait_until(lambda: not sleeps(container, 1361), timeout=5, what="the escaped sleep to die")
    wait_until(lambda: not session_cgroups(container), timeout=5, what="the session's cgroup to go")


def test_the_shell_and_what_it_starts_are_in_the_sessions_cgroup(mount):
    s = mount.session()
    s.send("cat /proc/self/cgroup; (cat /proc/self/cgroup) & wait\n")
    lines = s.read().decode().splitlines()
    # cgroup v1: the pids hierarchy (twice: the shell, its child); v2 alone: the one line.
    pids = [line for line in lines if ":pids:" in line] or [line for line in lines if line.startswith("0::")]
    assert len(pids) == 2 and all(line.rsplit("/", 1)[1].startswith("seshfs-") for line in pids), lines


def test_restart_kills_the_cgroup(mount, container):
    s = mount.session()
    escaped_sleep(s, 1362)
    wait_until(lambda: sleeps(container, 1362), what="the escaped sleep")
    old_pid = s.status()["pid"]
    s.ctl("restart")
    wait_until(lambda: not sleeps(container, 1362), timeout=5, what="the escaped sleep to die")
    assert s.status()["pid"] != old_pid
    s.send("echo again\n")
    assert s.read() == b"again\n"
    assert len(session_cgroups(container)) >= 1  # the new shell is in the session's cgroup again
    s.send("cat /proc/self/cgroup\n")
    assert b"/seshfs-" in s.read()


def test_cpu_seconds_and_memory(mount):
    s = mount.session()
    before = float(s.status()["cpu_seconds"])
    s.send("i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done; echo $i\n")
    assert s.read(timeout=60) == b"300000\n"
    status = s.status()
    assert float(status["cpu_seconds"]) > before + 0.05
    assert int(status["memory"]) > 0


def test_signal_int_stops_a_running_command_without_a_helper_exec(mount, container):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("sleep 100; echo not reached\n")
    wait_until(lambda: sleeps(container, 100), what="sleep 100")
    result = {}

    def interrupt():
        s.ctl("signal INT")
        result["out"] = s.read()

    assert execs_during(container, interrupt) == []
    assert result["out"] == b"" and s.status()["last_exit"] == "130"
    assert not sleeps(container, 100)


def test_rmdir_needs_no_helper_exec(mount, container):
    s = mount.session()
    escaped_sleep(s, 1363)

    def remove():
        os.rmdir(s.dir)
        wait_until(lambda: not sleeps(container, 1363), timeout=5, what="the escaped sleep to die")

    assert execs_during(container, remove) == []


def test_unmount_kills_every_sessions_cgroup(make_mount, container):
    m = make_mount()
    escaped_sleep(m.session(), 1364)
    escaped_sleep(m.session(), 1365)
    assert len(session_cgroups(container)) >= 2
    assert m.unmount() == 0
    assert not sleeps(container, 1364) and not sleeps(container, 1365)
    assert not session_cgroups(container)


def test_engine_removes_the_container_after_seshfs_is_killed(make_mount, fresh_container):
    m = make_mount(target=fresh_container)
    escaped_sleep(m.session(), 1366)
    cgroups = session_cgroups(fresh_container)
    assert cgroups
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait()
    m.proc = None
    r = fresh_container.docker("rm", "-f", fresh_container.name, check=False)
    assert r.returncode == 0, r.stderr
    assert not fresh_container.docker("ps", "-aq", "--filter", f"name=^{fresh_container.name}$").stdout.strip()
    wait_until(lambda: not any(os.path.exists(path) for path in cgroups), timeout=10,
               what="the session's cgroups to go with the container")


def test_kill_9_the_watchdog_kills_what_is_left_in_the_sessions_cgroups(make_mount, fresh_container):
    m = make_mount(target=fresh_container)
    escaped_sleep(m.session(), 1367)
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait()
    m.proc = None
    wait_until(lambda: not sleeps(fresh_container, 1367), timeout=5, what="the watchdog to kill it")
