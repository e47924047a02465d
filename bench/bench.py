"""seshfs benchmark: each figure beside its baseline, measured in the same run.

Baselines: a raw persistent exec through seshfs's own backend code (the
floor: no FUSE, no session layer) and `docker exec` from the CLI (what people
do today). Runs alternate between seshfs and the baseline so that noise on a
shared machine lands on both.

Usage: bench/run.sh  (sets up, then runs this with the paths below)
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def client(binary, *args):
    """benchclient's output lines, each as a dict of floats."""
    out = run(binary, *args).splitlines()
    return [{k: float(v) for k, v in (f.split("=") for f in line.split(": ")[-1].split())}
            for line in out]


def medians(lines):
    """A roundtrip run's (until the token, until completion) medians."""
    token, done = lines
    return token["median_us"], done["median_us"]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


class Mount:
    def __init__(self, seshfs, container, path, options=()):
        self.path = path
        self.sessions = os.path.join(path, "sessions")
        os.makedirs(path, exist_ok=True)
        # container None: -o image= names none (seshfs makes its own)
        self.proc = subprocess.Popen([seshfs, "-f", *options, *([container] if container else []), path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.ismount(path):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                sys.exit("bench: seshfs did not mount")
            time.sleep(0.02)
        # What one read of status costs in requests, to take off the counts around a run.
        first = fuse_counts(self)
        self.status_cost = fuse_counts(self).get("requests", 0) - first.get("requests", 0)

    def session(self, name, timeout=3600):
        os.mkdir(os.path.join(self.sessions, name))
        with open(os.path.join(self.sessions, name, "ctl"), "w") as f:
            f.write(f"timeout {timeout}\n")
        return os.path.join(self.sessions, name)

    def status(self):
        with open(os.path.join(self.path, "status")) as f:
            return dict(line.split(" ", 1) for line in f.read().splitlines())

    def close(self):
        subprocess.run(["fusermount3", "-u", self.path])
        self.proc.wait(60)


def fuse_counts(m):
    """seshfs's request counters (fuse_* in status), without the word; {} from a seshfs without them."""
    try:
        return {k[5:]: int(v) for k, v in m.status().items() if k.startswith("fuse_")}
    except OSError:
        return {}


ROWS = []


def row(name, seshfs, baseline, unit, target, higher_is_better=False, note=""):
    ratio = seshfs / baseline if baseline else float("nan")
    ROWS.append((name, seshfs, baseline, unit, ratio, target, higher_is_better, note))


def report(a):
    """The table, and the rows as JSON for bench/compare.py (with --json), whatever ran."""
    print_table()
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"name": r[0], "seshfs": r[1], "baseline": r[2], "unit": r[3],
                        "higher_is_better": r[6]} for r in ROWS], f)


def print_table():
    print(f"\n{'figure':44} {'seshfs':>12} {'baseline':>12}  {'ratio':>8}  target")
    for name, s, b, unit, ratio, target, _, note in ROWS:
        fmt = (lambda v: f"{v:,.0f} {unit}") if s >= 100 or b >= 100 else (lambda v: f"{v:.2f} {unit}")
        print(f"{name:44} {fmt(s):>12} {fmt(b):>12}  {ratio:7.3g}x  {target}{'  ' + note if note else ''}")


def spread(values):
    return f"{min(values):,.0f}-{max(values):,.0f}"


# A 50-rule policy: 30 allow lines, 19 deny patterns and the dangerous set.
POLICY_50 = "".join(f"allow cmd{i}\n" for i in range(29)) + "allow true\n" + \
    "".join(f"deny \\bforbidden{i}\\b.*\\bsecret\\b\n" for i in range(19)) + "dangerous\n"


