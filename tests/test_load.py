"""Load: many sessions at once move random binary payloads, each checked by a
checksum computed in the container, while other readers follow each
session's transcript; the daemon gives its memory back when they are gone."""
import hashlib
import math
import os
import random
import threading
import time

from conftest import wait_until

SESSIONS = 24
ROUND_TRIPS = 100
PAYLOAD_MAX = 200 * 1024


def payload_sizes(rng, count):
    """1 B to 200 KiB, log-uniform: small and large payloads alike."""
    sizes = [1, PAYLOAD_MAX] + [int(math.exp(rng.uniform(0, math.log(PAYLOAD_MAX))))
                                for _ in range(count - 2)]
    rng.shuffle(sizes)
    return sizes


class TranscriptFollower(threading.Thread):
    """Reads a session's transcript as it grows, as `tail -f` would, keeping
    what it read by offset to be checked at the end."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.chunks = []
        self.done = threading.Event()
        self.error = None

    def run(self):
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                offset = 0
                while True:
                    finished = self.done.is_set()
                    size = os.fstat(fd).st_size
                    while offset < size:
                        data = os.pread(fd, min(size - offset, 1 << 20), offset)
                        assert data, f"EOF at {offset} of {size}"
                        self.chunks.append((offset, data))
                        offset += len(data)
                    if finished:
                        return
                    time.sleep(0.002)
            finally:
                os.close(fd)
        except Exception as e:  # reported by the test
            self.error = e

    def check(self, record):
        """Every chunk is the record at its offset, or zeros where the start was
        dropped (transcript_size) before it was read."""
        assert self.error is None, self.error
        assert sum(len(d) for _, d in self.chunks) == len(record)
        for offset, data in self.chunks:
            want = record[offset:offset + len(data)]
            if data == want:
                continue
            last_mismatch = max(i for i in range(len(data)) if data[i] != want[i])
            assert data[:last_mismatch + 1].count(0) == last_mismatch + 1, \
                f"transcript bytes at {offset} differ from the session's record"


def drive(session, sizes, record, errors):
    """Round trips: the container makes a random payload, prints its md5 on
    stderr and the payload on stdout; stdout must have exactly those bytes.
    The transcript range of each round trip must be its input and output."""
    try:
        transcript = session.path("transcript")
        for n in sizes:
            before = os.stat(transcript).st_size
            command = (f"head -c {n} /dev/urandom >/tmp/p.$$; md5sum </tmp/p.$$ >&2; "
                       f"cat /tmp/p.$$; rm /tmp/p.$$\n").encode()
            session.send(command)
            out = session.read("stdout")
            err = session.read("stderr")
            assert len(out) == n, f"{len(out)} bytes on stdout, expected {n}"
            assert err == f"{hashlib.md5(out).hexdigest()}  -\n".encode(), err
            after = os.stat(transcript).st_size
            with open(transcript, "rb") as f:
                f.seek(before)
                recorded = f.read(after - before)
            # Input first; then stdout and stderr as the engine delivered them.
            assert recorded.startswith(command)
            assert len(recorded) == len(command) + len(out) + len(err)
            assert recorded.replace(err, b"", 1)[len(command):] == out
            record += recorded
    except Exception as e:
        errors.append(f"{session.name}: {e!r}")


def load_round(mount, rng, round_trips):
    sessions = [mount.session(f"load{i}") for i in range(SESSIONS)]
    for s in sessions:
        s.ctl("timeout 60")
    followers = [TranscriptFollower(s.path("transcript")) for s in sessions]
    records = [bytearray() for _ in sessions]
    errors = []
    workers = [threading.Thread(target=drive, args=(s, payload_sizes(rng, round_trips), r, errors))
               for s, r in zip(sessions, records)]
    for t in followers + workers:
        t.start()
    for t in workers:
        t.join(600)
        assert not t.is_alive(), "a session's round trips did not finish in 10 minutes"
    for f in followers:
        f.done.set()
        f.join(60)
    assert errors == []
    for f, r in zip(followers, records):
        f.check(r)
    for s in sessions:
        os.rmdir(s.dir)
    wait_until(lambda: os.listdir(mount.sessions) == [], what="sessions removed")
    return sum(len(r) for r in records)


def test_24_sessions_of_random_binary_round_trips(make_mount, container):
    m = make_mount()
    rng = random.Random(10)
    # Warm-up: the allocator's arenas and libfuse's worker threads grow with concurrency;
    # a round long enough to reach it (10 round trips each once fell 0.7% short).
    load_round(m, rng, 40)
    time.sleep(1)
    warm_kb = m.rss_kb()
    total = load_round(m, rng, ROUND_TRIPS)
    time.sleep(1)
    after_kb = m.rss_kb()
    print(f"{total} transcript bytes checked; RSS {warm_kb} KiB after warm-up, "
          f"{after_kb} KiB after the load")
    if not os.environ.get("SESHFS_SANITIZE"):  # sanitizers keep freed memory
        assert after_kb <= warm_kb * 1.10
    wait_until(lambda: container.processes() == [], what="no session processes")
