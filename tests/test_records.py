"""Records a platform reads instead of scraping: the history file, the ctl keys
created/last_active/commands/cwd, and the mount's status file. History runs
under busybox ash and under bash."""
import datetime
import errno
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Container, expect_errno, session_with, wait_until

SHELLS = ["/bin/sh", "/bin/bash"]
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"



def history(s):
    with open(s.path("history"), "rb") as f:
        return f.read()


def entries(s):
    """(seq, start, duration, exit, command) per line, checking each field's form."""
    rows = []
    for line in history(s).decode().splitlines():
        seq, start, duration, code, command = line.split("\t", 4)
        assert re.fullmatch(TIME, start), start
        assert re.fullmatch(r"\d+\.\d{3}", duration), duration
        rows.append((int(seq), start, float(duration), int(code), command))
    return rows


def run(s, line):
    s.send(line)
    return s.read()


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("sh", SHELLS)
def test_history_has_one_line_per_command_with_exit_and_duration(mount, sh):
    s = session_with(mount, sh, "timeout 5")
    before = datetime.datetime.now(datetime.timezone.utc)
    assert run(s, "echo one\n") == b"one\n"
    assert run(s, "false\n") == b""
    assert run(s, "\n") == b""  # an empty line is no command
    assert run(s, "sleep 0.3; (exit 7)\n") == b""
    assert run(s, "for i in 1 2\ndo echo $i\ndone\n") == b"1\n2\n"
    assert run(s, 'printf "%s\\n" "a\tb\\\\c"\n') == b"a\tb\\c\n"
    after = datetime.datetime.now(datetime.timezone.utc)
    rows = entries(s)
    assert [(seq, code, cmd) for seq, _, _, code, cmd in rows] == [
        (1, 0, "echo one"),
        (2, 1, "false"),
        (3, 7, "sleep 0.3; (exit 7)"),
        (4, 0, "for i in 1 2\\ndo echo $i\\ndone"),
        (5, 0, 'printf "%s\\\\n" "a\\tb\\\\\\\\c"'),
    ]
    starts = [parse_time(r[1]) for r in rows]
    assert starts == sorted(starts)
    assert before - datetime.timedelta(milliseconds=2) <= starts[0] and starts[-1] <= after
    assert 0.3 <= rows[2][2] < 2.0
    assert s.status()["commands"] == "5"


@pytest.mark.parametrize("sh", SHELLS)
def test_history_leaves_out_what_a_command_read(mount, sh):
    s = session_with(mount, sh, "timeout 1")
    s.send("read x; echo \"got $x\"\n")
    assert s.read() == b""  # read waits
    assert run(s, "the answer\n") == b"got the answer\n"
    assert run(s, "echo next\n") == b"next\n"
    assert [r[4] for r in entries(s)] == ['read x; echo "got $x"', "echo next"]


@pytest.mark.parametrize("sh", SHELLS)
def test_history_of_interrupts_is_130(mount, sh):
    s = session_with(mount, sh, "timeout 5")
    s.send("sleep 100\n")
    wait_until(lambda: s.status()["activity"] == "busy", what="sleep to run")
    s.ctl("signal INT")
    s.read()
    s.send("echo 'open quote\n")
    wait_until(lambda: s.status()["activity"] == "continuation", what="the continuation prompt")
    s.ctl("signal INT")
    wait_until(lambda: s.status()["activity"] == "idle", what="the new prompt")
    assert run(s, "echo after\n") == b"after\n"
    assert [(r[3], r[4]) for r in entries(s)] == [
        (130, "sleep 100"), (130, "echo 'open quote"), (0, "echo after")]


@pytest.mark.parametrize("sh", SHELLS)
def test_history_goes_on_across_restart_and_records_exit(mount, sh):
    s = session_with(mount, sh, "timeout 5")
    run(s, "true\n")
    s.ctl("restart")
    run(s, "echo again\n")
    s.send("exit 3\n")
    # The entry comes with the exit code, which the engine reports a little later.
    wait_until(lambda: "exit_code" in s.status(), what="the shell's exit code")
    assert [(r[0], r[3], r[4]) for r in entries(s)] == [
        (1, 0, "true"), (2, 0, "echo again"), (3, 3, "exit 3")]


def test_history_reads_consume_nothing_and_drop_whole_old_lines(make_mount):
    m = make_mount(options=["history_size=200"])
    s = m.session()
    s.ctl("timeout 5")
    for i in range(10):
        run(s, f"echo {i:02d} {'x' * 20}\n")
    size = os.stat(s.path("history")).st_size
    data = history(s)
    assert len(data) == size and history(s) == data
    fd = os.open(s.path("history"), os.O_RDONLY)
    try:
        start = os.lseek(fd, 0, os.SEEK_DATA)
    finally:
        os.close(fd)
    kept = data[start:]
    assert 0 < len(kept) <= 200 and data[:start] == bytes(start)
    lines = kept.decode().splitlines()
    assert lines[0].startswith(f"{11 - len(lines)}\t")  # whole lines, the newest ones
    assert lines[-1].endswith("\techo 09 " + "x" * 20)