def bench_guard(a, base):
    """-o redact=default and a 50-rule -o policy=, each beside the same mount without them.
    Rounds alternate which mount goes first; rows are medians, notes the baseline's min-max."""
    policy = os.path.join(base, "policy50")
    with open(policy, "w") as f:
        f.write(POLICY_50)
    mounts = []
    try:
        for name, options in (("plain", []), ("redact", ["-o", "redact=default"]),
                              ("policy", ["-o", f"policy={policy}"])):
            mounts.append(Mount(a.seshfs, a.container, os.path.join(base, name), options))
        plain, redacted, guarded = mounts
        mib, n = str(a.guard_mib), str(a.commands)
        runs = {k: ([], []) for k in ("zeros", "text", "rt", "write")}

        def pair(key, fn, guard_mount, order):
            first, second = (plain, guard_mount) if order else (guard_mount, plain)
            for m in (first, second):
                runs[key][m is plain].append(fn(m))

        def stream_fn(mode):
            return lambda m: client(a.client, "fs", m.stream, mode, mib)[0]["mib_per_s"]

        def writes_fn(m):
            median = client(a.client, "fs", m.writes, "write", n)[0]["median_us"]
            with open(os.path.join(m.writes, "stdout"), "rb") as f:  # until the shell ran them all
                f.read()
            return median

        for m in (plain, redacted, guarded):
            m.stream, m.rt, m.writes = m.session("stream"), m.session("rt"), m.session("writes")
            with open(os.path.join(m.writes, "ctl"), "w") as f:
                f.write("eof idle\n")
        for r in range(max(a.rounds, 5)):
            order = r % 2 == 0
            pair("zeros", stream_fn("stream"), redacted, order)
            pair("text", stream_fn("textstream"), redacted, order)
            pair("rt", lambda m: medians(client(a.client, "fs", m.rt, "roundtrip", n))[0], redacted, order)
            pair("write", writes_fn, guarded, order)
        for key, name, unit, target, higher in (
                ("zeros", f"redact=default: stream {mib} MiB of zeros", "MiB/s", ">= 0.8x", True),
                ("text", f"redact=default: stream {mib} MiB of log lines", "MiB/s", ">= 0.8x", True),
                ("rt", "redact=default: command round trip (bash)", "us", "<= 1.1x", False),
                ("write", "policy, 50 rules: one stdin write", "us", "<= +20 us", False)):
            guard, base_runs = runs[key]
            g, b = statistics.median(guard), statistics.median(base_runs)
            note = f"baseline {spread(base_runs)}; {'+' if g >= b else ''}{g - b:.1f} {unit}" \
                if key == "write" else f"baseline {spread(base_runs)}"
            row(name, g, b, unit, target, higher_is_better=higher, note=note)
    finally:
        for m in mounts:
            m.close()


def bench_sandbox(a, base):
    """mkdir in an -o image= sandbox beside mkdir in the benchmark's own container, alternating."""
    mounts = []
    try:
        mounts.append(Mount(a.seshfs, a.container, os.path.join(base, "attached")))
        mounts.append(Mount(a.seshfs, None, os.path.join(base, "own"), ["-o", f"image={a.image}"]))
        attached, own = mounts
        times = {id(attached): [], id(own): []}
        for i in range(max(a.rounds, 5) * 3):
            for m in ((attached, own) if i % 2 == 0 else (own, attached)):
                start = time.perf_counter()
                os.mkdir(os.path.join(m.sessions, f"s{i}"))
                times[id(m)].append((time.perf_counter() - start) * 1e6)
                os.rmdir(os.path.join(m.sessions, f"s{i}"))
                time.sleep(0.3)  # the rmdir's clean-up done
        base_runs = times[id(attached)]
        row("mkdir in an image= sandbox", statistics.median(times[id(own)]), statistics.median(base_runs),
            "us", "<= 1.2x", note=f"baseline: mkdir in an attached container, {spread(base_runs)}")
    finally:
        for m in mounts:
            m.close()


