"""Mounting like other filesystems: mount -t fuse.seshfs and an fstab line
(through mount.fuse3, which finds seshfs on its PATH), and the man page."""
import os
import re
import subprocess

import pytest

from conftest import SESHFS_BIN, wait_until

INSTALLED = "/usr/local/bin/seshfs"  # on the PATH mount(8) gives its helpers


@pytest.fixture
def installed():
    """seshfs where mount.fuse3 looks for it (what meson install does), put back after."""
    saved = os.readlink(INSTALLED) if os.path.islink(INSTALLED) else None
    if os.path.exists(INSTALLED) and saved is None:
        pytest.skip(f"{INSTALLED} is an installed seshfs; not replacing it")
    if saved is not None:
        os.unlink(INSTALLED)
    os.symlink(os.path.abspath(SESHFS_BIN), INSTALLED)
    yield
    os.unlink(INSTALLED)
    if saved is not None:
        os.symlink(saved, INSTALLED)


def mounted(path):
    with open("/proc/mounts") as f:
        return [line.split() for line in f if line.split()[1] == path]


def use_and_unmount(path, container):
    assert mounted(path)[0][:3] == [container.name, path, "fuse.seshfs"]
    os.mkdir(os.path.join(path, "sessions", "m"))
    with open(os.path.join(path, "sessions", "m", "ctl")) as f:
        assert "timeout 5\n" in f.read()
    with open(os.path.join(path, "sessions", "m", "stdin"), "w") as f:
        f.write("echo mounted\n")
    with open(os.path.join(path, "sessions", "m", "stdout"), "rb") as f:
        assert f.read() == b"mounted\n"
    subprocess.run(["umount", path], check=True)
    wait_until(lambda: not mounted(path), what="the unmount")
    wait_until(lambda: container.processes() == [], what="the shells to go")


def test_mount_t_fuse_seshfs(installed, container, tmp_path):
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    r = subprocess.run(["mount", "-t", "fuse.seshfs", container.name, path, "-o", "timeout=5"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    use_and_unmount(path, container)


def test_an_fstab_line(installed, container, tmp_path):
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{container.name} {path} fuse.seshfs "
                     "defaults,_netdev,x-systemd.requires=docker.service,timeout=5 0 0\n")
    r = subprocess.run(["mount", "-T", str(fstab), path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    use_and_unmount(path, container)


def test_the_man_page_has_every_option_and_installs(tmp_path):
    help_text = subprocess.run([SESHFS_BIN, "--help"], capture_output=True, text=True).stdout
    ours = help_text.split("\n\n    -h")[0]  # seshfs's own options, before libfuse's
    names = set(re.findall(r"-o ([a-z_]+)", ours)) | set(re.findall(r"\b([a-z_]+)=", ours))
    names -= {"o"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "seshfs.1")) as f:
        page = re.sub(r"\\f[BIRP]|\\", "", f.read())
    missing = sorted(n for n in names if not re.search(rf"\b{n}\b", page))
    assert len(names) > 25 and not missing, missing  # 29 when written
    ctl = page.split(".SH CTL COMMANDS")[1].split(".SH ")[0]
    for command in ("timeout", "eof", "quiet", "expect", "busy_input", "signal", "restart", "shell",
                    "workdir", "user", "env", "unsetenv", "tty", "echo", "stderr", "resize"):
        assert re.search(rf"^\.B[IR]? .*\b{command}\b", ctl, re.M), command
    build = os.path.dirname(os.path.abspath(SESHFS_BIN))
    r = subprocess.run(["meson", "install", "-C", build, "--destdir", str(tmp_path / "dest"), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    found = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "dest") for f in fs]
    assert any(p.endswith("/share/man/man1/seshfs.1") for p in found), found
    assert any(p.endswith("/bin/seshfs") for p in found), found
