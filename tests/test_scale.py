"""Event-loop friendly files, the transcript, and many sessions at once."""
import errno
import os
import select
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import expect_errno, shell, wait_until


def make_sessions(mount, names, workers=8):
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda n: os.mkdir(os.path.join(mount.sessions, n)), names))


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith(key + ":")).split()[1])


def test_poll_wakes_exactly_the_sessions_that_printed(mount):
    names = [f"p{i}" for i in range(50)]
    make_sessions(mount, names)
    fds = {}
    for n in names:
        fd = os.open(os.path.join(mount.sessions, n, "stdout"), os.O_RDONLY | os.O_NONBLOCK)
        fds[fd] = n
    try:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        assert poller.poll(0) == []
        chosen = {"p3", "p17", "p42"}
        for n in chosen:
            with open(os.path.join(mount.sessions, n, "stdin"), "w") as f:
                f.write(f"echo from {n}\n")
        ready = set()
        deadline = time.monotonic() + 10
        while ready != chosen and time.monotonic() < deadline:
            for fd, ev in poller.poll(1000):
                assert ev & select.POLLIN
                ready.add(fds[fd])
                assert os.read(fd, 100) == f"from {fds[fd]}\n".encode()
        assert ready == chosen
        assert poller.poll(200) == []
        # select() sees the same, and an exited shell is readable (EOF).
        with open(os.path.join(mount.sessions, "p5", "stdin"), "w") as f:
            f.write("exit\n")
        p5 = next(fd for fd, n in fds.items() if n == "p5")
        r, _, _ = select.select(list(fds), [], [], 10)
        assert r == [p5]
        assert os.read(p5, 100) == b""
    finally:
        for fd in fds:
            os.close(fd)


def test_stat_size_and_mtime_follow_output(mount):
    a, b = mount.session("a"), mount.session("b")
    for s in (a, b):
        s.ctl("timeout 30")
    a.send("printf 12345\n")
    assert a.read() == b"12345"
    time.sleep(0.05)
    b.send("printf abc; printf xy >&2\n")
    assert b.read() == b"abc"
    assert os.stat(a.path("stdout")).st_size == 5
    assert os.stat(b.path("stdout")).st_size == 3
    assert os.stat(b.path("stderr")).st_size == 2
    # Reading consumes nothing from st_size: it counts bytes produced.
    assert b.read(stream="stderr") == b"xy"
    assert os.stat(b.path("stderr")).st_size == 2
    r = shell(f"ls -t {mount.sessions}/*/stdout")
    assert r.stdout.decode().split() == [b.path("stdout"), a.path("stdout")]


def test_transcript_is_in_order_seekable_and_does_not_consume(mount):
    s = mount.session()
    s.ctl("timeout 30")
    s.send("echo hello\n")
    assert s.read() == b"hello\n"
    s.send("echo second\n")
    t = s.path("transcript")
    wait_until(lambda: os.stat(t).st_size == 36, what="transcript")
    with open(t, "rb") as f:
        assert f.read() == b"echo hello\nhello\necho second\nsecond\n"
    fd1 = os.open(t, os.O_RDONLY)
    fd2 = os.open(t, os.O_RDONLY)
    try:
        assert os.pread(fd1, 5, 11) == b"hello"
        assert os.pread(fd2, 6, 29) == b"second"
        assert os.pread(fd1, 100, 36) == b""
    finally:
        os.close(fd1)
        os.close(fd2)
    assert s.read() == b"second\n"  # the transcript consumed nothing
    expect_errno(errno.EACCES, open, t, "wb")


def test_transcript_drops_oldest_with_stable_offsets(make_mount):
    m = make_mount(options=["transcript_size=64"])
    s = m.session()
    s.ctl("timeout 30")
    s.send("seq 1 40\n")
    s.read()
    history = b"seq 1 40\n" + b"".join(b"%d\n" % i for i in range(1, 41))
    t = s.path("transcript")
    assert os.stat(t).st_size == len(history)
    start = len(history) - 64
    assert s.status()["transcript_start"] == str(start)
    fd = os.open(t, os.O_RDONLY)
    try:
        assert os.lseek(fd, 0, os.SEEK_DATA) == start
        assert os.pread(fd, 1000, start) == history[start:]
        # Dropped history reads as a hole of zeros; offsets do not move.
        assert os.pread(fd, 10, start - 5) == b"\0" * 5 + history[start:start + 5]
    finally:
        os.close(fd)
    assert shell(f"tail -c 9 {t}").stdout == b"38\n39\n40\n"


