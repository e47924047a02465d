"""How a session's shell is started: the dialect the wrapper tells seshfs (ctl `dialect`), found
without running the user's program; bash without history expansion; a shell that never becomes
ready leaves no process once the mkdir failed; an ssh engine host that ssh would take for an option
is refused."""
import errno
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import Container, env_without_engine, expect_errno, refused_mount, session_with, wait_until


@pytest.fixture(scope="module")
def shells():
    """A container with dash besides busybox and bash, and shells reached through links and copies."""
    c = Container(f"seshfs-test-{uuid.uuid4().hex[:8]}").start()
    subprocess.run(["docker", "cp", "-L", "/bin/dash", f"{c.name}:/bin/dash"], check=True, capture_output=True)
    c.sh("mkdir -p /opt/links /opt/copy /opt/hard /opt/bashsh && "
         "ln -s /bin/dash /opt/links/dsh && ln -s ../../bin/bash /opt/links/rel && "
         "ln -s /opt/links/rel /opt/links/two && ln -s /bin/bash /opt/bashsh/sh && "
         "cp /bin/busybox /opt/copy/sh && ln /bin/busybox /opt/hard/sh && "
         "printf '#!/bin/sh\\necho \"$*\" >> /tmp/ran.log\\nexec /bin/sh \"$@\"\\n' > /opt/logged.sh && "
         "chmod +x /opt/logged.sh")
    yield c
    c.remove()


@pytest.mark.parametrize("sh,dialect", [
    ("/bin/bash", "bash"), ("bash", "bash"),
    ("/bin/sh", "ash"), ("sh", "ash"), ("/bin/ash", "ash"),  # links to busybox; bare names found in PATH
    ("/bin/dash", "dash"), ("/opt/links/dsh", "dash"),
    ("/opt/links/rel", "bash"), ("/opt/links/two", "bash"), ("/opt/bashsh/sh", "bash"),  # relative, chained
    ("/opt/hard/sh", "ash"), ("/opt/copy/sh", "ash"),  # busybox as a hard link and as a copy
    ("/opt/logged.sh", "sh"),  # a script: another POSIX sh
])
def test_ctl_says_which_shell_the_wrapper_started(make_mount, shells, sh, dialect):
    m = make_mount(target=shells)
    s = session_with(m, sh, "timeout 10")
    assert s.status()["dialect"] == dialect
    s.send("echo started\n")
    assert s.read() == b"started\n"


def test_the_dialect_is_found_without_running_the_shell(make_mount, shells):
    shells.sh("rm -f /tmp/ran.log")
    m = make_mount(["shell=/opt/logged.sh"], target=shells)
    s = m.session()
    s.ctl("timeout 10")
    s.send("echo ok\n")
    assert s.read() == b"ok\n"
    assert shells.sh("cat /tmp/ran.log") == "-i\n"  # run once, as the shell: no --help first


def test_a_restart_finds_the_dialect_again(make_mount, shells):
    m = make_mount(["shell=/bin/sh"], target=shells)
    s = m.session()
    assert s.status()["dialect"] == "ash"
    s.ctl("shell /bin/bash\nrestart")
    assert s.status()["dialect"] == "bash"
    s.ctl("shell /opt/links/dsh\nrestart")
    assert s.status()["dialect"] == "dash"


# ---- bash without history expansion ----

@pytest.mark.parametrize("sh", ["/bin/bash", "/opt/bashsh/sh"])  # bash, and bash as sh (POSIX mode)
def test_bash_sessions_have_no_history_expansion(make_mount, shells, sh):
    m = make_mount(target=shells)
    s = session_with(m, sh, "timeout 10")
    s.send("echo a!!b\n")
    assert s.read() == b"a!!b\n"
    s.send("echo touch F\n")
    assert s.read() == b"touch F\n"
    s.send("x=!!; echo \"$x\" \"!$\"\n")
    assert s.read() == b"!! !$\n"


def test_bash_tty_sessions_have_no_history_expansion(make_mount, shells):
    m = make_mount(target=shells)
    s = session_with(m, "/bin/bash", "timeout 10", "tty on", "echo off")
    s.send("echo hi\n")
    assert s.read() == b"hi\r\n"
    s.send("x=!!; echo $x a!!b\n")
    assert s.read() == b"!! a!!b\r\n"


# ---- a shell that never becomes ready ----

HANG = "printf '#!/bin/sh\\nsleep 36363\\n' > /tmp/hang.sh && chmod +x /tmp/hang.sh"


def hanging(container):
    return [p for p in container.processes() if p[1] == "sleep 36363"]


def test_a_start_that_timed_out_leaves_no_process(make_mount, container):
    container.sh(HANG)
    m = make_mount(["shell=/tmp/hang.sh"])
    start = time.monotonic()
    expect_errno(errno.ETIMEDOUT, os.mkdir, os.path.join(m.sessions, "h"))
    assert 9 < time.monotonic() - start < 15  # the shell's 10 s, then the kill; not the mkdir's own 15 s
    assert not hanging(container)  # killed before the error came
    assert os.listdir(m.sessions) == []
    assert m.unmount() == 0
    assert not hanging(container)


def test_an_interrupted_start_leaves_no_process(make_mount, container):
    container.sh(HANG)
    m = make_mount(["shell=/tmp/hang.sh"])
    for unmount in (False, True):
        mkdir = subprocess.Popen(["mkdir", os.path.join(m.sessions, "h")], stderr=subprocess.DEVNULL)
        wait_until(lambda: hanging(container), what="the shell to start")
        mkdir.send_signal(signal.SIGINT)
        assert mkdir.wait(5) != 0
        if unmount:  # at once: unmounting waits for the start to be undone
            assert m.unmount() == 0
            assert not hanging(container)
        else:
            wait_until(lambda: not hanging(container), timeout=5, what="the hanging shell to be killed")


# ---- an ssh host that is an option ----

def test_an_ssh_host_starting_with_a_dash_is_refused(container, tmp_path):
    pwned = f"/tmp/pwned-{uuid.uuid4().hex[:8]}"
    url = "ssh://-oProxyCommand=touch $PWNED"
    config = tmp_path / "docker-config"
    meta = config / "contexts" / "meta" / "evil"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": "evil", "Endpoints": {"docker": {"Host": url}}}))
    env = {**env_without_engine(), "PWNED": pwned, "DOCKER_CONFIG": str(config)}
    with_user = "ssh://root@-oProxyCommand=touch $PWNED"
    for args, extra, shown in ((["-o", f"docker_host={url}"], {}, url), ([], {"DOCKER_HOST": url}, url),
                               (["-o", "context=evil"], {}, url),
                               (["-o", f"docker_host={with_user}"], {}, with_user)):
        r = refused_mount(tmp_path / "mnt", *args, container.name, env={**env, **extra})
        time.sleep(0.5)  # ssh would run detached from seshfs
        assert not os.path.exists(pwned), f"{args} {extra}: the ProxyCommand ran"
        assert r.returncode == 1, r.stderr
        assert r.stderr == f"seshfs: docker host '{shown}': a host cannot start with '-' (ssh would take it " \
                           "for an option)\n"
    r = refused_mount(tmp_path / "mnt", "-o", "docker_host=ssh://-o\nx\033[m", container.name, env=env)
    assert r.returncode == 1 and r.stderr.startswith("seshfs: docker host 'ssh://-o\\x0ax\\x1b[m': ") and \
        r.stderr.count("\n") == 1, r.stderr  # one line, whatever the host holds
