"""-o policy=FILE: an allow-list of command words, deny patterns and the
built-in dangerous set on what is written to stdin; refused writes fail with
EACCES and none of them reaches the shell. Under busybox ash and bash."""
import errno
import subprocess
import time

import pytest

from conftest import expect_errno, refused_mount, wait_until

SHELLS = ["/bin/sh", "/bin/bash"]

ALLOW = "allow echo cat printf sleep true read test [ head\n"


@pytest.fixture
def guarded(make_mount, policy_file):
    """A session under a policy that allows a few commands, denies /etc/shadow, and has the
    dangerous set; its shell is the mount's (ctl may not change it: lock_settings)."""
    def make(sh="/bin/bash", timeout=3, text=None):
        path = policy_file(text or "# the test policy\n" + ALLOW + "deny /etc/shadow\n\ndangerous\n")
        m = make_mount([f"policy={path}", f"shell={sh}"])
        s = m.session()
        s.ctl(f"timeout {timeout}")
        s.policy_path = path
        return s
    return make


def refused(s, line):
    expect_errno(errno.EACCES, s.send, line)


@pytest.mark.parametrize("sh", SHELLS)
def test_unlisted_command_is_eacces_and_nothing_of_the_write_runs(guarded, container, sh):
    s = guarded(sh)
    s.send("echo ok\n")
    assert s.read() == b"ok\n"
    refused(s, "echo before\ntouch /tmp/policy-made\necho after\n")
    assert s.read() == b""  # not even the lines before the refused one
    assert not container.has_path("/tmp/policy-made")
    st = s.status()
    assert st["policy"] == s.policy_path and st["refused"] == "1"
    assert st["last_refusal"] == "allow (touch is not listed): touch /tmp/policy-made"
    assert "error" not in st  # error stays about ctl writes
    transcript = s.read_file("transcript")
    assert transcript.endswith(b"ok\n[seshfs: refused by allow (touch is not listed)] touch /tmp/policy-made\n")
    assert b"echo before" not in transcript
    assert "stdin refused by allow (touch is not listed): touch /tmp/policy-made" in s.mount.read_log()
    s.send("echo still here\n")
    assert s.read() == b"still here\n"


@pytest.mark.parametrize("line,output", [
    ("FOO=1 BAR='x y' echo assigned\n", b"assigned\n"),
    ("'echo' quoted\n", b"quoted\n"),
    ("echo a 2>&1 | cat >/dev/null; echo b && true || echo c\n", b"b\n"),
    ("if true; then echo then; else echo else; fi\n", b"then\n"),
    ("for x in rm id; do echo $x; done\n", b"rm\nid\n"),
    ("case rm in rm) echo case;; id|x) echo no;; esac\n", b"case\n"),
    ("cat <<EOF\nrm -rf /tmp\nid\nEOF\n", b"rm -rf /tmp\nid\n"),
    ("echo 'open\nid quoted'\n", b"open\nid quoted\n"),
    ("f() { echo in-f; }; f\n", None),  # f is not listed: a function is a command too
    ("[ -n x ] && echo test\n", b"test\n"),
    ("echo $(echo inner)\n", b"inner\n"),
    ("echo `echo back`\n", b"back\n"),
])
def test_the_splitter_finds_each_command_word(guarded, line, output):
    s = guarded()
    if output is None:
        refused(s, line)
        assert s.status()["last_refusal"].startswith("allow (f is not listed)")
    else:
        s.send(line)
        assert s.read() == output


@pytest.mark.parametrize("line,word", [
    ("echo $(id)\n", "id"),
    ("echo `whoami`\n", "whoami"),
    ("true && rm -f /tmp/x\n", "rm"),
    ("echo x | sh\n", "sh"),
    ("(id)\n", "id"),
    ("{ id; }\n", "id"),
    ("cat <(id)\n", "id"),
    ("$CMD x\n", "$CMD"),
    ("/bin/echo x\n", "/bin/echo"),
])
def test_hidden_commands_are_found(guarded, container, line, word):
    s = guarded(timeout=2)
    refused(s, line)
    last = s.status()["last_refusal"]
    assert last.startswith(f"allow ({word} is not") and last.endswith(line.rstrip("\n")), last
    assert s.read() == b""


@pytest.mark.parametrize("sh", SHELLS)
def test_a_partial_line_is_held_and_checked_whole(guarded, container, sh):
    s = guarded(sh, timeout=1)
    s.send("ec")
    s.send("ho held")
    assert s.read() == b""  # nothing reached the shell yet
    assert b"ech" not in s.read_file("transcript")
    s.send(" together\n")
    assert s.read() == b"held together\n"
    s.send("tou")
    refused(s, "ch /tmp/held-then-refused\n")
    assert s.status()["last_refusal"] == "allow (touch is not listed): touch /tmp/held-then-refused"
    s.send("echo clean\n")  # the refused line's start is gone with it
    assert s.read() == b"clean\n"
    assert not container.has_path("/tmp/held-then-refused")


