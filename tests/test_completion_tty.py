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
