"""Completion, exit status, interrupt, restart, tty sessions, settings, idle sessions."""
import errno
import os
import subprocess
import time

import pytest

from conftest import expect_errno, shell, timed_read, wait_until

MARKERISH = (b"\x1e0123456789abcdef:1:0\x1f|\x1e\x1e:2\x1f|\x1eSESHFS:1:7\x1f|"
             b"\x1f\x1e|plain\x1e")



def test_one_line_command_returns_well_under_the_timeout(mount):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("echo hello\n")
    data, elapsed = timed_read(s)
    assert data == b"hello\n"
    assert elapsed < 10  # the timeout is 30 s: EOF came from completion
    r = shell(f"echo 'echo from sh' > {s.path('stdin')}; cat {s.path('stdout')}", timeout=20)
    assert r.stdout == b"from sh\n"


def test_multi_line_input_ends_after_the_last_line(mount):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("echo one; sleep 1\necho two\n")
    data, elapsed = timed_read(s)
    assert data == b"one\ntwo\n"
    assert 0.9 < elapsed < 10


def test_continuation_lines_and_heredocs_count(mount):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("if true\nthen echo in\nfi\ncat <<EOF\nbody\nEOF\necho err >&2\n")
    data, elapsed = timed_read(s)
    assert data == b"in\nbody\n"
    assert s.read(stream="stderr") == b"err\n"
    assert elapsed < 10


def test_last_exit_and_activity(mount):
    s = mount.session()
    s.ctl("timeout 30")
    st = s.status()
    assert st["activity"] == "idle" and "last_exit" not in st
    s.send("false\n")
    assert s.read() == b""
    assert s.status()["last_exit"] == "1"
    s.send("true\n")
    assert s.read() == b""
    assert s.status()["last_exit"] == "0"
    s.send("(exit 42)\n")
    assert s.read() == b""
    assert s.status()["last_exit"] == "42"
    s.send("sleep 1000\n")
    assert s.status()["activity"] == "busy"
    s.ctl("signal INT")
    assert s.read() == b""
    st = s.status()
    assert (st["activity"], st["last_exit"]) == ("idle", "130")


def test_no_prompt_or_startup_noise(mount):
    s = mount.session()
    s.ctl("timeout 30")
    assert s.read() == b""
    assert s.read(stream="stderr") == b""
    s.send("echo a; echo b >&2\nls /nonexistent\nif true\nthen :\nfi\n")
    assert s.read() == b"a\n"
    assert s.read(stream="stderr") == b"b\nls: /nonexistent: No such file or directory\n"
    assert os.stat(s.path("stdout")).st_size == 2


def test_marker_lookalikes_come_through_unchanged(mount):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("printf '\\036" "0123456789abcdef:1:0\\037|\\036\\036:2\\037|\\036SESHFS:1:7\\037|"
           "\\037\\036|plain\\036'\n"
           "printf '\\036" "0123456789abcdef:1:0\\037|\\036\\036:2\\037|\\036SESHFS:1:7\\037|"
           "\\037\\036|plain\\036' >&2\n"
           "echo; echo >&2\n")
    assert s.read() == MARKERISH + b"\n"
    assert s.read(stream="stderr") == MARKERISH + b"\n"


def test_nested_shell_does_not_fake_completion(mount):
    s = mount.session()
    s.ctl("timeout 30")
    # PS1 is not exported: a shell started by the user prompts on its own.
    s.send("sh -c 'echo $PS1' ; echo done\n")
    data = s.read()
    assert data.endswith(b"done\n") and b"\x1e" not in data


def test_stdin_reader_keeps_session_busy_then_detection_works_again(mount, container):
    s = mount.session()
    s.ctl("timeout 1")
    s.send("read x\n")
    time.sleep(0.3)
    s.send("typed\n")  # read by the read builtin, not the shell
    s.send("echo got $x\n")
    assert s.read_until(b"got typed\n") == b"got typed\n"
    s.send("cat\n")
    # A shell reads ahead whatever the pipe holds: give cat its input once it runs.
    wait_until(lambda: any(a == "cat" for _, a in container.processes()), what="cat")
    s.send("line for cat\n")
    data, elapsed = timed_read(s)
    assert data == b"line for cat\n"
    assert elapsed >= 0.9  # cat reads stdin: busy until the timeout
    assert s.status()["activity"] == "busy"
    s.ctl("signal INT")
    wait_until(lambda: s.status()["activity"] == "idle", what="resynchronised completion")
    s.ctl("timeout 30")
    s.send("echo back\n")
    data, elapsed = timed_read(s)
    assert data == b"back\n"
    assert elapsed < 10