def tls_endpoint(base):
    """socat with TLS (client certificates checked) in front of the engine's socket, as
    tests/test_tls.py makes it: (url, cert dir, process)."""
    def openssl(*args):
        run("openssl", *args, cwd=base)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=bench CA")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("cert", "extendedKeyUsage=clientAuth\n")):
        with open(os.path.join(base, f"{name}.ext"), "w") as f:
            f.write(ext)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    os.rename(os.path.join(base, "cert-key.pem"), os.path.join(base, "key.pem"))
    port = 23000 + os.getpid() % 1000
    proc = subprocess.Popen(["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay,cert={base}/server.pem,"
                             f"key={base}/server-key.pem,cafile={base}/ca.pem,verify=1",
                             "UNIX-CONNECT:/var/run/docker.sock"], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return f"tcp://127.0.0.1:{port}", base, proc


def beside_local(a, base, label, container, options, target="-"):
    """Round trip (bash) and mkdir on another engine's mount beside the local socket's,
    rounds alternating which goes first."""
    mounts = []
    try:
        mounts.append(Mount(a.seshfs, a.container, os.path.join(base, "local")))
        mounts.append(Mount(a.seshfs, container, os.path.join(base, "other"), options))
        local, other = mounts
        rt = {id(local): [], id(other): []}
        mk = {id(local): [], id(other): []}
        for m in mounts:
            m.rt = m.session("rt")
        for r in range(max(a.rounds, 5)):
            for m in (mounts if r % 2 == 0 else mounts[::-1]):
                rt[id(m)].append(medians(client(a.client, "fs", m.rt, "roundtrip", str(a.commands)))[0])
                for i in range(3):
                    start = time.perf_counter()
                    os.mkdir(os.path.join(m.sessions, f"m{r}_{i}"))
                    mk[id(m)].append((time.perf_counter() - start) * 1e6)
                    os.rmdir(os.path.join(m.sessions, f"m{r}_{i}"))
                    time.sleep(0.3)
        for name, d in ((f"{label}: command round trip (bash)", rt), (f"{label}: mkdir until the shell runs", mk)):
            row(name, statistics.median(d[id(other)]), statistics.median(d[id(local)]), "us", target,
                note=f"baseline: Docker's local socket, {spread(d[id(local)])}")
    finally:
        for m in mounts:
            m.close()


def bench_tls(a, base):
    """The bash round trip and mkdir over TLS (socat's relay included)."""
    url, certs, proxy = tls_endpoint(base)
    try:
        beside_local(a, base, "over TLS", a.container,
                     ["-o", f"docker_host={url},tls_verify,tls_ca={certs}/ca.pem,"
                            f"tls_cert={certs}/cert.pem,tls_key={certs}/key.pem"])
    finally:
        proxy.terminate()


def proc_stat(pid):
    """(state, ppid, start time) of a host process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return rest[0], int(rest[1]), int(rest[19])


def alive(pid, start):
    """Is the host process pid the one that started at start, and not dead (a zombie)?"""
    st = proc_stat(pid)
    return st is not None and st[2] == start and st[0] != "Z"


def host_pid(container_pid, ns_pid):
    """The host pid of the process whose pid in the container (whose init is container_pid) is ns_pid."""
    ns = os.readlink(f"/proc/{container_pid}/ns/pid")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") != ns:
                continue
            with open(f"/proc/{name}/status") as f:
                nspid = next(line for line in f if line.startswith("NSpid:")).split()
        except (OSError, StopIteration):
            continue
        if int(nspid[-1]) == ns_pid:
            return int(name)
    sys.exit(f"bench: no host process is pid {ns_pid} in the container")


def sleeps(pid, count):
    """{host pid: start time} of pid's children once there are count, each running sleep; else None."""
    kids = {}
    for name in os.listdir("/proc"):
        st = proc_stat(name) if name.isdigit() else None
        if st and st[1] == pid and st[0] != "Z":
            try:
                with open(f"/proc/{name}/comm") as f:
                    if f.read() != "sleep\n":
                        return None
            except OSError:
                return None
            kids[int(name)] = st[2]
    return kids if len(kids) == count else None


def wait_for(what, check, bound=10.0, step=0.0002):
    """Polls check() until it is true (its value) or bound seconds passed (None)."""
    deadline = time.perf_counter() + bound
    while time.perf_counter() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    print(f"bench: {what}: not within {bound:.0f} s", file=sys.stderr)
    return None


def session_shell(session, container_pid):
    """The host pid of a session's shell (ctl's pid is the one inside)."""
    with open(os.path.join(session, "ctl")) as f:
        ns_pid = int(dict(line.split(" ", 1) for line in f.read().splitlines())["pid"])
    return host_pid(container_pid, ns_pid)


def send(session, line):
    """A command, the way the README writes one: open, write, close."""
    with open(os.path.join(session, "stdin"), "w") as f:
        f.write(line)


def read_done(session):
    with open(os.path.join(session, "stdout")) as f:
        return f.read()


def signal_once(session, container_pid, by_ctl):
    """sleep 100 in the session, then INT (ctl's signal, or kill(2) from the host): the time until
    the read that waits for the command returns."""
    send(session, "sleep 100\n")
    done = []
    reader = threading.Thread(target=lambda: done.append((read_done(session), time.perf_counter())))
    reader.start()
    shell = session_shell(session, container_pid)
    sleep = wait_for("sleep 100 running", lambda: sleeps(shell, 1), step=0.005) or {}
    start = time.perf_counter()
    if by_ctl:
        with open(os.path.join(session, "ctl"), "w") as f:
            f.write("signal INT\n")
    else:
        for pid in sleep:
            os.kill(pid, signal.SIGINT)
    reader.join(30)
    if not done:
        sys.exit("bench: the read did not return after INT")
    return (done[0][1] - start) * 1e6


JOBS = "sleep 1000 & sleep 1000 & env -i setsid sleep 1000 &\n"


def cleanup_once(m, name, container_pid, by_rmdir, bound=5.0):
    """A session with three background jobs (one leaves its group and environment), then rmdir,
    or SIGKILL to each from the host: (us until every process of it is gone or None, left over)."""
    session = m.session(name)
    send(session, JOBS)
    read_done(session)
    shell = session_shell(session, container_pid)
    jobs = wait_for("the jobs running", lambda: sleeps(shell, 3), step=0.005) or {}
    procs = {shell: proc_stat(shell)[2], **jobs}
    start = time.perf_counter()
    if by_rmdir:
        os.rmdir(session)
    else:
        for pid in procs:
            os.kill(pid, signal.SIGKILL)
    gone = wait_for("the session's processes gone", lambda: not any(alive(p, t) for p, t in procs.items()),
                    bound=bound)
    us = (time.perf_counter() - start) * 1e6 if gone else None
    left = [p for p, t in procs.items() if alive(p, t)]
    for pid in left:  # what escaped: the next sample starts clean
        os.kill(pid, signal.SIGKILL)
    if not by_rmdir:
        os.rmdir(session)
    time.sleep(0.3)  # the clean-up done
    return us, len(left)


def warm_ready(m, size):
    """Until the mount's status says its pool is full again (a fixed pause where it says nothing)."""
    if "warm" not in m.status():
        time.sleep(1)
        return
    wait_for("the warm pool refilled", lambda: m.status().get("warm", "").split()[:1] == [str(size)], step=0.01)


def bench_local(a, base):
    """What a local engine makes possible, each beside its floor: round trips beside the same shell on
    bare FIFOs (benchclient's raw fifo mode), signal INT and rmdir's clean-up beside kill(2) from the
    host, mkdir with -o warm=2 beside mkdir without."""
    if os.geteuid() != 0:
        sys.exit("the FIFOs and the host's view of the container's processes need root")
    cpid = run("docker", "inspect", "-f", "{{.State.Pid}}", a.container).strip()
    mounts = []
    try:
        m = Mount(a.seshfs, a.container, os.path.join(base, "plain"))
        mounts.append(m)
        shells = {"bash": m.session("bash"), "ash": m.session("ash")}
        with open(os.path.join(shells["ash"], "ctl"), "w") as f:
            f.write("shell /bin/sh\nrestart\n")
        n = str(a.commands)
        held = {k: [] for k in ("bash", "ash", "fifo bash", "fifo ash")}
        oc = {k: [] for k in held}
        raw_token = []

        def measure(key, *channel):
            held[key].append(medians(client(a.client, *channel, "roundtrip", n)))
            oc[key].append(client(a.client, *channel, "openclose", n)[0]["median_us"])
        for r in range(a.rounds):
            for sh, path in (("bash", "/bin/bash"), ("ash", "/bin/sh")):
                pair = [(sh, ("fs", shells[sh])), ("fifo " + sh, ("raw", a.container, "fifo", cpid, path))]
                for key, channel in (pair if r % 2 == 0 else pair[::-1]):
                    measure(key, *channel)
            raw_token.append(client(a.client, "raw", a.container, "roundtrip", n)[0]["median_us"])

        def done(key):
            return statistics.median(d for _, d in held[key])
        raw_med = statistics.median(raw_token)
        row("bash: round trip to completion (held open)", done("bash"), raw_med, "us",
            "<= 100 us, <= 0.6x", note="vs the raw exec's round trip to the token")
        row("  ... vs bash on bare FIFOs (raw fifo)", done("bash"), done("fifo bash"), "us", "-",
            note=f"FIFOs: {statistics.median(t for t, _ in held['fifo bash']):.0f} us to the token")
        row("ash: round trip to completion (held open)", done("ash"), done("fifo ash"), "us", "<= 150 us",
            note="vs ash on bare FIFOs")
        for sh in ("bash", "ash"):
            row(f"open/write/close + open/read/close ({sh})", statistics.median(oc[sh]),
                statistics.median(oc["fifo " + sh]), "us", "<= 1.3x", note=f"vs {sh} on bare FIFOs")

        # signal INT: ctl's, beside kill(2) of the sleep from the host; rounds alternate which goes first.
        sig = m.session("signal")
        times = {True: [], False: []}
        for r in range(max(a.rounds, 5)):
            for by_ctl in ((True, False) if r % 2 == 0 else (False, True)):
                times[by_ctl].append(signal_once(sig, cpid, by_ctl))
        row("signal INT to sleep 100, until the read returns", statistics.median(times[True]),
            statistics.median(times[False]), "us", "<= 5 ms", note=f"vs kill(2) from the host, {spread(times[False])}")

        # rmdir of a session with background jobs, until every process of it is gone.
        times, escaped = {True: [], False: []}, 0
        for r in range(max(a.rounds, 5)):
            for by_rmdir in ((True, False) if r % 2 == 0 else (False, True)):
                us, left = cleanup_once(m, f"jobs{r}_{int(by_rmdir)}", cpid, by_rmdir)
                times[by_rmdir].append(us if us is not None else float("inf"))
                escaped += left if by_rmdir else 0
        row("rmdir, 3 jobs (one env -i setsid), all gone", statistics.median(times[True]),
            statistics.median(times[False]), "us", "<= 20 ms",
            note=f"vs SIGKILL from the host; {escaped} processes outlived rmdir by 5 s" if escaped else
            "vs SIGKILL from the host")

        # mkdir with warm shells: skipped by a seshfs that refuses the option.
        try:
            warm = Mount(a.seshfs, a.container, os.path.join(base, "warm"), ["-o", "warm=2"])
        except SystemExit:
            print("mkdir with -o warm=2: this seshfs refuses the option; skipped")
            return
        mounts.append(warm)
        warm_ready(warm, 2)
        times = {id(m): [], id(warm): []}
        for i in range(max(a.rounds, 5) * 2):
            for mount in ((warm, m) if i % 2 == 0 else (m, warm)):
                start = time.perf_counter()
                os.mkdir(os.path.join(mount.sessions, f"w{i}"))
                times[id(mount)].append((time.perf_counter() - start) * 1e6)
                os.rmdir(os.path.join(mount.sessions, f"w{i}"))
                time.sleep(0.3)
                if mount is warm:
                    warm_ready(warm, 2)
        row("mkdir with -o warm=2", statistics.median(times[id(warm)]), statistics.median(times[id(m)]), "us",
            "<= 2 ms", note=f"vs mkdir without, {spread(times[id(m)])}")
    finally:
        for mount in mounts:
            mount.close()


def bench_podman(a, base):
    """The same on Podman's Docker-compatible socket (a podman system service of the bench's own)."""
    sock = os.path.join(base, "podman.sock")
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    name = f"seshfs-bench-podman-{os.getpid()}"
    try:
        while not os.path.exists(sock):
            time.sleep(0.05)
        run("podman", "run", "-d", "--name", name, "--network", "none", f"localhost/{a.image}",
            "sleep", "2147483647")
        beside_local(a, base, "Podman", name, ["-o", f"docker_host=unix://{sock}"])
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True)
        service.terminate()
        service.wait(30)