def test_thousand_sessions_and_two_hundred_blocked_readers(mount, container):
    names = [f"s{i:04d}" for i in range(1000)]
    make_sessions(mount, names, workers=16)
    assert len(os.listdir(mount.sessions)) == 1000
    threads_before = proc_status(mount.proc.pid, "Threads")
    blocked = names[:200]
    for n in blocked:
        with open(os.path.join(mount.sessions, n, "ctl"), "w") as f:
            f.write("timeout 60\neof deadline\n")
    results = []

    def reader(n):
        with open(os.path.join(mount.sessions, n, "stdout"), "rb") as f:
            results.append(f.read())

    readers = [threading.Thread(target=reader, args=(n,)) for n in blocked]
    for t in readers:
        t.start()
    time.sleep(1)
    # No thread per session or per blocked reader.
    assert proc_status(mount.proc.pid, "Threads") <= max(threads_before, 16)
    start = time.monotonic()
    assert len(os.listdir(mount.sessions)) == 1000
    other = names[999]
    with open(os.path.join(mount.sessions, other, "stdin"), "w") as f:
        f.write("echo still fast\n")
    with open(os.path.join(mount.sessions, other, "stdout"), "rb") as f:
        assert f.read() == b"still fast\n"
    assert time.monotonic() - start < 5  # with 200 readers parked, nothing waits on them
    assert results == []
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: os.rmdir(os.path.join(mount.sessions, n)), blocked))
    for t in readers:
        t.join(30)
    assert results == [b""] * 200


def test_a_gigabyte_nobody_reads_keeps_memory_bounded(make_mount):
    m = make_mount(options=["bufsize=256K"])
    s = m.session()
    mib = 1024
    s.send(f"dd if=/dev/zero bs=1M count={mib} 2>/dev/null; echo done >&2\n")
    time.sleep(2)
    rss_kb = m.rss_kb()
    # The deadline only bounds a hang: with a 256 KiB buffer the reader and dd take
    # turns, and a gigabyte takes ~9 s here, longer on a slower machine.
    s.ctl("timeout 120")
    received = 0
    fd = os.open(s.path("stdout"), os.O_RDONLY)
    try:
        while received < mib << 20:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            assert block.count(0) == len(block)
            received += len(block)
            rss_kb = max(rss_kb, proc_status(m.proc.pid, "VmRSS"))
    finally:
        os.close(fd)
    assert received == mib << 20
    print(f"RSS {m.started_rss_kb} KiB at start, {rss_kb} KiB at most")
    assert rss_kb - m.started_rss_kb < 40 * 1024
    assert s.read(stream="stderr") == b"done\n"


def test_two_readers_racing_on_one_stream_share_it_exactly(make_mount):
    """Every byte goes to exactly one of them, and each read() returns one
    contiguous piece of the stream, as from a pipe. Python's 1 MiB read buffer
    is not page-aligned, so the kernel splits such a read into two requests,
    the second sent once the first came back full."""
    m = make_mount(options=["bufsize=4M"])
    s = m.session()
    s.ctl("timeout 30")
    expected = b"".join(b"%d\n" % n for n in range(1000000, 1400000))  # unique 8-byte lines
    s.send("seq 1000000 1399999 > /tmp/racing\n")
    assert s.read() == b""
    produced = 0
    for _ in range(3):
        s.send("cat /tmp/racing\n")
        # All of it buffered first, so that the first reads can be answered in full.
        wait_until(lambda: os.stat(s.path("stdout")).st_size >= produced + len(expected),
                   what="the output buffered")
        produced += len(expected)
        pieces = {0: [], 1: []}

        def reader(k):
            fd = os.open(s.path("stdout"), os.O_RDONLY)
            try:
                while block := os.read(fd, 1 << 20):
                    pieces[k].append(block)
            finally:
                os.close(fd)

        threads = [threading.Thread(target=reader, args=(k,)) for k in pieces]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # Find each reader's pieces in order; together they must tile the output.
        spans = []
        for k, blocks in pieces.items():
            at = 0
            for block in blocks:
                at = expected.find(block, at)
                assert at >= 0, f"reader {k} got a read() that is not one piece of the stream"
                spans.append((at, len(block)))
                at += len(block)
        spans.sort()
        offset = 0
        for at, length in spans:
            assert at == offset, "a byte was lost or delivered twice"
            offset += length
        assert offset == len(expected)
    s.send("rm /tmp/racing\n")
    assert s.read() == b""