def test_ctl_keys_created_last_active_commands_cwd(mount):
    s = mount.session()
    s.ctl("timeout 5")
    st = s.status()
    created = parse_time(st["created"])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 5
    assert st["commands"] == "0" and st["cwd"] == "/"
    time.sleep(0.05)
    run(s, "mkdir -p '/tmp/a b' && cd '/tmp/a b'\n")
    st = s.status()
    assert st["cwd"] == "/tmp/a b" and st["commands"] == "1"
    assert parse_time(st["last_active"]) > created
    run(s, "mkdir -p \"$(printf '/tmp/n\\x1bl')\" && cd \"$(printf '/tmp/n\\x1bl')\"\n")
    assert s.status()["cwd"] == "/tmp/n\\x1bl"  # escaped, like every ctl value


def test_status_file(make_mount, container):
    m = make_mount()
    path = os.path.join(m.path, "status")
    assert sorted(os.listdir(m.path)) == ["sessions", "status"]
    assert os.stat(path).st_mode & 0o777 == 0o444
    expect_errno(errno.EACCES, os.open, path, os.O_WRONLY)
    m.session()
    b = m.session()
    b.ctl("timeout 5")
    b.send("sleep 2\n")
    wait_until(lambda: b.status()["activity"] == "busy", what="sleep to run")
    with open(path) as f:
        lines = f.read().splitlines()
    keys = [line.split(" ", 1)[0] for line in lines]
    assert keys[:9] == ["engine", "engine_version", "container", "container_state", "sessions", "warm",
                        "busy", "uptime", "version"]
    assert all(k.startswith("fuse_") for k in keys[9:]) and keys[-1] == "fuse_requests"
    st = dict(line.split(" ", 1) for line in lines)
    server = container.docker("version", "-f", "{{.Server.Version}}").stdout.strip()
    assert st["engine"] == "ok" and st["engine_version"] == server
    assert st["container"] == container.name and st["container_state"] == "running"
    assert st["sessions"] == "2" and st["warm"] == "0" and st["busy"] == "1"
    assert int(st["uptime"]) >= 0 and st["version"] == "0.1.0"


def status_of(m):
    start = time.monotonic()
    with open(os.path.join(m.path, "status")) as f:
        text = f.read()
    return dict(line.split(" ", 1) for line in text.splitlines()), time.monotonic() - start


def test_status_when_the_container_stops_or_goes(make_mount, fresh_container):
    m = make_mount(target=fresh_container)
    fresh_container.docker("stop", "-t", "0", fresh_container.name)
    assert status_of(m)[0]["container_state"] == "exited"
    fresh_container.docker("rm", "-f", fresh_container.name)
    assert status_of(m)[0]["container_state"] == "missing"


def test_status_answers_within_a_second_without_an_engine(make_mount, own_engine):
    c = Container("seshfs-status", host=own_engine.url).start()
    m = make_mount(target=c, options=[f"docker_host={own_engine.url}"])
    own_engine.stop()
    st, elapsed = status_of(m)
    assert st["engine"] == "unreachable" and "engine_version" not in st
    assert "container_state" not in st and st["sessions"] == "0"
    assert elapsed < 1.5
    own_engine.start()
    assert status_of(m)[0]["engine"] == "ok"


def test_status_answers_within_a_second_while_the_engine_hangs(make_mount, proxy):
    m = make_mount(options=[f"docker_host=unix://{proxy.path}"])
    m.session()
    proxy.stall()
    # Health checks keep coming: each answers within a second, and they share one query.
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: status_of(m), range(12)))
    for st, elapsed in results:
        assert st["engine"] == "unreachable" and st["sessions"] == "1"
        assert elapsed < 1.5
    proxy.resume()
    assert status_of(m)[0]["engine"] == "ok"


# ---- bash by default ----

def test_bash_is_the_default_shell_where_the_container_has_it(make_mount, container, fresh_container):
    s = make_mount().session()
    assert s.status()["shell"] == "/bin/bash"
    s.send("echo $BASH_VERSION\n")
    assert s.read().startswith(b"5.")
    fresh_container.sh("rm /bin/bash")
    t = make_mount(target=fresh_container).session()
    assert t.status()["shell"] == "/bin/sh"
    t.send("echo ${BASH_VERSION-none}\n")
    assert t.read() == b"none\n"


def test_bash_keeps_the_users_variables_and_prints_no_terminal_noise(mount):
    s = session_with(mount, "/bin/bash", "timeout 5")
    assert run(s, "s=kept; d=too; true\n") == b""
    assert run(s, "echo $s $d\n") == b"kept too\n"
    # A job a signal ended (SIGPIPE), a command started with &: bash's own lines are dropped.
    assert run(s, "yes | head -2; sleep 0.1 & wait\n") == b"y\ny\n"
    assert s.read("stderr") == b""
    s.ctl("stderr merged\nrestart")
    assert run(s, "sleep 0.1 & yes | head -1; wait\n") == b"y\n"
    # The same line from a program is output unless it is the first since the shell read the line.
    assert run(s, "echo x >&2; echo '[1] 23' >&2\n") == b"x\n[1] 23\n"
