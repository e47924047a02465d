"""stdin under -o policy=: what the checks see of the input (lines continued with a
backslash, the rest of a line a program took part of, history expansion) and why a
terminal is refused; and stdin's waiting writers: idle_timeout, interrupts, parked_max."""
import errno
import os
import threading
import time

import pytest

from conftest import expect_errno, refused_mount, wait_until

POLICY = "allow echo ls cat head read sleep true printf grep\ndangerous\ndeny \\bcurl\\b\n"
SHELLS = ["/bin/sh", "/bin/bash"]


@pytest.fixture
def guarded(make_mount, policy_file):
    def make(sh="/bin/bash", text=POLICY, timeout=2):
        s = make_mount([f"policy={policy_file(text)}", f"shell={sh}"]).session()
        s.ctl(f"timeout {timeout}")
        return s
    return make


def shown(text):
    """text as ctl shows it: escaped, one line."""
    return "".join("\\\\" if c == "\\" else f"\\x{ord(c):02x}" if ord(c) < 32 else c for c in text)


def refused(s, data, rule):
    """A write refused by rule; rule may go on with ": LINE", as written."""
    expect_errno(errno.EACCES, s.send, data)
    assert s.status()["last_refusal"].startswith(shown(rule)), s.status()["last_refusal"]


def test_a_terminal_and_a_policy_do_not_mix(container, tmp_path, policy_file, make_mount):
    path = policy_file(POLICY)
    r = refused_mount(tmp_path / "mnt", "-o", f"policy={path},tty", container.name)
    assert r.returncode == 1 and r.stderr == (
        "seshfs: -o tty and -o policy= do not mix: a terminal's keys (^C, ^U, ...) change a line "
        "after the policy checked it\n"), r.stderr
    s = make_mount([f"policy={path}"]).session()
    expect_errno(errno.EPERM, s.ctl, "tty on\nrestart")
    assert s.status()["error"] == "tty: a terminal and -o policy= do not mix"
    assert s.status()["tty"] == "off"
    s.ctl("tty off")  # what it is already: fine
    assert "error" not in s.status()


def test_a_writer_waiting_for_room_keeps_its_session_open(make_mount):
    m = make_mount(["idle_timeout=3", "bufsize=4096"])
    runs = m.session("runs")  # a running command alone is no activity
    runs.send("sleep 60\n")
    waits = m.session("waits")
    waits.send("sleep 60\n")
    state = {"since": time.monotonic(), "error": None}

    def writer():
        try:
            with open(waits.path("stdin"), "wb", buffering=0) as f:
                while True:
                    state["since"] = time.monotonic()
                    f.write(b"\n" * 4096)
        except OSError as e:
            state["error"] = e.errno

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    # A write that waits longer than idle_timeout, and then some.
    wait_until(lambda: state["error"] is not None or time.monotonic() - state["since"] > 5, timeout=60,
               what="a write to wait")
    assert state["error"] is None and os.listdir(m.sessions) == ["waits"]
    os.rmdir(waits.dir)
    t.join(10)
    assert state["error"] == errno.EPIPE
    assert "session runs: closed after 3 s without a read or write" in m.read_log()
    assert "session waits: closed" not in m.read_log()


def test_parked_writes_are_capped_per_mount(make_mount):
    # The kernel lets one write at a time into a file: a session's stdin holds at most one
    # waiting write, the others wait in the kernel. 8 sessions of 8 writers; room for 4.
    m = make_mount(["bufsize=4096", "parked_max=16K"])
    sessions = [m.session() for _ in range(8)]
    for s in sessions:
        s.send("sleep 1000\n")
    stop = threading.Event()
    results = {}

    def fill(s, i):  # comment lines until the pipes, the queue and the room for waiting writes are full
        try:
            with open(s.path("stdin"), "wb", buffering=0) as f:
                while not stop.is_set():
                    f.write(b"#" * 4095 + b"\n")
            results[i] = 0
        except OSError as e:
            results[i] = e.errno
    writers = [threading.Thread(target=fill, args=(s, (n, k)), daemon=True)
               for n, s in enumerate(sessions) for k in range(8)]
    for w in writers:
        w.start()
    wait_until(lambda: list(results.values()).count(errno.ENOBUFS) == 32, timeout=30,
               what="the writers beyond the cap")
    time.sleep(1)
    assert len(results) == 32  # 4 sessions hold a waiting write; their writers go on
    refused = {n for n, _ in results}
    assert len(refused) == 4
    stop.set()
    for n, s in enumerate(sessions):
        if n not in refused:
            s.ctl("signal INT")  # sleep ends, the shell reads the comments: the waiting writes get in
    for w in writers:
        w.join(30)
    assert len(results) == 64 and all(results[(n, k)] == (errno.ENOBUFS if n in refused else 0)
                                       for n in range(8) for k in range(8)), results
    assert "a stdin write of 4096 bytes refused (ENOBUFS): waiting writes hold 16384 bytes, parked_max is 16384" \
        in m.read_log()


