"""-o redact=FILE|default: secrets replaced in every byte seshfs shows (stdout,
stderr, transcript, history, ctl, the log), per line, a partial line held
until its newline, a quiet time, a prompt, or an expect match."""
import os
import time

import pytest

from conftest import refused_mount, session_with, timed_read

SHELLS = ["/bin/sh", "/bin/bash"]

AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5" * 3 + "abcdef"
ANTHROPIC = "sk-ant-api03-" + "x9Y8z7W6v5" * 3
SECRETS = [AWS.encode(), GITHUB.encode(), ANTHROPIC.encode(), b"hunter2", b"s3cr3t-value"]


@pytest.fixture
def redacted(make_mount):
    def make(rules="default", options=()):
        return make_mount([f"redact={rules}", *options])
    return make


def assert_clean(data):
    for secret in SECRETS:
        assert secret not in data, (secret, data)


@pytest.mark.parametrize("sh", SHELLS)
def test_secrets_are_absent_from_all_four_outputs(redacted, sh):
    m = redacted()
    s = session_with(m, sh, "timeout 3")
    s.send(f"echo key {AWS} and {GITHUB}; echo token={ANTHROPIC} >&2\n")
    assert s.read() == b"key [REDACTED AWS KEY] and [REDACTED GITHUB TOKEN]\n"
    assert s.read("stderr") == b"token=[REDACTED ANTHROPIC KEY]\n"  # rules apply in order
    s.send("export DB_PASSWORD=hunter2; echo \"password: $DB_PASSWORD\"\n")
    assert s.read() == b"password: [REDACTED]\n"
    s.send("curl_like() { echo \"Authorization: Bearer s3cr3t-value\"; }; curl_like\n")
    assert s.read() == b"Authorization: Bearer [REDACTED]\n"
    transcript = s.read_file("transcript")
    history = s.read_file("history")
    assert_clean(transcript)
    assert_clean(history)
    assert b"echo key [REDACTED AWS KEY] and [REDACTED GITHUB TOKEN]; echo token=[REDACTED ANTHROPIC KEY] >&2\n" in transcript
    # The rules see text, not syntax: "password: $DB_PASSWORD" is a value too.
    assert b"\texport DB_PASSWORD=[REDACTED]; echo \"password: [REDACTED]\"\n" in history
    assert int(s.status()["redacted"]) >= 8  # each match on its way to a stream or the transcript


def test_st_size_and_offsets_count_redacted_bytes(redacted):
    s = session_with(redacted(), "/bin/sh", "timeout 3")
    s.send(f"echo {AWS}\n")
    out = s.read()
    assert out == b"[REDACTED AWS KEY]\n"
    assert os.stat(s.path("stdout")).st_size == len(out)
    transcript = s.read_file("transcript")
    assert os.stat(s.path("transcript")).st_size == len(transcript)


@pytest.mark.parametrize("sh", SHELLS)
def test_a_secret_split_across_two_writes_of_the_program(redacted, sh):
    s = session_with(redacted(), sh, "timeout 3")
    s.send(f"printf 'key {AWS[:9]}'; sleep 0.02; printf '{AWS[9:]} end\\n'\n")
    assert s.read() == b"key [REDACTED AWS KEY] end\n"
    s.send(f"printf '{GITHUB[:10]}' >&2; sleep 0.02; printf '{GITHUB[10:]}' >&2\n")  # and no newline
    assert s.read("stderr") == b"[REDACTED GITHUB TOKEN]"  # the prompt let it go, matched as it was


def test_a_secret_split_across_two_writes_to_stdin(redacted):
    s = session_with(redacted(), "/bin/sh", "timeout 3")
    s.send(f"echo {ANTHROPIC[:12]}")
    s.send(f"{ANTHROPIC[12:]}\n")
    assert s.read() == b"[REDACTED ANTHROPIC KEY]\n"
    assert_clean(s.read_file("transcript"))
    assert_clean(s.read_file("history"))


