"""What redaction and history show of output and input that carry terminal
escapes or long lines: a secret coloured (before it or inside it) is still
found, a history line is redacted before it is cut, and history writes
control bytes as \\xNN. Under busybox ash and bash."""
import pytest

from conftest import session_with

SHELLS = ["/bin/sh", "/bin/bash"]

# Each secret reaches printf in pieces, so that the command line holds none of it.
AWS_HEAD, AWS_TAIL = "AKIAIOSFODNN", "7EXAMPLE"
GITHUB_TAIL = "a1B2c3D4e5" * 3 + "abcdef"


def command(row):
    """A history line's fields: SEQ, EXIT and COMMAND (bytes)."""
    seq, _start, _duration, code, text = row.split(b"\t", 4)
    return int(seq), int(code), text


def history_rows(s):
    return [command(row) for row in s.read_file("history").split(b"\n")[:-1]]


@pytest.mark.parametrize("sh", SHELLS)
def test_a_secret_behind_or_inside_terminal_escapes_is_redacted(make_mount, sh):
    s = session_with(make_mount(["redact=default"]), sh, "timeout 3")
    # What grep --color=always prints around a match.
    s.send(f"k={AWS_HEAD}; printf '\\033[01;31m\\033[K%s\\033[m\\033[K\\n' ${{k}}{AWS_TAIL}\n")
    assert s.read() == b"\x1b[01;31m\x1b[K[REDACTED AWS KEY]\x1b[m\x1b[K\n"
    s.send(f"printf '\\033[32m%s\\033[0m\\n' ghp_{GITHUB_TAIL}\n")
    assert s.read() == b"\x1b[32m[REDACTED GITHUB TOKEN]\x1b[0m\n"
    s.send("printf '\\033[1m%s=%s\\033[0m\\n' password hunter2\n")
    assert s.read() == b"\x1b[1mpassword=[REDACTED]\x1b[0m\n"
    # Escapes inside the secret go with it; those outside it stay.
    s.send(f"printf 'key: AKIA\\033[1m%s\\033[m!\\n' IOSFODNN{AWS_TAIL}\n")
    assert s.read() == b"key: [REDACTED AWS KEY]\x1b[m!\n"
    # An OSC string (a terminal title, BEL-terminated) and a charset escape (tput sgr0).
    s.send("printf '\\033]0;title\\007\\033(B\\033[mtoken=%s\\n' s3cr3t\n")
    assert s.read() == b"\x1b]0;title\x07\x1b(B\x1b[mtoken=[REDACTED]\n"
    for name in ("transcript", "history"):
        data = s.read_file(name)
        assert (AWS_HEAD + AWS_TAIL).encode() not in data and b"IOSFODNN\x1b" not in data, data


def test_a_user_rule_matches_through_terminal_escapes(make_mount, tmp_path):
    rules = tmp_path / "rules"
    rules.write_text("(user)=(\\w+)\t$1=<$2>\n")
    s = session_with(make_mount([f"redact={rules}"]), "/bin/sh", "timeout 3")
    s.send("printf '\\033[1m%s\\033[0m=%s \\033[2mend\\033[0m\\n' user bob\n")
    assert s.read() == b"\x1b[1muser=<bob> \x1b[2mend\x1b[0m\n"


@pytest.mark.parametrize("sh", SHELLS)
def test_history_redacts_a_line_before_it_cuts_it_at_4_KiB(make_mount, sh):
    s = session_with(make_mount(["redact=default"]), sh, "timeout 5")
    head = ": " + "x" * 4087 + " "  # the key starts 6 bytes before the cut
    s.send(f"{head}{AWS_HEAD}{AWS_TAIL}\necho done\n")
    assert s.read_until(b"done\n") == b"done\n"
    assert history_rows(s) == [
        (1, 0, (head + "[REDACTED AWS KEY]").encode()[:4096]),
        (2, 0, b"echo done"),
    ]


@pytest.mark.parametrize("sh", SHELLS)
def test_history_writes_control_bytes_and_invalid_utf8_as_xNN(mount, sh):
    s = session_with(mount, sh, "timeout 3")
    s.send(b": a\x1b[1mb\rc \x01\x7f \xc2\x85 \xff \xc3\xa9 x\\y\tz\necho done\n")
    assert s.read_until(b"done\n") == b"done\n"
    assert history_rows(s) == [
        (1, 0, b": a\\x1b[1mb\\x0dc \\x01\\x7f \\xc2\\x85 \\xff \xc3\xa9 x\\\\y\\tz"),
        (2, 0, b"echo done"),
    ]