def run_section(section, a):
    """A section in a scratch directory of its own (mount points, certificates, a policy file),
    removed afterwards unless something is still mounted in it: a live mount's files are not ours."""
    base = tempfile.mkdtemp(prefix="seshfs-bench-")
    try:
        section(a, base)
    finally:
        for root, dirs, _ in os.walk(base):
            if any(os.path.ismount(os.path.join(root, d)) for d in dirs):
                break
        else:
            shutil.rmtree(base)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seshfs", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--container", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--commands", type=int, default=1000)
    ap.add_argument("--stream-mib", type=int, default=1024)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--guard-mib", type=int, default=256)
    ap.add_argument("--image", default=os.environ.get("SESHFS_IMAGE", "seshfs-sandbox:2"))
    ap.add_argument("--only", choices=["local", "guard", "sandbox", "tls", "podman"], help="run one section alone")
    ap.add_argument("--json", help="also write the rows here, for bench/compare.py")
    a = ap.parse_args()

    if a.only:
        run_section({"local": bench_local, "guard": bench_guard, "sandbox": bench_sandbox, "tls": bench_tls,
                     "podman": bench_podman}[a.only], a)
        report(a)
        return
    mnt = tempfile.mkdtemp(prefix="seshfs-bench-")
    m = Mount(a.seshfs, a.container, mnt)
    try:
        # Command round trip: write "echo tokN", read until tokN is back.
        rt = m.session("roundtrip")
        with open(os.path.join(rt, "ctl"), "w") as f:
            f.write("shell /bin/sh\nrestart\n")  # busybox ash (bash is the default where present)
        n = str(a.commands)
        fs, raw_rt, hooked = [], [], []
        for _ in range(a.rounds):
            fs.append(medians(client(a.client, "fs", rt, "roundtrip", n)))
            raw_rt.append(client(a.client, "raw", a.container, "roundtrip", n)[0]["median_us"])
            hooked.append(medians(client(a.client, "raw", a.container, "hooked", "/bin/sh", n)))
        # The same with bash, whose prompt hook does not fork (PROMPT_COMMAND).
        bash = m.session("bash")
        with open(os.path.join(bash, "ctl"), "w") as f:
            f.write("shell /bin/bash\nrestart\n")
        # And with ctl expect set (a REPL prompt that never comes): each output is matched.
        expect = m.session("expect")
        try:
            with open(os.path.join(expect, "ctl"), "w") as f:
                f.write("shell /bin/bash\nexpect ^>>> $\nrestart\n")
        except OSError:  # a seshfs without expect (bench/compare.sh with an older build)
            with open(os.path.join(expect, "ctl"), "w") as f:
                f.write("shell /bin/bash\nrestart\n")
        bash_fs, bash_hooked, expect_fs = [], [], []
        for _ in range(a.rounds):
            bash_fs.append(medians(client(a.client, "fs", bash, "roundtrip", n)))
            expect_fs.append(medians(client(a.client, "fs", expect, "roundtrip", n)))
            bash_hooked.append(medians(client(a.client, "raw", a.container, "hooked", "/bin/bash", n)))
        fs_rt, fs_done = zip(*fs)
        hooked_rt, hooked_done = zip(*hooked)
        bash_rt, bash_done = zip(*bash_fs)
        bash_hooked_rt, bash_hooked_done = zip(*bash_hooked)
        cli = []
        for i in range(20):
            start = time.perf_counter()
            out = run("docker", "exec", a.container, "sh", "-c", f"echo tok{i}")
            cli.append((time.perf_counter() - start) * 1e6)
            assert out == f"tok{i}\n"
        raw_med, fs_med = statistics.median(raw_rt), statistics.median(fs_rt)
        row("round trip, echo tokN (median of medians)", fs_med, raw_med, "us", "<= 1.5x")
        row("  ... to completion (EOF) vs raw token", statistics.median(fs_done), raw_med, "us", "-",
            note="includes the prompt hook")
        row("  bash session: round trip", statistics.median(bash_rt), raw_med, "us", "<= 1.5x")
        row("  bash session: to completion (EOF)", statistics.median(bash_done), raw_med, "us", "-")
        row("  bash session, expect set: round trip", statistics.median(r[0] for r in expect_fs),
            statistics.median(bash_rt), "us", "<= 1.05x", note="vs the bash session")
        # The same shell and prompt hook on a raw exec: what the relay through FUSE costs.
        row("relay only: round trip vs hooked raw exec", fs_med, statistics.median(hooked_rt), "us", "-")
        row("  ... to completion vs hooked raw prompt", statistics.median(fs_done),
            statistics.median(hooked_done), "us", "-")
        row("  bash: round trip vs hooked raw exec", statistics.median(bash_rt),
            statistics.median(bash_hooked_rt), "us", "-")
        row("  bash: to completion vs hooked raw prompt", statistics.median(bash_done),
            statistics.median(bash_hooked_done), "us", "-")
        row("round trip vs docker exec (CLI)", fs_med, statistics.median(cli), "us", "< 1x")

        # The way people use the files: each opened and closed per command (bash session).
        oc_fs, oc_requests = [], []
        for _ in range(a.rounds):
            before = fuse_counts(m)
            oc_fs.append(client(a.client, "fs", bash, "openclose", n)[0]["median_us"])
            after = fuse_counts(m)
            if after:
                oc_requests.append((after["requests"] - before["requests"] - m.status_cost) / (int(n) + 1))
        oc_med = statistics.median(oc_fs)
        row("open/write/close + open/read/close, to EOF", oc_med, statistics.median(bash_hooked_done), "us",
            "<= 1.5x", note="vs the hooked raw bash exec to its prompt")
        if oc_requests:
            row("  FUSE requests per such round trip", statistics.median(oc_requests), 10, "", "<= 10")
        # The same from sh, a process per step, beside docker exec in a loop.
        loops = 50
        script = (f'cd {bash}; i=0; while [ $i -lt {loops} ]; do echo "echo tok$i" > stdin; '
                  f'cat stdout >/dev/null; i=$((i + 1)); done')
        sh_loop, cli_loop = [], []
        for _ in range(a.rounds):
            start = time.perf_counter()
            run("sh", "-c", script)
            sh_loop.append((time.perf_counter() - start) * 1e6 / loops)
            start = time.perf_counter()
            for i in range(10):
                run("docker", "exec", a.container, "sh", "-c", f"echo tok{i}")
            cli_loop.append((time.perf_counter() - start) * 1e6 / 10)
        row("sh: echo > stdin; cat stdout (per command)", statistics.median(sh_loop),
            statistics.median(cli_loop), "us", "< 1x", note="vs docker exec sh -c in a loop")

        # mkdir to first output vs raw exec create + start until the shell's first output.
        # rmdir returns at once and kills in the background (a helper exec): measured
        # with the engine quiet again, and right after an rmdir, its clean-up running.
        fs_open, fs_open_busy, raw_open = [], [], []
        for i in range(a.rounds * 5):
            for pause, times in ((0.3, fs_open), (0, fs_open_busy)):
                start = time.perf_counter()
                os.mkdir(os.path.join(m.sessions, f"open{i}"))
                times.append((time.perf_counter() - start) * 1e6)
                os.rmdir(os.path.join(m.sessions, f"open{i}"))
                time.sleep(pause)
            time.sleep(0.3)
            raw_open.append(client(a.client, "raw", a.container, "open", "1")[0]["median_us"])
        row("mkdir until the shell runs", statistics.median(fs_open), statistics.median(raw_open),
            "us", "<= 1.2x")
        row("  ... right after an rmdir (clean-up running)", statistics.median(fs_open_busy),
            statistics.median(raw_open), "us", "-")

        # Streaming: dd if=/dev/zero bs=1M read through stdout vs the same raw exec.
        st = m.session("stream")
        fs_bw, raw_bw = [], []
        for _ in range(2):
            fs_bw.append(client(a.client, "fs", st, "stream", str(a.stream_mib))[0]["mib_per_s"])
            raw_bw.append(client(a.client, "raw", a.container, "stream", str(a.stream_mib))[0]["mib_per_s"])
        row(f"stream {a.stream_mib} MiB (MiB/s)", statistics.median(fs_bw), statistics.median(raw_bw),
            "MiB/s", ">= 3x", higher_is_better=True)
        for name in ("roundtrip", "bash", "expect", "stream"):
            os.rmdir(os.path.join(m.sessions, name))
    finally:
        m.close()

    # Many sessions: time to open, memory per idle session, threads.
    m = Mount(a.seshfs, a.container, mnt)
    try:
        before, _ = rss_kb(m.proc.pid)
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: os.mkdir(os.path.join(m.sessions, f"idle{i}")), range(a.sessions)))
        opened = time.perf_counter() - start
        time.sleep(1)
        after, threads = rss_kb(m.proc.pid)
        start = time.perf_counter()
        listed = len(os.listdir(m.sessions))
        ls_ms = (time.perf_counter() - start) * 1e3
        assert listed == a.sessions
        per_session = (after - before) / a.sessions
        print(f"\n{a.sessions} sessions: opened in {opened:.1f} s ({opened / a.sessions * 1e3:.0f} ms each, "
              f"16 mkdirs at a time); seshfs RSS {before} -> {after} KiB = {per_session:.1f} KiB per idle "
              f"session (target < 64); {threads} threads; listing sessions/ took {ls_ms:.1f} ms")
    finally:
        start = time.perf_counter()
        m.close()
        print(f"unmount with {a.sessions} shells (all killed) took {time.perf_counter() - start:.1f} s")
    os.rmdir(mnt)
    for section in (bench_local, bench_guard, bench_sandbox, bench_tls, bench_podman):
        try:
            run_section(section, a)
        except SystemExit as e:  # an older seshfs (bench/compare.sh) without the options
            print(f"{section.__name__}: skipped: {e}")
    report(a)


if __name__ == "__main__":
    main()
