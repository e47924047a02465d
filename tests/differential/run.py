#!/usr/bin/python3
"""The command splitter (fs/guard/cmdline.c) against bash, busybox ash and dash.

Each input runs in the real shell, started as seshfs starts it (interactive,
reading a pipe, bash without history expansion), where every command name the
generator uses resolves to a logging stub, with xtrace on (it shows builtins,
functions and busybox's applets, which never look at PATH; dash's is not
used: it does not quote words) and optionally under strace (execve). What
ran is compared with what the splitter reports for that shell's dialect
(splitter-report, built next to the unit tests):

  bypass         a name ran that was not reported, while the splitter neither
                 failed nor reported an uncheckable word or a runner (time,
                 exec, eval...), each of which makes the policy refuse the
                 input; the worst let `allow echo true printf cat ls` through
  false refusal  a name was reported that did not run: refused for nothing

Safety: the inputs are random shell code. They run in a chroot holding only
the three shells, their libraries and the stubs, as uid/gid 65534 without
groups, in a network and mount namespace of their own, one fresh directory
per run, under a timeout and resource limits. Needs root (to build and enter
that chroot); the worker drops to 65534 for every shell it starts.

  run.py --shell bash|ash|dash --replay DIR...     each file one input
  run.py --shell bash|ash|dash --seconds N         generated inputs (gen.py)

A bypass found is minimized and written as a seed to the corpus (or --found
DIR); with --findings FILE it is also described at the end of FILE.
"""
import argparse
import ctypes
import hashlib
import multiprocessing
import os
import random
import re
import resource
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

UID = 65534
# How seshfs's wrapper starts each shell (backend/procctl.c), with xtrace on; bash
# without history expansion, as sessions run it.
SHELLS = {
    "bash": ["/bin/bash", "--norc", "--noprofile", "--noediting", "-i", "+H", "-x"],
    "ash": ["/bin/busybox", "ash", "-x", "-i", "/dev/stdin"],
    "dash": ["/bin/dash", "-x", "-i"],
}
PS4 = "+@XT@ "
TRACE_MARK = b"@XT@ "
ASSIGNMENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
# busybox runs some applets by executing itself: /proc/self/exe, the applet's name in argv[0].
EXECVE = re.compile(rb'^\d+ +execve\("([^"]*)", \["([^"]*)".* = 0$', re.M)

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
PR_SET_CHILD_SUBREAPER = 36


