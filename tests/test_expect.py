"""ctl expect REGEX: reads end when a program waits for input at a prompt of
its own (a REPL's, an installer's question). Under busybox ash and bash."""
import errno
import threading
import time

import pytest

from conftest import expect_errno, session_with, timed_read, wait_until

SHELLS = ["/bin/sh", "/bin/bash"]




@pytest.mark.parametrize("sh", SHELLS)
def test_expect_ends_a_read_at_a_question_and_holds_until_the_answer(mount, sh):
    s = session_with(mount, sh, "timeout 5", "expect \\[y/N\\] $")
    s.send('printf "Really? [y/N] "; read a; echo "got $a"\n')
    data, elapsed = timed_read(s)
    assert data == b"Really? [y/N] " and elapsed < 2
    assert timed_read(s)[0] == b""  # EOF holds until the next write
    assert timed_read(s)[1] < 1
    s.send("y\n")
    assert s.read() == b"got y\n"  # then completion ends the read, as always
    assert s.status()["expect"] == "\\\\[y/N\\\\] $"  # ctl escapes backslashes


@pytest.mark.parametrize("sh", SHELLS)
def test_expect_matches_only_at_the_end_with_line_anchors(mount, sh):
    s = session_with(mount, sh, "timeout 1.5", "expect ^>>> $")
    s.send('printf ">>> not yet\\n>>>"; sleep 30\n')
    data, elapsed = timed_read(s)
    assert data == b">>> not yet\n>>>" and elapsed >= 1.4  # no match: the deadline ended it
    s.ctl("signal INT")
    s.read()
    s.send('printf "x\\n>>> "; sleep 30\n')
    data, elapsed = timed_read(s)
    assert data == b"x\n>>> " and elapsed < 1.4
    s.ctl("signal INT")


@pytest.mark.parametrize("sh", SHELLS)
def test_expect_keeps_trailing_blanks_and_matches_either_stream(mount, sh):
    s = session_with(mount, sh, "timeout 1.5")
    s.ctl("expect Password:  ")  # two blanks, kept
    s.send('printf "Password: " >&2; sleep 30\n')
    data, elapsed = timed_read(s)
    assert data == b"" and elapsed >= 1.4
    s.ctl("signal INT")
    s.read()
    assert s.read("stderr") == b"Password: "
    s.send('printf "Password:  " >&2; sleep 30\n')
    data, elapsed = timed_read(s)  # a read of stdout ends on stderr's match
    assert data == b"" and elapsed < 1.4
    assert s.read("stderr") == b"Password:  "
    s.ctl("signal INT")


def test_expect_works_with_eof_deadline_and_applies_to_waiting_reads(mount):
    s = mount.session()
    s.ctl("timeout 5\neof deadline")
    s.send('printf "name? "; read n\n')
    wait_until(lambda: s.status()["activity"] == "busy", what="read to run")
    result = {}
    reader = threading.Thread(target=lambda: result.update(r=timed_read(s)))
    reader.start()
    time.sleep(0.5)
    s.ctl("expect \\? $")  # the waiting read ends: the output so far matches
    reader.join(5)
    assert result["r"][0] == b"name? " and result["r"][1] < 2
    s.send("x\n")
    s.ctl("expect")  # off
    assert "expect" not in s.status()
    s.send('printf "name? "\n')
    data, elapsed = timed_read(s)  # eof deadline: no completion, no expect
    assert data == b"name? " and elapsed >= 4.5


def test_a_bad_pattern_is_einval_with_the_reason(mount):
    s = mount.session()
    expect_errno(errno.EINVAL, s.ctl, "expect (unclosed")
    assert s.status()["error"] == "expect: missing closing parenthesis at offset 9"
    assert "expect" not in s.status()


def test_busy_input_refuse_takes_the_answer_once_expect_matched(mount):
    s = session_with(mount, "/bin/bash", "timeout 5", "busy_input refuse", "expect name\\? $")
    s.send("sleep 0.5; printf 'name? ' >&2; read n; echo \"hi $n\"\n")
    expect_errno(errno.EBUSY, s.send, "early\n")  # sleep runs: refused
    assert s.read("stderr") == b"name? "
    s.send("Ann\n")  # the program asks: taken
    assert s.read() == b"hi Ann\n"
