"""A TLS engine, as the docker CLI reaches one: DOCKER_HOST=tcp://, DOCKER_TLS_VERIFY
and DOCKER_CERT_PATH, or -o tls_ca=,tls_cert=,tls_key=,tls_verify. The endpoint is
socat, verifying client certificates, in front of the engine's socket on loopback;
the certificates are made by openssl for the test."""
import os
import socket
import subprocess

import pytest

from conftest import env_without_engine, exercise_engine, free_port, refused_mount, wait_until


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out",
            f"{name}.pem", "-days", "2", "-subj", f"/CN={name}", cwd=d)


def make_cert(d, name, ca, ext):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
            "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def tls_engine(tmp_path_factory):
    """(url, cert dir with ca.pem, cert.pem, key.pem the docker CLI's way, dir of a wrong CA)."""
    d = tmp_path_factory.mktemp("tls")
    make_ca(d, "ca")
    make_cert(d, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    make_cert(d, "client", "ca", "extendedKeyUsage=clientAuth\n")
    certs = d / "certs"
    certs.mkdir()
    for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
        (certs / dst).write_bytes((d / src).read_bytes())
    other = d / "other"
    other.mkdir()
    make_ca(other, "ca")
    for f in ("cert.pem", "key.pem"):
        (other / f).write_bytes((certs / f).read_bytes())
    port = free_port()
    proxy = subprocess.Popen(["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay,"
                              f"cert={d}/server.pem,key={d}/server-key.pem,cafile={d}/ca.pem,verify=1",
                              "UNIX-CONNECT:/var/run/docker.sock"], stderr=subprocess.DEVNULL)

    def listening():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_until(listening, what="socat to listen")
    yield f"tcp://127.0.0.1:{port}", str(certs), str(other)
    proxy.terminate()
    proxy.wait(10)


def tls_env(url, certs):
    return {**os.environ, "DOCKER_HOST": url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs}


def test_docker_cli_environment(make_mount, container, tls_engine):
    url, certs, _ = tls_engine
    m = make_mount(env=tls_env(url, certs))
    assert f"(engine {url})" in m.read_log()
    with open(os.path.join(m.path, "status")) as f:
        assert "engine ok\n" in f.read()
    exercise_engine(m, container, "tls")


def test_mount_options(make_mount, container, tls_engine):
    url, certs, _ = tls_engine
    env = env_without_engine()
    m = make_mount([f"docker_host={url}", "tls_verify", f"tls_ca={certs}/ca.pem",
                    f"tls_cert={certs}/cert.pem", f"tls_key={certs}/key.pem"], env=env)
    exercise_engine(m, container, "tls")


def run_seshfs(tmp_path, container, env, *options):
    return refused_mount(tmp_path / "mnt", *options, container.name, env=env)


def test_bad_certificates_are_one_line(container, tls_engine, tmp_path):
    url, certs, other = tls_engine
    r = run_seshfs(tmp_path, container, tls_env(url, other))  # the engine's CA is another
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("seshfs: ") and "SSL certificate problem" in r.stderr
    r = run_seshfs(tmp_path, container, tls_env(url, str(tmp_path / "nowhere")))
    assert r.returncode == 1 and r.stderr == f"seshfs: {tmp_path}/nowhere/ca.pem: No such file or directory\n"
    env = env_without_engine()
    r = run_seshfs(tmp_path, container, env, "-o", f"docker_host={url},tls_verify,tls_ca={certs}/ca.pem")
    # No client certificate: the engine's end refuses the handshake (how it shows depends on timing).
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("seshfs: "), r.stderr
    r = run_seshfs(tmp_path, container, env, "-o", f"docker_host={url},tls_cert={certs}/missing.pem")
    assert r.returncode == 1 and r.stderr == f"seshfs: {certs}/missing.pem: No such file or directory\n"
    r = run_seshfs(tmp_path, container, env, "-o",
                   f"docker_host=unix:///var/run/docker.sock,tls_verify,tls_ca={certs}/ca.pem")
    assert r.returncode == 1 and "TLS needs a tcp://host:port engine" in r.stderr, r.stderr


@pytest.fixture
def contexts(tls_engine, tmp_path):
    """A docker CLI config with two contexts made by the CLI itself: tlsctx (the TLS endpoint,
    its files in the store) and plain (the local socket)."""
    url, certs, _ = tls_engine
    config = str(tmp_path / "docker-config")
    cli = ["docker", "--config", config, "context"]
    subprocess.run([*cli, "create", "tlsctx", "--docker",
                    f"host={url},ca={certs}/ca.pem,cert={certs}/cert.pem,key={certs}/key.pem"],
                   check=True, capture_output=True)
    subprocess.run([*cli, "create", "plain", "--docker", "host=unix:///var/run/docker.sock"],
                   check=True, capture_output=True)
    env = env_without_engine()
    env["DOCKER_CONFIG"] = config
    return url, cli, env


def round_trip(m):
    s = m.session()
    s.ctl("timeout 10")
    s.send("echo via context\n")
    assert s.read() == b"via context\n"


def test_docker_cli_contexts_in_its_order(make_mount, container, contexts, tmp_path):
    url, cli, env = contexts
    m = make_mount(env={**env, "DOCKER_CONTEXT": "tlsctx"})
    assert f"(engine {url}, context tlsctx)" in m.read_log()
    round_trip(m)
    subprocess.run([*cli, "use", "tlsctx"], check=True, capture_output=True, env=env)
    m = make_mount(env=env)  # config.json's current context
    assert f"(engine {url}, context tlsctx)" in m.read_log()
    round_trip(m)
    m = make_mount(env={**env, "DOCKER_HOST": "unix:///var/run/docker.sock"})  # DOCKER_HOST wins
    assert "(engine unix:///var/run/docker.sock)" in m.read_log()
    m = make_mount(["context=plain"], env={**env, "DOCKER_CONTEXT": "tlsctx"})  # the option wins
    assert "(engine unix:///var/run/docker.sock, context plain)" in m.read_log()
    round_trip(m)


def test_context_errors(container, contexts, tmp_path):
    url, _, env = contexts
    r = run_seshfs(tmp_path, container, env, "-o", "context=tlsctx,docker_host=unix:///var/run/docker.sock")
    assert r.returncode == 1 and r.stderr == "seshfs: docker_host and context cannot be given together\n"
    r = run_seshfs(tmp_path, container, {**env, "DOCKER_CONTEXT": "nope"})
    assert r.returncode == 1 and r.stderr == f"seshfs: context 'nope' not found in {env['DOCKER_CONFIG']}/contexts\n"