@pytest.mark.parametrize("sh", SHELLS)
def test_a_prompt_without_newline_shows_after_a_quiet_time(redacted, sh):
    s = session_with(redacted(), sh, "timeout 2", "eof deadline")
    s.send("printf 'Name: '; sleep 1; echo\n")
    start = time.monotonic()
    with open(s.path("stdout"), "rb", buffering=0) as f:
        assert f.read(100) == b"Name: "  # one read, answered once the quiet time passed
    assert time.monotonic() - start < 0.8
    s.ctl("eof idle")
    assert s.read() == b"\n"


def test_an_expect_match_lets_the_partial_line_go_at_once(redacted):
    s = session_with(redacted(), "/bin/bash", "timeout 3", "expect Password: $")
    s.send("printf 'Password: '; sleep 5\n")
    data, elapsed = timed_read(s)
    assert data == b"Password: " and elapsed < 1
    s.ctl("signal INT")


@pytest.mark.parametrize("sh", SHELLS)
def test_a_private_key_block_is_one_unit(redacted, sh):
    s = session_with(redacted(), sh, "timeout 3")
    s.send("printf 'key: -----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA\\nQK1X2Q\\n"
           "-----END RSA PRIVATE KEY----- done\\nafter\\n'\n")
    assert s.read() == b"key: [REDACTED PRIVATE KEY] done\nafter\n"
    s.send("printf '{\"k\": \"-----BEGIN PRIVATE KEY-----\\\\nABC\\\\n-----END PRIVATE KEY-----\\\\n\"}\\n'\n")
    assert s.read() == b'{"k": "[REDACTED PRIVATE KEY]\\n"}\n'
    # No END line: masked whole, up to the prompt; then output shows again.
    s.send("printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjE\\n'; echo next\n")
    assert s.read() == b"[REDACTED PRIVATE KEY]"
    s.send("echo shown\n")
    assert s.read() == b"shown\n"
    assert b"b3BlbnNzaC1rZXktdjE" not in s.read_file("transcript")


def test_a_rules_file_with_groups_and_the_default_set(redacted, tmp_path):
    rules = tmp_path / "rules"
    rules.write_text("# site rules\n(user)=(\\w+)\t$1=<$2>\ninternal-[0-9]+\tINTERNAL\ncost \\$\\d+\t$$$$\ndefault\n")
    s = session_with(redacted(str(rules)), "/bin/sh", "timeout 3")
    s.send(f"echo user=bob internal-42 cost \\$17 {AWS}\n")
    assert s.read() == b"user=<bob> INTERNAL $$ [REDACTED AWS KEY]\n"
    assert s.status()["redacted"] == "7"  # 4 in the output, 3 in the input line (\$17 is no match)


def test_ctl_values_and_the_log_are_redacted(redacted):
    m = redacted()
    s = session_with(m, "/bin/sh", "timeout 3", f"env API_KEY={GITHUB}")
    s.send(f"mkdir -p /tmp/{AWS} && cd /tmp/{AWS}\n")
    s.read()
    st = s.status()
    assert st["env"] == "API_KEY=[REDACTED GITHUB TOKEN]" and st["cwd"] == "/tmp/[REDACTED AWS KEY]"
    try:
        s.ctl(f"frobnicate {ANTHROPIC}")
    except OSError:
        pass
    assert s.status()["error"] == "unknown command 'frobnicate [REDACTED ANTHROPIC KEY]'"
    log = m.read_log()
    assert "frobnicate [REDACTED ANTHROPIC KEY]" in log and ANTHROPIC not in log


@pytest.mark.parametrize("text,message", [
    ("default\nfoo(\tX\n", ":2: missing closing parenthesis at offset 4"),
    ("no tab here\n", ":1: expected REGEX<TAB>REPLACEMENT or default"),
    ("(a)\t$2\n", ":1: the replacement names $2, the pattern has 1 groups"),
])
def test_a_bad_rules_file_mounts_nothing(container, tmp_path, text, message):
    rules = tmp_path / "rules"
    rules.write_text(text)
    r = refused_mount(tmp_path / "mnt", "-o", f"redact={rules}", container.name)
    assert r.returncode == 1 and r.stderr == f"seshfs: {rules}{message}\n", r.stderr