def test_eof_deadline_mode_watches_background_jobs(mount):
    s = mount.session()
    s.ctl("timeout 3\neof deadline")
    assert s.status()["eof"] == "deadline"
    s.send("(sleep 0.5; echo late) &\n")
    data, elapsed = timed_read(s)
    assert data == b"late\n"
    assert elapsed >= 2.5
    s.ctl("eof idle")
    data, elapsed = timed_read(s)
    assert data == b"" and elapsed < 2


def test_signal_keeps_cwd_variables_and_background_jobs(mount, container):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("cd /tmp; V=kept; sleep 999 &\n")
    assert s.read() == b""
    s.send("sleep 1000\n")
    wait_until(lambda: any(a == "sleep 1000" for _, a in container.processes()), what="sleep")
    s.ctl("signal INT")
    assert s.read() == b""
    s.send("echo $V $(pwd)\n")
    assert s.read() == b"kept /tmp\n"
    procs = [a for _, a in container.processes()]
    assert "sleep 999" in procs and "sleep 1000" not in procs
    for loop in ["while :; do :; done", "while :; do sleep 0.1; done"]:
        s.send("echo started; " + loop + "; echo not reached\n")
        # Once "started" is out the shell runs the loop (a read with data returns at once).
        with open(s.path("stdout"), "rb", buffering=0) as f:
            assert f.read(100) == b"started\n"
        s.ctl("signal INT")
        assert s.read() == b""
        assert s.read(stream="stderr") == b""
        assert s.status()["last_exit"] == "130"
    s.send("echo still $V\n")
    assert s.read() == b"still kept\n"


def test_restart_starts_a_fresh_shell(mount, container):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("cd /tmp; X=1; sleep 1000 &\n")
    assert s.read() == b""
    old_pid = s.status()["pid"]
    s.ctl("restart")
    st = s.status()
    assert st["state"] == "running" and st["pid"] != old_pid
    assert not any(a == "sleep 1000" for _, a in container.processes())
    s.send("echo \"[$X] $(pwd)\"\n")
    assert s.read() == b"[] /\n"
    s.send("exit 5\n")
    wait_until(lambda: s.status().get("exit_code") == "5", what="exit")
    s.ctl("restart")
    s.send("echo alive\n")
    assert s.read() == b"alive\n"


def test_start_settings_apply_at_restart(mount):
    s = mount.session()
    s.ctl("timeout 30")
    s.ctl("workdir /tmp\nenv GREETING=hello world\nenv OTHER=1\nuser 65534\nshell /bin/ash")
    s.send("pwd\n")
    assert s.read() == b"/\n"  # not applied before the restart
    st = s.status()
    assert (st["workdir"], st["user"], st["shell"]) == ("/tmp", "65534", "/bin/ash")
    s.ctl("unsetenv OTHER\nrestart")
    s.send("pwd; echo \"$GREETING\" \"${OTHER-unset}\"; head -c 8 /proc/$$/cmdline; echo; id -u\n")
    assert s.read() == b"/tmp\nhello world unset\n/bin/ash\n65534\n"
    for bad in ["env 1X=2", "env NOEQUALS", "tty maybe", "resize 0 10", "restart now", "eof sometimes"]:
        expect_errno(errno.EINVAL, s.ctl, bad)


def test_mount_defaults_for_settings(make_mount):
    m = make_mount(options=["workdir=/tmp", "env=A=1", "env=B=two words", "user=65534"])
    s = m.session()
    s.ctl("timeout 30")
    s.send("pwd; echo $A $B; id -u\n")
    assert s.read() == b"/tmp\n1 two words\n65534\n"


def read_tty(s, expected, limit=15):
    """TTY output arrives with echo and prompts: read until expected shows up."""
    data = b""
    deadline = time.monotonic() + limit
    while expected not in data and time.monotonic() < deadline:
        data += s.read()
    assert expected in data, data
    return data


def test_tty_session_prompt_interrupt_and_resize(mount):
    s = mount.session()
    s.ctl("timeout 0.5\ntty on\nrestart")
    st = s.status()
    assert st["tty"] == "on" and st["activity"] == "idle"
    s.send("sh -i\n")
    s.send("PS1='nested> '\n")
    read_tty(s, b"nested> ")
    s.send("sleep 1000; echo interrupted $?\n")
    time.sleep(0.5)
    s.send(b"\x03")
    read_tty(s, b"nested> ")
    s.send("stty size\n")
    read_tty(s, b"24 80\r\n")
    s.ctl("resize 100 40")
    s.send("stty size\n")
    read_tty(s, b"40 100\r\n")
    assert s.status()["size"] == "100 40"


