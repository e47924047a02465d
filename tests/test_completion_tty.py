"""Completion where the shell's stdout and stderr are one stream: a terminal, or
stderr merged into stdout. Under busybox ash and bash."""
import time

import pytest

from conftest import session_with, timed_read, wait_until

SHELLS = ["/bin/sh", "/bin/bash"]


def history_commands(s):
    return [line.split(b"\t")[4] for line in s.read_file("history").splitlines()]


@pytest.mark.parametrize("sh", SHELLS)
def test_tty_completes_again_after_a_command_read_its_input(mount, sh):
    """The shell back at a terminal prompt sleeps in a terminal read, not in a wait for a child."""
    s = session_with(mount, sh, "tty on", "echo off", "timeout 5")
    for command, answer in [("read x", "abc"), ("read -p 'name? ' y", "bob"), ("head -n 1", "line")]:
        s.send(command + "\n")
        time.sleep(0.2)
        s.send(answer + "\n")
        data, elapsed = timed_read(s)
        assert elapsed < 2.5, (command, data)
        s.send("echo hi\n")
        data, elapsed = timed_read(s)
        assert data == b"hi\r\n" and elapsed < 2.5, (command, data)
        assert s.status()["activity"] == "idle"
    s.send("echo $x $y\n")
    assert s.read() == b"abc bob\r\n"
    assert history_commands(s) == [b"read x", b"echo hi", b"read -p 'name? ' y", b"echo hi",
                                   b"head -n 1", b"echo hi", b"echo $x $y"]


@pytest.mark.parametrize("sh", SHELLS)
def test_merged_stderr_knows_a_continuation_and_drops_it_on_interrupt(mount, sh):
    s = session_with(mount, sh, "stderr merged", "timeout 5")
    s.send("(a\n")
    data, elapsed = timed_read(s)
    assert data == b"" and elapsed < 2.5
    assert s.status()["activity"] == "continuation"
    s.ctl("signal INT")  # the shell drops the unfinished line
    wait_until(lambda: s.status()["activity"] == "idle", what="the new prompt")
    assert s.status()["last_exit"] == "130"
    assert s.read() == b""  # nor is the shell's newline before it output
    s.send("echo ok\n")
    data, elapsed = timed_read(s)
    assert data == b"ok\n" and elapsed < 2.5
    s.send("for i in 1 2\ndo echo $i >&2\ndone\n")
    assert s.read() == b"1\n2\n"
    assert history_commands(s)[-2:] == [b"echo ok", b"for i in 1 2\\ndo echo $i >&2\\ndone"]


@pytest.mark.parametrize("sh", SHELLS)
def test_merged_stderr_output_goes_to_the_read_of_its_command(mount, sh):
    s = session_with(mount, sh, "stderr merged", "timeout 5")
    for i in range(30):
        s.send("echo \\\n a \\\n b\n")
        assert s.read() == b"a b\n", i
        s.send("echo x\n")
        assert s.read() == b"x\n", i


@pytest.mark.parametrize("sh", SHELLS)
def test_tty_job_notices_come_with_the_read_before_the_prompt(mount, sh):
    """A terminal's shell reports finished jobs before its prompt: in the read that ends there."""
    s = session_with(mount, sh, "tty on", "echo off", "timeout 5")
    for i in range(20):
        s.send("for j in 1 2 3 4 5 6 7 8; do sleep 0.1 & done\n")
        started = s.read()  # the jobs' "[N] PID" lines (bash), notices of jobs done already
        time.sleep(0.4)
        s.send("echo x\n")
        done = s.read()
        assert done.startswith(b"x\r\n") and (started + done).count(b"Done") == 8, (i, started, done)


def test_tty_bash_keeps_its_prompt_mark_when_ps1_is_set(mount):
    """In a terminal bash's PS1 is the mark: a PS1 of the user's (a sourced .bashrc) does not end completion."""
    s = session_with(mount, "/bin/bash", "tty on", "echo off", "timeout 5")
    s.send("PS1='user> '; cd /tmp\n")
    data, elapsed = timed_read(s)
    assert data == b"" and elapsed < 2.5
    s.send("echo hi; false\n")
    data, elapsed = timed_read(s)
    assert data == b"hi\r\n" and elapsed < 2.5
    st = s.status()
    assert (st["activity"], st["last_exit"], st["cwd"]) == ("idle", "1", "/tmp")
