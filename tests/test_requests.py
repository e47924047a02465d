"""The path people use, open/write/close then open/read/close, costs few kernel
requests: names and attributes that only seshfs changes are cached, and the
kernel is told when one goes without a request of its own."""
import errno
import os
import subprocess
import tempfile

from conftest import Mount, expect_errno, wait_until


def status(m):
    with open(os.path.join(m.path, "status")) as f:
        return dict(line.split(" ", 1) for line in f.read().splitlines())


def round_trip(s, i):
    fd = os.open(s.path("stdin"), os.O_WRONLY | os.O_TRUNC)
    os.write(fd, f"echo tok{i}\n".encode())
    os.close(fd)
    fd = os.open(s.path("stdout"), os.O_RDONLY)
    data = b""
    while True:
        piece = os.read(fd, 65536)
        if not piece:
            break
        data += piece
    os.close(fd)
    assert data == f"tok{i}\n".encode()


def test_an_open_per_operation_round_trip_costs_at_most_10_requests(mount):
    s = mount.session()
    s.ctl("timeout 10")
    for i in range(5):
        round_trip(s, i)
    first, second = status(mount), status(mount)  # what reading status costs
    n = 50
    for i in range(n):
        round_trip(s, i)
    after = status(mount)
    reading = {k: int(second[k]) - int(first[k]) for k in first if k.startswith("fuse_")}
    per_trip = {k[5:]: (int(after[k]) - int(second[k]) - reading[k]) / n
                for k in after if k.startswith("fuse_")}
    assert per_trip["requests"] <= 10, per_trip
    assert per_trip["lookup"] == 0 and per_trip["flush"] == 0 and per_trip["xattr"] == 0, per_trip


def test_sizes_stay_fresh_for_ls_and_tail(mount):
    s = mount.session()
    s.ctl("timeout 5")
    sizes = []
    for text in ("a", "bb"):
        s.send(f"echo {text}\n")
        wait_until(lambda: os.stat(s.path("stdout")).st_size > sum(sizes), what="output")
        sizes.append(os.stat(s.path("stdout")).st_size - sum(sizes))
    assert sizes == [2, 3]
    out = subprocess.run(["ls", "-l", s.path("transcript")], capture_output=True, text=True).stdout
    assert out.split()[4] == str(os.stat(s.path("transcript")).st_size) != "0"


def test_an_idle_close_is_told_to_the_kernel(make_mount):
    m = make_mount(options=["idle_timeout=1"])
    s = m.session("idle")
    os.stat(s.path("stdout"))  # the names are in the kernel's cache now
    assert os.path.isdir(s.dir)
    wait_until(lambda: os.listdir(m.sessions) == [], timeout=10, what="the idle close")
    wait_until(lambda: not os.path.exists(s.dir), timeout=5, what="the kernel to forget the name")
    expect_errno(errno.ENOENT, os.stat, s.path("stdout"))
    t = m.session("idle")  # the same name again: not EEXIST from a stale cache
    t.send("echo back\n")
    assert t.read() == b"back\n"


def test_permissions_without_the_kernel_checking_them(container):
    # A mount point other users can reach (pytest's directories are root's alone).
    path = tempfile.mkdtemp(prefix="seshfs-perm-", dir="/tmp")
    os.chmod(path, 0o755)
    m = Mount(os.path.join(path, "mnt"), container, ["allow_other"]).start()
    try:
        s = m.session("mine")
        assert os.access(s.path("stdin"), os.W_OK) and not os.access(s.path("stdin"), os.R_OK)
        assert os.access(s.path("stdout"), os.R_OK) and not os.access(s.path("stdout"), os.W_OK)
        assert os.access(s.path("ctl"), os.R_OK | os.W_OK)
        # Another user may look around and read status, and nothing else.
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c"]
        script = (f'ls {m.sessions}; head -1 {m.path}/status; '
                  f'echo x > {s.path("stdin")} || echo no-stdin; cat {s.path("stdout")} || echo no-stdout; '
                  f'mkdir {m.sessions}/theirs || echo no-mkdir; rmdir {s.dir} || echo no-rmdir')
        r = subprocess.run([*as_nobody, script], capture_output=True, text=True, timeout=30)
        assert r.stdout.split("\n") == ["mine", "engine ok", "no-stdin", "no-stdout", "no-mkdir", "no-rmdir",
                                        ""], r
        assert r.stderr.count("Permission denied") == 4, r.stderr
    finally:
        assert m.unmount() == 0
        os.rmdir(m.path)
        os.remove(m.log_path)
        os.rmdir(path)