def libraries(binary):
    """The shared libraries binary loads (ldd), loader included."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return [p for p in re.findall(r"(/\S+) \(0x", out) if os.path.exists(p)]


def build_root(use_strace):
    """A chroot of the shells, their libraries and a stub per name."""
    root = tempfile.mkdtemp(prefix="seshfs-differential-")
    try:
        _fill_root(root, use_strace)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root


def _fill_root(root, use_strace):
    os.chmod(root, 0o755)
    binaries = {"/bin/bash": shutil.which("bash"), "/bin/dash": shutil.which("dash"),
                "/bin/busybox": shutil.which("busybox")}
    if use_strace:
        binaries["/bin/strace"] = shutil.which("strace")
    for inside, outside in binaries.items():
        if not outside:
            raise SystemExit(f"differential: {os.path.basename(inside)} is not installed")
        for path in [outside, *libraries(outside)]:
            dest = root + (inside if path == outside else os.path.realpath(path))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.realpath(path), dest)
            if path != outside and os.path.realpath(path) != path:
                link = root + path
                if not os.path.lexists(link):
                    os.makedirs(os.path.dirname(link), exist_ok=True)
                    os.symlink(os.path.realpath(path), link)
    for d in ("stubs", "w", "proc", "dev", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "w"), 0o711)
    os.mknod(os.path.join(root, "dev/null"), 0o666 | 0o020000, os.makedev(1, 3))
    os.chmod(os.path.join(root, "dev/null"), 0o666)
    os.symlink("/proc/self/fd/0", os.path.join(root, "dev/stdin"))
    for name in gen.NAMES:
        stub = os.path.join(root, "stubs", name)
        with open(stub, "w") as f:
            f.write('#!/bin/dash\necho "${0##*/}" >>"$SESHFS_DIFF_LOG"\n')
        os.chmod(stub, 0o755)


def _limit():
    """In the worker, inherited by every shell: no big files, memory or fork bombs.
    (A shell's time is bounded by the run's timeout.)"""
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, 4 << 20))
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))


def traced_names(xtrace):
    """The command names in xtrace's output. busybox ash writes a trace in
    pieces, so the traces of a pipeline's commands interleave: k marks in a
    row, then the k commands' names each at the start of a line, or glued
    together (then lost); their arguments follow, each after a blank."""
    names = set()
    waiting = 0	# marks whose command comes on a later line
    for piece in xtrace.split(TRACE_MARK)[1:]:
        if not piece.strip(b"+"):
            waiting += 1
            continue
        for i, line in enumerate(piece.split(b"\n")[:waiting + 1]):
            if i > 0 and line[:1] in (b" ", b""):
                break	# the rest of a command's trace: its arguments
            # Words as the trace quotes them: _=' zz1 ' is one word, an assignment.
            try:
                words = shlex.split(line.decode("latin-1"))
            except ValueError:
                continue	# a quote another trace cut
            while words and ASSIGNMENT.match(words[0].encode("latin-1")):
                words.pop(0)
            if words:
                names.add(words[0].encode("latin-1"))
        waiting = 0
    return names


def _reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _feed(fd, data, deadline):
    """Writes data to the shell's stdin; False if the shell has not taken it all in time."""
    os.set_blocking(fd, False)
    while data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            return False
        try:
            data = data[os.write(fd, data[:65536]):]
        except BlockingIOError:
            continue
        except BrokenPipeError:
            return True
    return True