@pytest.mark.parametrize("line", [
    "set -H\n", "set -BH\n", "set -o histexpand\n", "{ set -o histexpand; }\n", "shopt -so histexpand\n",
    "set -o 'histexpand'\n",
])
def test_every_policy_refuses_turning_history_expansion_on(guarded, line):
    s = guarded("/bin/bash", text="dangerous\n")  # no allow-list: set is a command like any other
    refused(s, line, "histexpand (bash history expansion): ")
    s.send("set +H; set -o pipefail; echo fine\n")
    assert s.read() == b"fine\n"


@pytest.mark.parametrize("sh", SHELLS)
def test_deny_rules_match_what_a_partial_read_leaves(guarded, sh):
    s = guarded(sh)
    # Once ready is out the shell runs read (ash takes what came before as its own input).
    s.send("echo ready; read -n5 x; echo got $x\n")
    assert s.read_until(b"ready\n") == b"ready\n"
    # read takes abcde; the shell would run the rest, curl x
    refused(s, "abcdecurl x\n", "deny \\bcurl\\b: abcdecurl x")
    s.send("true\n")
    assert s.read() == b"got true\n"


@pytest.mark.parametrize("sh", SHELLS)
@pytest.mark.parametrize("text,rule", [
    ("cu\\\nrl --version\n", "deny \\bcurl\\b"),
    ("rm -rf \\\n/\n", "dangerous (rm -r of / ~ or *)"),
    ("echo x; mk\0fs.ext2 /dev/null\n", "dangerous (mkfs)"),
    ("echo a \\\n&& cu\\\n\\\nrl x\n", "deny \\bcurl\\b"),
])
def test_deny_rules_match_the_line_the_shell_runs(guarded, container, sh, text, rule):
    s = guarded(sh)
    refused(s, text, rule)
    assert s.read() == b""
    if "\\\n" in text:  # the same in two writes: the first is held, then dropped with the second
        first, rest = text.split("\n", 1)
        s.send(first + "\n")
        assert s.read() == b""
        refused(s, rest, rule)
    s.send("echo clean\n")
    assert s.read() == b"clean\n"


def test_a_continued_line_is_held_and_sent_as_written(guarded):
    s = guarded("/bin/sh", text="deny \\bcurl\\b\n")
    refused(s, "echo cu\\\nrl\n", "deny \\bcurl\\b: echo cu\\\nrl")  # quoted or not, as deny rules go
    s.send("echo held \\\n")
    assert s.read() == b""  # nothing reached the shell yet
    s.send("to\\\n")
    s.send("gether 'a\\\nb'\n")
    assert s.read() == b"held together a\\\nb\n"
    assert s.read_file("transcript").endswith(b"echo held \\\nto\\\ngether 'a\\\nb'\nheld together a\\\nb\n")


def test_a_line_longer_than_bufsize_is_refused_with_what_was_held(make_mount, policy_file):
    s = make_mount([f"policy={policy_file(POLICY)}", "bufsize=4096"]).session()
    s.ctl("timeout 1")
    refused(s, "echo " + "x" * 5000, "policy (a line longer than bufsize): echo xxx")
    s.send("echo " + "y" * 3000)  # held
    refused(s, "y" * 1500, "policy (a line longer than bufsize): yyy")
    s.send("echo " + "z" * 2000 + " \\\n")  # held too: a backslash continues it
    refused(s, "z" * 1000 + " \\\n" + "z" * 1500, "policy (a line longer than bufsize): echo zzz")
    s.send("echo ok\n")  # what was held went with each refusal
    assert s.read() == b"ok\n"