@pytest.mark.parametrize("sh", ["/bin/sh", "/bin/bash"])
def test_tty_session_knows_when_a_command_is_done(mount, sh):
    s = mount.session()
    s.ctl(f"timeout 10\ntty on\nshell {sh}\nrestart")
    start = time.monotonic()
    s.send("cd /tmp; echo hi\n")
    assert s.read() == b"cd /tmp; echo hi\r\nhi\r\n"  # the terminal's echo, the output, no prompt
    assert time.monotonic() - start < 5
    s.send("false\n")
    assert s.read() == b"false\r\n"
    st = s.status()
    assert st["last_exit"] == "1" and st["cwd"] == "/tmp" and st["activity"] == "idle"
    s.send("ech")  # a keystroke without a newline: the shell waits for the line
    assert s.status()["activity"] == "busy"
    s.send("o done\n")
    assert s.read() == b"echo done\r\ndone\r\n"
    assert [line.split(b"\t")[4] for line in s.read_file("history").splitlines()] == \
        [b"cd /tmp; echo hi", b"false", b"echo done"]


def test_tty_echo_off_shows_only_what_programs_print(make_mount):
    m = make_mount(options=["tty", "echo=off"])
    s = m.session()
    s.ctl("timeout 10")
    assert s.status()["echo"] == "off"
    s.send("echo quiet; sleep 0.2\n")
    assert s.read() == b"quiet\r\n"
    s.send("sleep 100\n")
    wait_until(lambda: s.status()["activity"] == "busy", what="sleep to run")
    s.ctl("signal INT")
    assert s.read() == b"", s.read_file("transcript")
    assert s.status()["last_exit"] == "130"
    s.ctl("echo on\nrestart")
    s.send("echo loud\n")
    assert s.read() == b"echo loud\r\nloud\r\n"


def test_tty_mount_default_and_stderr_merged(make_mount):
    m = make_mount(options=["tty"])
    s = m.session()
    s.ctl("timeout 0.5")
    s.send("echo to-err >&2\n")
    read_tty(s, b"to-err\r\n")
    assert s.read(stream="stderr") == b""


def test_idle_sessions_are_closed(make_mount, container):
    m = make_mount(options=["idle_timeout=1"])
    idle = m.session("idle")
    busy = m.session("busy")
    idle.send("sleep 1000 &\n")
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        busy.send("true\n")
        busy.read()
        time.sleep(0.2)
    assert os.listdir(m.sessions) == ["busy"]
    assert not any(a == "sleep 1000" for _, a in container.processes())
    assert "session idle: closed after 1 s without a read or write" in m.read_log()
    wait_until(lambda: os.listdir(m.sessions) == [], timeout=10, what="busy to expire too")


def test_bad_mount_options_for_settings(container, tmp_path):
    from conftest import SESHFS_BIN
    r = subprocess.run([SESHFS_BIN, "-o", "env=1BAD=x", container.name, str(tmp_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "expected env=NAME=VALUE" in r.stderr
    r = subprocess.run([SESHFS_BIN, "-o", "idle_timeout=x", container.name, str(tmp_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "idle_timeout 'x'" in r.stderr


def test_bash_session_completion_without_noise(make_mount, container):
    """bash gets its marks from PROMPT_COMMAND (no fork); everything else is the same."""
    m = make_mount(options=["shell=/bin/bash", "timeout=30"])
    s = m.session()
    assert s.read() == b"" and s.read(stream="stderr") == b""  # no "no job control" and the like
    s.send("false; echo \"st $?\"; echo $BASH_VERSION | cut -c1\n")
    data, elapsed = timed_read(s)
    assert data == b"st 1\n5\n" and elapsed < 10
    s.send("(exit 7)\n")
    assert s.read() == b""
    assert s.status()["last_exit"] == "7"
    s.send("echo \"kept $?\"\n")  # PROMPT_COMMAND leaves $? alone
    assert s.read() == b"kept 7\n"
    s.send("if true\nthen echo in\nfi\ncat <<X\nbody\nX\n")
    assert s.read() == b"in\nbody\n"
    s.send("echo started; while :; do :; done; echo not reached\n")
    with open(s.path("stdout"), "rb", buffering=0) as f:
        assert f.read(100) == b"started\n"
    s.ctl("signal INT")
    assert s.read() == b"" and s.read(stream="stderr") == b""
    assert s.status()["last_exit"] == "130"
