"""The command splitter against bash, busybox ash and dash themselves.

The seed corpus (tests/differential/corpus/: the misses the splitter had,
and what the differential fuzzer found since) is replayed in each shell by
tests/differential/run.py; a command that runs there while the splitter
neither reports it nor refuses the input is a bypass of the allow-list.
scripts/fuzz.sh SECONDS differential generates new inputs the same way.
No mount here: the shells run in a chroot as uid 65534, which needs root.
"""
import os
import shutil
import sys

import pytest

from conftest import SESHFS_BIN

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "differential"))
import run  # noqa: E402

DRIVER = os.environ.get("SESHFS_SPLITTER_REPORT",
                        os.path.join(os.path.dirname(SESHFS_BIN), "tests", "splitter-report"))
CORPUS = os.path.join(HERE, "differential", "corpus")
SHELLS = ("bash", "ash", "dash")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the shells' chroot needs root")


@pytest.fixture(scope="module", params=SHELLS)
def differential(request):
    with run.Differential(request.param, DRIVER, use_strace=shutil.which("strace") is not None) as diff:
        yield diff


def test_the_harness_sees_every_kind_of_command_that_runs(differential):
    """External stubs, busybox applets (which ash runs without PATH), functions,
    builtins, background jobs and command substitutions all show up; what
    never runs does not. (No applets run at once: ash's traces of those mix.)"""
    result = differential.check(b"zz1 a; t\\ouch F; f() { zz2; }; f; echo x; cat </dev/null; ls; echo $(mkfs); zz3 &\n"
                                b"false && printf x\n")
    expected = {b"zz1", b"touch", b"zz2", b"echo", b"cat", b"ls", b"mkfs", b"zz3"}
    unseen = {b"echo"} if differential.shell == "dash" else set()	# dash's builtins do not show
    assert result["ran"] == expected - unseen
    assert not result["bypass"]
    assert result["false_refusal"] == sorted({b"printf"} | unseen)


def test_a_name_that_ran_unreported_is_a_bypass_unless_the_policy_refuses():
    ran = {b"echo", b"zz1"}
    assert run.compare(False, [(True, b"echo")], ran) == \
        {"bypass": [b"zz1"], "false_refusal": [], "passes_allowed": True}
    # An uncheckable word, or a splitter that cannot follow: the policy refuses the input.
    assert run.compare(False, [(True, b"echo"), (False, b"$x")], ran)["bypass"] == []
    assert run.compare(True, [(True, b"echo")], ran)["bypass"] == []
    assert run.compare(False, [(True, b"echo"), (True, b"zz1"), (True, b"zz2")], ran) == \
        {"bypass": [], "false_refusal": [b"zz2"], "passes_allowed": False}
    # Missed, but a word reported instead is not on the allow-list of harmless names.
    assert run.compare(False, [(True, b"{zz1,}")], {b"zz1"})["passes_allowed"] is False


def test_no_input_of_the_corpus_runs_what_the_splitter_did_not_report(differential):
    bypasses = []
    for name, data in run.load_corpus([CORPUS]):
        result = differential.check(data)
        # ash's traces of commands that run at once can interleave into a name in a
        # command's place that never ran: a bypass is what two more runs show again.
        if result["bypass"] and all(differential.check(data)["bypass"] for _ in range(2)):
            bypasses.append(f"{name}: `{run.show(data)}` ran {[run.show(w) for w in result['bypass']]}, "
                            f"the splitter ({result['dialect']}) reported "
                            f"{[run.show(w) for _, w in result['words']]}")
    assert not bypasses, f"{differential.shell}:\n" + "\n".join(bypasses)
