"""The policy's splitter reads a line as the session's shell will: bash, or
busybox ash (the image's /bin/sh). Each line below once passed the allow-list
and ran touch in that shell; now the write fails with EACCES, none of it
reaches the shell, and the file never appears. Lines each shell runs as
intended still pass. One mount per shell."""
import errno

import pytest

from conftest import expect_errno

POLICY = "allow echo ls cat head read sleep true printf grep\ndangerous\ndeny \\bcurl\\b\n"
ASH, BASH = "/bin/sh", "/bin/bash"

# (writes, the shells they once ran touch in); the last write is the one refused.
BYPASSES = [
    ([b"[[ -n x ]]&& touch /tmp/spl-0\n"], (ASH, BASH)),
    ([b"[[ -z x ]]|| touch /tmp/spl-1\n"], (ASH, BASH)),
    ([b"echo() { for x do touch /tmp/spl-2; done; }; echo a\n"], (ASH, BASH)),
    ([b"echo $((touch /tmp/spl-3) )\n"], (BASH,)),
    ([b"((touch /tmp/spl-4))\n"], (ASH,)),
    ([b"cat <<E\0OF\nEOF\ntouch /tmp/spl-5\nEOF\n"], (ASH, BASH)),
    ([b"echo \"${x:-'}\" ; touch /tmp/spl-6 ; echo \"'}\"\n"], (ASH,)),
    ([b"x='$(touch /tmp/spl-7)'\n", b"echo ${x@P}\n"], (BASH,)),
    ([b"echo a ) echo '\ntouch /tmp/spl-8\n'\n"], (BASH,)),
    ([b"cat <<EOF\nE\\\nOF\ntouch /tmp/spl-9\nEOF\n"], (BASH,)),
    ([b"cat <<$(echo)\n$(echo)\ntouch /tmp/spl-10\n\n"], (BASH,)),
    ([b"cat <<E\n$(touch /tmp/spl-13)\nE\n"], (ASH, BASH)),  # an unquoted heredoc's body is expanded
    ([b";'\n`touch /tmp/spl-14`\n'\n"], (ASH, BASH)),  # the shell drops the line it cannot parse
    ([b"case x in\na);;esac|touch /tmp/spl-15\n"], (ASH, BASH)),
    ([b"echo \"${x-'$(touch /tmp/spl-16)'}\"\n"], (ASH, BASH)),
    # An assignment is no command, but the prompt runs what it holds.
    ([b"PS1='$(touch /tmp/spl-11)'\n"], (ASH, BASH)),
    ([b"PROMPT_COMMAND='touch /tmp/spl-12'\n"], (BASH,)),
    ([b"read PS0\n"], (BASH,)),  # a read's answer is checked against deny rules alone
]

PASSES = {
    ASH: [(b"echo $((1 + 2)) \"${x:-'q'}\"; for x in a b; do echo $x; done\n", b"3 'q'\na\nb\n")],
    BASH: [(b"echo $((1 + 2)) \"${x:-'q'}\"; for x in a b; do echo $x; done\n", b"3 'q'\na\nb\n"),
           (b"(( i = 2 )); [[ -n x ]]&& echo $((i * 2)); for ((j = 0; j < 2; j++)) do echo $j; done\n",
            b"4\n0\n1\n")],
}


@pytest.mark.parametrize("sh", [ASH, BASH])
def test_lines_the_shell_reads_otherwise_are_refused(make_mount, container, tmp_path, sh):
    policy = tmp_path / "policy"
    policy.write_text(POLICY)
    s = make_mount([f"policy={policy}", f"shell={sh}"]).session()
    s.ctl("timeout 3")
    for line, output in PASSES[sh]:
        s.send(line)
        assert s.read() == output, line
    passed = []
    for writes, shells in BYPASSES:
        if sh not in shells:
            continue
        for data in writes[:-1]:
            s.send(data)
        try:
            expect_errno(errno.EACCES, s.send, writes[-1])
        except BaseException:
            passed.append(writes[-1])
    s.send("echo end\n")  # what passed has run once this comes back
    s.read()
    made = container.sh("ls /tmp | grep '^spl-' || true")
    container.sh("rm -f /tmp/spl-*")
    assert passed == [] and made == "", (passed, made)