def _run_one(shell, data, index, timeout, use_strace):
    d = f"/w/{index}"
    os.mkdir(d, 0o700)
    os.chown(d, UID, UID)
    trace = os.open(f"{d}/.trace", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    argv = SHELLS[shell]
    if use_strace:
        argv = ["/bin/strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none",
                "-o", f"{d}/.exec", *argv]
    env = {"PATH": "/stubs", "PS1": "", "PS2": "", "PS4": PS4, "HOME": d, "LC_ALL": "C",
           "SESHFS_DIFF_LOG": f"{d}/.log"}
    # busybox ash opens /dev/stdin anew, which a pipe of root's would refuse to 65534.
    stdin, feed = os.pipe()
    os.fchown(stdin, UID, UID)
    timed_out = False
    try:
        p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=trace, cwd=d, env=env,
                             user=UID, group=UID, extra_groups=[], start_new_session=True)
        os.close(stdin)
        stdin = -1
        timed_out = not _feed(feed, data, time.monotonic() + timeout)
        os.close(feed)
        feed = -1
        try:
            p.wait(timeout=0 if timed_out else timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        # What it left running in the background gets a moment to log, then goes.
        deadline = time.monotonic() + (0 if timed_out else 2)
        while True:
            _reap()
            try:
                os.killpg(p.pid, signal.SIGKILL if time.monotonic() > deadline else 0)
            except ProcessLookupError:
                break
            time.sleep(0.005)
        p.wait()
        _reap()
        os.lseek(trace, 0, os.SEEK_SET)
        xtrace = b""
        while len(xtrace) < 8 << 20:
            chunk = os.read(trace, 1 << 20)
            if not chunk:
                break
            xtrace += chunk
        # dash traces words unquoted (" echo" and "echo" look the same): what it
        # runs shows in the stubs' log; its builtins and functions do not show.
        ran = traced_names(xtrace) if shell != "dash" else set()
        for log in ("log", "exec"):
            if not os.path.isfile(f"{d}/.{log}"):
                continue
            with open(f"{d}/.{log}", "rb") as f:
                text = f.read(1 << 20)
            if log == "log":
                ran.update(text.split())
            else:
                ran.update(os.path.basename(argv0 if program == b"/proc/self/exe" else program)
                           for program, argv0 in EXECVE.findall(text))
        return {"ran": {w for w in ran if w in gen.NAMES_BYTES}, "timed_out": timed_out}
    finally:
        for fd in (trace, stdin, feed):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(d, ignore_errors=True)


def _enter(root):
    """The worker's jail: namespaces of its own, the chroot, limits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
    if libc.mount(b"proc", (root + "/proc").encode(), b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        raise OSError(ctypes.get_errno(), "mount proc")
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _limit()
    os.chroot(root)
    os.chdir("/")


def _worker(conn, root, shell, timeout, use_strace):
    try:
        _enter(root)
    except OSError as e:
        conn.send(f"cannot enter the shells' chroot: {e}")
        return
    conn.send("ready")
    index = 0
    while True:
        data = conn.recv()
        if data is None:
            break
        index += 1
        conn.send(_run_one(shell, data, index, timeout, use_strace))


# Commands that run their arguments as a command: the splitter reports them, not
# what they run, and an allow-list that lets them through allows anything.
RUNNERS = frozenset([b"time", b"exec", b"command", b"builtin", b"eval", b"nohup", b"env", b"xargs",
                     b"nice", b"timeout", b"chroot", b"setsid", b".", b"source", b"trap", b"coproc"])


def compare(failed, words, ran):
    """The bypasses (names that ran, not reported, in input the policy passes)
    and false refusals (names reported that did not run), sorted. The policy
    passes what the splitter follows, all of it checkable, no runner."""
    reported = {w for checkable, w in words if checkable}
    refused = failed or any(not checkable or w in RUNNERS for checkable, w in words)
    missed = ran - reported
    bypass = sorted(missed) if missed and not refused else []
    return {"bypass": bypass, "false_refusal": sorted((reported & gen.NAMES_BYTES) - ran),
            # The worst kind: an allow-list of the harmless names lets it through.
            "passes_allowed": bool(bypass) and reported <= gen.ALLOWED_BYTES}


class Splitter:
    """splitter-report for one dialect, one input at a time."""

    def __init__(self, driver, dialect):
        self.proc = subprocess.Popen([driver, dialect], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def report(self, data):
        self.proc.stdin.write(data.hex().encode() + b"\n")
        self.proc.stdin.flush()
        fields = self.proc.stdout.readline().split()
        if not fields:
            raise RuntimeError("splitter-report died")
        words = [(w[:1] == b"c", bytes.fromhex(w[2:].decode())) for w in fields[1:]]
        return fields[0] == b"fail", words

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


class Differential:
    """One shell in its chroot, and the splitter in that shell's dialect and in
    the POSIX one ("sh", for a shell seshfs does not know), which must be safe
    under every shell."""

    def __init__(self, shell, driver, timeout=3.0, use_strace=False):
        self.shell = shell
        self.timeout = timeout
        self.splitters = {}
        self.root = build_root(use_strace)
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.worker = ctx.Process(target=_worker, args=(child, self.root, shell, timeout, use_strace),
                                  daemon=True)
        self.worker.start()
        child.close()
        ready = self.conn.recv() if self.conn.poll(30) else "no answer in 30 s"
        if ready != "ready":
            self.close()
            raise RuntimeError(f"{shell}: {ready}")
        for dialect in (shell, "sh"):
            self.splitters[dialect] = Splitter(driver, dialect)

    def check(self, data):
        """What ran, what was reported, and the verdict for one input: in the
        shell's dialect, or in the POSIX one if only that has a bypass
        ("dialect" says which). The policy holds a line until its newline
        comes, and a line ending in a backslash until the next: each input
        ends in a newline not escaped."""
        if not data.endswith(b"\n"):
            data += b"\n"
        if data.endswith(b"\\\n"):
            data += b"\n"	# a line continued is held until the line that ends it comes
        reports = {dialect: splitter.report(data) for dialect, splitter in self.splitters.items()}
        self.conn.send(data)
        if not self.conn.poll(self.timeout + 30):
            raise RuntimeError(f"{self.shell}: the worker stopped answering")
        result = self.conn.recv()
        verdicts = {dialect: {"dialect": dialect, "words": words, "failed": failed,
                              **compare(failed, words, result["ran"])}
                    for dialect, (failed, words) in reports.items()}
        verdict = verdicts[self.shell]
        if not verdict["bypass"] and verdicts["sh"]["bypass"]:
            verdict = verdicts["sh"]
        return {"data": data, "ran": result["ran"], "timed_out": result["timed_out"], **verdict}

    def minimize(self, data, budget=120):
        """A shorter input that is still a bypass: lines, then words, then bytes
        go, halves first."""
        def still(pieces):
            nonlocal budget
            candidate = b"".join(pieces)
            if budget <= 0 or not candidate.strip():
                return False
            budget -= 1
            result = self.check(candidate)
            return bool(result["bypass"]) and not result["timed_out"]

        for unit in (rb"(?<=\n)", rb"(?<=[ ;&|])", None):
            pieces = [p for p in re.split(unit, data) if p] if unit else [bytes([b]) for b in data]
            size = len(pieces) // 2
            while size >= 1:
                i = 0
                while i < len(pieces):
                    if still(pieces[:i] + pieces[i + size:]):
                        pieces = pieces[:i] + pieces[i + size:]
                    else:
                        i += size
                size //= 2
            data = b"".join(pieces)
        return data

    def close(self):
        for splitter in self.splitters.values():
            splitter.close()
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.worker.join(10)
        if self.worker.is_alive():
            self.worker.kill()
            self.worker.join()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def show(data):
    """An input as one printable line (Python bytes-literal escapes)."""
    return repr(data)[2:-1]


def load_corpus(dirs):
    cases = []
    for d in dirs:
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                cases.append((name, f.read()))
    return cases


SYNTAX = re.compile(rb"<<[-<]?|\$\(\(|\(\(|\$\(|\$\{|\$\[|\$'|\$\"|\\[`\n\\]|[`'\"{}()|&;#!<>\0\t\r]"
                    rb"|\b(case|esac|coproc|time|for|select|while|until|if|then|fi|do|done|in|function)\b|\[\[|\]\]")


def signature(data):
    """Bypasses made of the same syntax (operators, quotes, reserved words; not
    the words, their order or count) are one finding."""
    return frozenset(m.group(0) for m in SYNTAX.finditer(data))


def record(finding, shell, corpus, findings_file):
    """The bypass as a seed in corpus, and as an entry at the end of findings_file."""
    data = finding["data"]
    name = f"found-{shell}-{hashlib.sha1(data).hexdigest()[:10]}"
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(data)
    if findings_file:
        reported = ", ".join(show(w) + ("" if c else " (uncheckable)") for c, w in finding["words"])
        with open(findings_file, "a") as f:
            f.write(f"\n## {shell} (the splitter in dialect {finding['dialect']}): {name}\n"
                    f"- input: `{show(data)}`\n"
                    f"- ran: {', '.join(show(w) for w in sorted(finding['ran']))}"
                    f" (not reported: {', '.join(show(w) for w in finding['bypass'])})\n"
                    f"- the splitter reported: {reported or 'nothing'}"
                    f"{' and failed' if finding['failed'] else ''}\n"
                    f"- `allow {' '.join(gen.ALLOWED)}` "
                    f"{'lets it through' if finding['passes_allowed'] else 'refuses it (a reported word is not listed)'}"
                    f"\n")
    return name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shell", required=True, choices=sorted(SHELLS))
    ap.add_argument("--driver", default=os.environ.get("SESHFS_SPLITTER_REPORT"),
                    help="splitter-report (default: $SESHFS_SPLITTER_REPORT)")
    ap.add_argument("--replay", nargs="*", metavar="DIR", help="run each file of these corpora")
    ap.add_argument("--seconds", type=float, help="generate inputs for this long")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus"), help="the seeds mutated")
    ap.add_argument("--found", help="where found bypasses go (default: the corpus)")
    ap.add_argument("--findings", help="append each new bypass to this file")
    ap.add_argument("--strace", action="store_true", help="also trace execve")
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds per run")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not args.driver:
        ap.error("--driver or SESHFS_SPLITTER_REPORT names splitter-report")
    if os.geteuid() != 0:
        ap.error("needs root: the shells run in a chroot as uid 65534")
    # timeout(1) and the like stop it with SIGTERM: the chroot still goes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    stats = {"tried": 0, "lines": 0, "bypasses": 0, "passes_allowed": 0, "new": 0, "false_refusals": 0, "refused": 0, "timeouts": 0}
    found = args.found or args.corpus
    os.makedirs(found, exist_ok=True)
    # One finding per kind, over runs too: what an earlier run found is known.
    seen = {signature(data) for name, data in load_corpus([found]) if name.startswith("found-")}
    recorded = []
    start = last = time.monotonic()

    def summary():
        print(f"{args.shell}: {stats['tried']} inputs ({stats['lines']} lines) in {time.monotonic() - start:.0f} s, "
              f"{stats['bypasses']} bypasses ({stats['passes_allowed']} through an allow-list of harmless names; "
              f"{stats['new']} of a new kind, {len(recorded)} recorded), "
              f"{stats['false_refusals']} with a false refusal, {stats['refused']} refused by the splitter, "
              f"{stats['timeouts']} timeouts", flush=True)

    with Differential(args.shell, args.driver, args.timeout, args.strace) as diff:
        if args.replay is not None:
            cases = load_corpus(args.replay or [args.corpus])
            source = iter(cases)
        else:
            rng = random.Random(args.seed)
            seeds = [data for _, data in load_corpus([args.corpus])]
            generator = gen.Generator(rng, args.shell, seeds)
            source = ((None, generator.case()) for _ in iter(int, 1))
        for name, data in source:
            if args.seconds is not None and time.monotonic() - start > args.seconds:
                break
            result = diff.check(data)
            stats["tried"] += 1
            stats["lines"] += result["data"].count(b"\n")
            if time.monotonic() - last > 300:
                last = time.monotonic()
                summary()
            stats["timeouts"] += result["timed_out"]
            stats["false_refusals"] += bool(result["false_refusal"])
            stats["refused"] += result["failed"] or any(not c for c, _ in result["words"])
            if args.verbose:
                print(f"{show(data)}\n  ran {sorted(result['ran'])} reported {result['words']}")
            if not result["bypass"]:
                continue
            stats["bypasses"] += 1
            stats["passes_allowed"] += result["passes_allowed"]
            if args.replay is not None:
                print(f"BYPASS {args.shell} ({result['dialect']}) {name}: `{show(data)}` ran "
                      f"{[show(w) for w in result['bypass']]}, "
                      f"reported {[show(w) for _, w in result['words']]}", flush=True)
                continue
            def known(sig):
                """The same syntax, or more around what a known finding needs (two or more of it)."""
                return any(sig == k or (len(k) > 1 and k <= sig) for k in seen)

            # Most bypasses are of a known kind: a short minimizing tells, then a long one follows.
            small = diff.minimize(data, budget=25)
            if known(signature(small)):
                continue
            small = diff.minimize(small)
            sig = signature(small)
            if known(sig):
                continue
            seen.add(sig)
            stats["new"] += 1
            finding = diff.check(small)
            if not finding["bypass"]:
                finding = result
            print(f"BYPASS {args.shell} ({finding['dialect']}): `{show(finding['data'])}` ran "
                  f"{[show(w) for w in finding['bypass']]}", flush=True)
            if len(recorded) < 15:
                recorded.append(record(finding, args.shell, found, args.findings))
    summary()
    return 1 if stats["bypasses"] else 0


if __name__ == "__main__":
    sys.exit(main())