@pytest.mark.parametrize("line", [
    "rm -rf /\n", "rm -fr ~\n", "rm -r -f *\n", "sudo rm -rf /*\n", "rm -rf --no-preserve-root /x\n",
    "mkfs.ext4 /dev/sdb1\n", "dd if=/dev/zero of=/dev/sda bs=1M\n", ":(){ :|:& };:\n",
    "shutdown -h now\n", "echo x; reboot\n", "chmod -R 777 /\n", "echo x > /dev/sda\n",
    "cat /etc/shadow\n",
])
def test_deny_and_the_dangerous_set_refuse_whole_lines(guarded, line):
    s = guarded("/bin/sh", timeout=2, text="deny /etc/shadow\ndangerous\n")  # no allow-list
    refused(s, line)
    rule = "deny /etc/shadow" if "shadow" in line else "dangerous ("
    assert s.status()["last_refusal"].startswith(rule)


def test_without_an_allow_list_other_commands_run(guarded):
    s = guarded("/bin/sh", text="dangerous")
    s.send("mkdir -p /tmp/dir/sub && rm -rf /tmp/dir && echo removed\n")  # rm -r, but not of / ~ *
    assert s.read() == b"removed\n"
    s.send("echo reboot; echo rm -rf /tmp\n")  # words as arguments, not the dangerous commands
    assert s.read() == b"reboot\nrm -rf /tmp\n"


@pytest.mark.parametrize("sh", SHELLS)
def test_a_program_reading_stdin_gets_lines_the_allow_list_would_refuse(guarded, sh):
    s = guarded(sh)
    s.send("head -n 2\n")
    wait_until(lambda: s.status()["activity"] == "busy", what="head to run")
    s.send("whoami is data here\n")  # asked: head reads stdin
    refused(s, "cat /etc/shadow\n")  # deny rules hold for programs too
    s.send("second line\n")
    assert s.read() == b"whoami is data here\nsecond line\n"
    assert s.status()["activity"] == "idle"
    refused(s, "whoami\n")  # the shell reads again: the allow-list applies


def test_the_read_builtin_gets_its_answer(guarded):
    s = guarded()
    s.send("read answer; echo got $answer\n")
    wait_until(lambda: s.status()["activity"] == "busy", what="read to wait")
    s.send("id is only an answer\n")
    assert s.read() == b"got id is only an answer\n"


@pytest.mark.parametrize("sh", SHELLS)
def test_a_busy_shell_does_not_take_unlisted_commands_for_later(guarded, sh):
    s = guarded(sh)
    s.send("sleep 1; echo slept\n")
    wait_until(lambda: s.status()["activity"] == "busy", what="sleep to run")
    start = time.monotonic()
    refused(s, "id\n")  # nothing reads stdin now: the shell would read it next
    assert time.monotonic() - start < 1  # the probe answered, the sleep did not end it
    s.send("echo queued\n")
    assert s.read_until(b"slept\nqueued\n") == b"slept\nqueued\n"


def test_lock_settings_refuses_what_steps_around_the_policy(guarded, make_mount):
    s = guarded("/bin/sh")  # the mount's own -o shell= is fine; ctl's is not
    for line in ("shell /bin/bash", "user nobody", "env PATH=/tmp", "unsetenv PATH", "workdir /tmp"):
        expect_errno(errno.EPERM, s.ctl, line)
        assert s.status()["error"] == f"{line.split()[0]}: locked by the mount (lock_settings)"
    s.ctl("timeout 2\nquiet 0.5")  # reading settings stay the user's
    assert s.status()["timeout"] == "2"
    plain = make_mount(["lock_settings"])  # without a policy too
    p = plain.session()
    expect_errno(errno.EPERM, p.ctl, "shell /bin/sh")
    p.ctl("restart")
    assert "policy" not in p.status() and "refused" not in p.status()


@pytest.mark.parametrize("text,message", [
    ("allow ls\nforbid rm\n", ":2: unknown rule 'forbid' (expected allow WORD..., deny REGEX or dangerous)"),
    ("# ok\ndeny (unclosed\n", ":2: deny: missing closing parenthesis at offset 9"),
    ("allow\n", ":1: allow: expected one or more command names"),
    ("# nothing\n", ": no rules"),
])
def test_a_bad_policy_file_mounts_nothing(container, tmp_path, policy_file, text, message):
    path = policy_file(text)
    r = refused_mount(tmp_path / "mnt", "-o", f"policy={path}", container.name)
    assert r.returncode == 1 and r.stderr == f"seshfs: {path}{message}\n", r.stderr
    r = refused_mount(tmp_path / "mnt", "-o", "policy=/nonexistent", container.name)
    assert r.returncode == 1 and r.stderr == "seshfs: /nonexistent: No such file or directory\n"


def test_sh_c_is_how_users_drive_it(guarded):
    s = guarded("/bin/sh")
    r = subprocess.run(["sh", "-c", f"cd {s.dir}; echo 'echo via sh' > stdin && cat stdout; "
                                    "echo 'id' > stdin; echo status=$?"], capture_output=True, timeout=30)
    assert r.stdout == b"via sh\nstatus=1\n" and r.stderr.startswith(b"sh: 1: echo: ")
