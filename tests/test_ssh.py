"""An engine over ssh, as the docker CLI reaches one: DOCKER_HOST=ssh://user@host:port
runs `ssh ... docker system dial-stdio` per connection, with BatchMode and ssh's own
known_hosts rules. The test runs an sshd of its own on loopback (its host key put in
root's known_hosts for the test, then taken out) and an ssh-agent with a key it makes;
the far side's docker CLI talks to this machine's engine."""
import os
import shutil
import signal
import subprocess

import pytest

from conftest import SESHFS_BIN, env_without_engine, exercise_engine, free_port, refused_mount, wait_until

KNOWN_HOSTS = "/root/.ssh/known_hosts"


@pytest.fixture(scope="module")
def ssh_engine(tmp_path_factory):
    """(url, environment with the agent) for an sshd on loopback that lets root in with a test key."""
    d = tmp_path_factory.mktemp("ssh")
    for key in ("host_key", "id_test"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    shutil.copy(d / "id_test.pub", d / "authorized_keys")
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n"
        f"PidFile {d}/sshd.pid\nUsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\n"
        "PasswordAuthentication no\n")
    os.makedirs("/run/sshd", exist_ok=True)
    subprocess.run(["/usr/sbin/sshd", "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")], check=True)
    os.makedirs(os.path.dirname(KNOWN_HOSTS), mode=0o700, exist_ok=True)
    saved = open(KNOWN_HOSTS).read() if os.path.exists(KNOWN_HOSTS) else None
    with open(KNOWN_HOSTS, "a") as f:
        f.write(f"[127.0.0.1]:{port} {(d / 'host_key.pub').read_text()}")
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    env = env_without_engine()
    for part in agent.replace("\n", ";").split(";"):
        if part.startswith(("SSH_AUTH_SOCK=", "SSH_AGENT_PID=")):
            k, v = part.strip().split("=", 1)
            env[k] = v
    subprocess.run(["ssh-add", "-q", str(d / "id_test")], env=env, check=True)
    yield f"ssh://root@127.0.0.1:{port}", env
    os.kill(int(env["SSH_AGENT_PID"]), signal.SIGTERM)
    os.kill(int((d / "sshd.pid").read_text()), signal.SIGTERM)
    if saved is None:
        os.unlink(KNOWN_HOSTS)
    else:
        with open(KNOWN_HOSTS, "w") as f:
            f.write(saved)


def dial_stdio():
    out = subprocess.run(["pgrep", "-f", "docker system dial-stdio"], capture_output=True, text=True).stdout
    return out.split()


def test_sessions_over_ssh(make_mount, container, ssh_engine):
    url, env = ssh_engine
    m = make_mount(env={**env, "DOCKER_HOST": url})
    assert f"(engine {url})" in m.read_log()
    exercise_engine(m, container, "ssh")
    assert m.unmount() == 0
    wait_until(lambda: dial_stdio() == [], what="every ssh connection to end")


def test_daemonized_over_ssh(container, ssh_engine, tmp_path):
    """Without -f seshfs forks into the background: its connections over ssh still work."""
    url, env = ssh_engine
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run([SESHFS_BIN, "-o", f"docker_host={url}", container.name, str(mnt)], env=env, check=True,
                   timeout=60)
    try:
        os.mkdir(mnt / "sessions" / "d")
        with open(mnt / "sessions" / "d" / "stdin", "w") as f:
            f.write("echo daemon\n")
        with open(mnt / "sessions" / "d" / "stdout", "rb") as f:
            assert f.read() == b"daemon\n"
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True)
    wait_until(lambda: dial_stdio() == [], what="every ssh connection to end")


def test_an_unknown_host_key_is_one_line(container, ssh_engine, tmp_path):
    url, env = ssh_engine
    port = url.rsplit(":", 1)[1]
    r = refused_mount(tmp_path / "mnt", "-o", f"docker_host=ssh://root@localhost:{port}", container.name,
                      env=env)  # known_hosts names 127.0.0.1, not localhost: BatchMode refuses
    lines = r.stderr.splitlines()
    assert r.returncode == 1 and "Host key verification failed." in lines, r.stderr  # ssh's own words
    assert lines[-1].startswith("seshfs: GET /containers/"), r.stderr  # then seshfs's one line
    r = refused_mount(tmp_path / "mnt", "-o", "docker_host=ssh://root@", container.name, env=env)
    assert r.returncode == 1 and "expected ssh://[user@]host[:port]" in r.stderr, r.stderr
