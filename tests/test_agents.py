"""What agent harnesses need of a session: exact completion around builtins that
read stdin, a way out of an incomplete command line, one ordered stream,
refusing input while a command runs, and a soft "no new output" timeout.

Each runs under busybox ash and under bash.
"""
import errno
import os
import time

import pytest

from conftest import expect_errno, session_with, timed_read, wait_until

SHELLS = ["/bin/sh", "/bin/bash"]




# ---- 1. a read builtin right after a multi-line write is not taken for a prompt ----

@pytest.mark.parametrize("sh", SHELLS)
@pytest.mark.parametrize("gap", [0, 0.05])
def test_read_builtin_after_a_multi_line_write_keeps_the_session_busy(mount, sh, gap):
    s = session_with(mount, sh, "timeout 1.5")
    s.send("echo a\necho b\n")
    if gap:
        assert s.read() == b"a\nb\n"
        time.sleep(gap)
    s.send('read x; echo "got $x"\n')
    data, elapsed = timed_read(s)
    assert data == (b"" if gap else b"a\nb\n")
    if not gap:  # the first read ended once a and b were there; the next waits for read
        data, elapsed = timed_read(s)
        assert data == b""
    assert elapsed >= 1.4  # read waits for input: no EOF before the timeout
    assert s.status()["activity"] == "busy"
    s.send("hello\n")
    assert s.read() == b"got hello\n"
    assert s.status()["activity"] == "idle" and s.status()["last_exit"] == "0"


@pytest.mark.parametrize("sh", SHELLS)
def test_while_read_loop_typed_into_keeps_the_session_busy(mount, sh):
    s = session_with(mount, sh, "timeout 1")
    s.send("sleep 0.3\n")
    s.send("while read line; do echo \"[$line]\"; [ \"$line\" = end ] && break; done\n")
    assert s.read() == b""  # sleep, then the loop waits for lines
    assert s.status()["activity"] == "busy"
    s.send("one\nend\n")
    assert s.read_until(b"[one]\n[end]\n") == b"[one]\n[end]\n"
    wait_until(lambda: s.status()["activity"] == "idle", what="the loop to end")


# ---- 2. a way out of an incomplete command line ----

@pytest.mark.parametrize("sh", SHELLS)
def test_signal_int_abandons_a_continuation_line(mount, sh):
    s = session_with(mount, sh, "timeout 10")
    s.send("cd /tmp; V=kept\n")
    assert s.read() == b""
    s.send('echo "unbalanced\n')
    data, elapsed = timed_read(s)
    assert data == b"" and elapsed < 5  # reads end at the continuation prompt, as when idle
    assert s.status()["activity"] == "continuation"
    s.send("more\n")  # still part of the string
    wait_until(lambda: s.status()["activity"] == "continuation", what="the next continuation prompt")
    s.ctl("signal INT")
    wait_until(lambda: s.status()["activity"] == "idle", what="a fresh prompt")
    assert s.status()["last_exit"] == "130"
    s.send('echo "$V in $(pwd)"\n')
    assert s.read() == b"kept in /tmp\n"
    assert s.read("stderr") == b""


# ---- 3. one ordered stream ----

@pytest.mark.parametrize("sh", SHELLS)
def test_merged_stderr_keeps_the_order_and_completion(mount, sh):
    s = session_with(mount, sh, "stderr merged", "timeout 10")
    assert s.status()["stderr"] == "merged"
    s.send("for i in 1 2 3 4 5 6 7 8 9 10; do echo out$i; echo err$i >&2; done; ls /nope\n")
    data, elapsed = timed_read(s)
    expected = b"".join(b"out%d\nerr%d\n" % (i, i) for i in range(1, 11))
    assert data.startswith(expected) and b"/nope" in data[len(expected):] and elapsed < 5
    assert s.read("stderr") == b""
    assert s.status()["last_exit"] != "0"


def test_merged_stderr_from_the_mount_option_does_not_stall_a_stdout_reader(make_mount):
    m = make_mount(options=["stderr=merged", "timeout=20"])
    s = m.session()
    s.send("dd if=/dev/zero bs=1000 count=3000 >&2 2>/dev/null; yes e | head -c 3000000 >&2; echo done\n")
    got = b""
    deadline = time.monotonic() + 30
    while not got.endswith(b"done\n") and time.monotonic() < deadline:
        got += s.read()
    assert got.endswith(b"done\n") and len(got) == 3000000 + 3000000 + 5
    assert os.stat(s.path("stderr")).st_size == 0


def test_separate_is_the_default_and_bad_values_are_refused(mount, container, tmp_path):
    from conftest import SESHFS_BIN
    import subprocess
    s = mount.session()
    assert s.status()["stderr"] == "separate"
    expect_errno(errno.EINVAL, s.ctl, "stderr both")
    r = subprocess.run([SESHFS_BIN, "-o", "stderr=both", container.name, str(tmp_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "expected stderr=merged|separate" in r.stderr


# ---- 4. input while a command runs ----

@pytest.mark.parametrize("sh", SHELLS)
def test_busy_input_refuse(mount, container, sh):
    s = session_with(mount, sh, "busy_input refuse", "timeout 10")
    assert s.status()["busy_input"] == "refuse"
    s.send("sleep 1000\n")
    wait_until(lambda: any(a == "sleep 1000" for _, a in container.processes()), what="sleep")
    before = os.stat(s.path("transcript")).st_size
    expect_errno(errno.EBUSY, s.send, "echo queued\n")
    assert os.stat(s.path("transcript")).st_size == before  # nothing was taken
    s.ctl("signal INT")
    wait_until(lambda: s.status()["activity"] == "idle", what="idle")
    assert s.status()["last_exit"] == "130"  # no queued line ran after the interrupt
    s.send('echo "open\n')  # accepted, and leaves a continuation
    wait_until(lambda: s.status()["activity"] == "continuation", what="continuation")
    s.send('quote"\n')  # accepted in continuation
    assert s.read() == b"open\nquote\n"


def test_busy_input_queue_is_the_default_and_tty_sessions_accept(make_mount, container):
    m = make_mount(options=["busy_input=refuse"])
    s = m.session()
    assert s.status()["busy_input"] == "refuse"
    s.ctl("busy_input queue")
    s.send("sleep 0.5\n")
    s.send("echo after\n")  # queued, as without the setting
    assert s.read_until(b"after\n") == b"after\n"
    t = m.session()
    t.ctl("tty on\nrestart")
    t.send("sleep 1000\n")
    t.send("x")  # a terminal takes keystrokes whatever runs
    t.send("\x03")


# ---- 5. a soft timeout ----

@pytest.mark.parametrize("sh", SHELLS)
def test_quiet_ends_a_read_once_output_stops(mount, sh):
    s = session_with(mount, sh, "timeout 20", "quiet 0.6")
    assert s.status()["quiet"] == "0.6"
    s.send("sleep 0.3; echo a; sleep 0.3; echo b >&2; sleep 5; echo c\n")
    data, elapsed = timed_read(s)
    assert data == b"a\n"
    # "a" after 0.3 s, the read returned it; the next read: b on stderr at 0.6 s counts
    # as output too, so stdout's EOF comes 0.6 s after it.
    data, elapsed = timed_read(s)
    assert data == b"" and 0.6 <= elapsed < 2.5
    assert s.read("stderr") == b"b\n"
    s.ctl("quiet 0")
    assert s.read() == b"c\n"  # completion still ends the read
