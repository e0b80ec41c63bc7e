"""`audit message` as a user runs it: files, stdin, mbox, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dkim
import pytest

from tests.conftest import FIXTURES, ZONES
from tests.json_output import report_of, reports_of

KEY = (FIXTURES / "keys" / "msg-dkim.test.s2048.pem").read_bytes()


def signed_message(body: bytes = b"Hello there.\r\n") -> bytes:
    msg = (
        b"Return-Path: <bounce@msg-dkim.test>\r\n"
        b"Received: from out.msg-dkim.test (out.msg-dkim.test [192.0.2.20]) by mx.receiver.example"
        b" (Postfix) with ESMTPS id 1A2B for <r@receiver.example>; Tue, 24 Nov 2026 10:00:01 +0000"
        b"\r\nFrom: News <news@msg-dkim.test>\r\nTo: r@receiver.example\r\nSubject: Hello\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@msg-dkim.test>\r\n\r\n" + body
    )
    return dkim.sign(msg, b"s2048", b"msg-dkim.test", KEY) + msg


def audit(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], input=stdin, capture_output=True, timeout=60
    )


def findings(stdout: bytes) -> set[tuple[str, str]]:
    reports = reports_of(stdout)
    return {
        (f["rule_id"], f["target"]) for r in reports for o in r["outcomes"] for f in o["findings"]
    }


@pytest.fixture
def eml(tmp_path: Path) -> Path:
    path = tmp_path / "good.eml"
    path.write_bytes(signed_message())
    return path


def test_good_message_passes(eml):
    proc = audit("message", str(eml), "--zone-dir", str(ZONES), "--format", "json")
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    report = report_of(proc.stdout)
    assert report["kind"] == "message"
    dkim_facts = next(o for o in report["outcomes"] if o["check"] == "dkim")["facts"]["dkim"]
    assert [(v["domain"], v["result"]) for v in dkim_facts] == [("msg-dkim.test", "pass")]
    dmarc = next(o for o in report["outcomes"] if o["check"] == "dmarc")["facts"]["dmarc"]
    assert dmarc["result"] == "pass" and dmarc["dkim_aligned"] == ["msg-dkim.test"]


def test_tampered_body_fails_dkim_and_dmarc_from_stdin():
    raw = signed_message().replace(b"Hello there.", b"Hello THERE.")
    proc = audit("message", "-", "--zone-dir", str(ZONES), "--format", "json", stdin=raw)
    assert proc.returncode == 1
    found = findings(proc.stdout)
    assert ("DKIM302", "DKIM-Signature[0] d=msg-dkim.test s=s2048") in found
    assert ("DMARC301", "msg-dkim.test") not in found  # SPF still passes, aligned


def test_spf_and_dkim_failing_message_fails_dmarc(tmp_path):
    raw = signed_message().replace(b"Subject: Hello", b"Subject: Changed")
    path = tmp_path / "bad.eml"
    path.write_bytes(raw)
    proc = audit("message", str(path), "--zone-dir", str(ZONES), "--ip", "203.0.113.5",
                 "--format", "json")  # fmt: skip
    assert proc.returncode == 1
    assert {("DMARC301", "msg-dkim.test"), ("SPF301", "msg-dkim.test")} <= findings(proc.stdout)


def test_mbox_gives_one_report_per_message(tmp_path):
    box = tmp_path / "box.mbox"
    one = signed_message()
    box.write_bytes(
        b"From a@b Tue Nov 24 10:00:00 2026\n"
        + one
        + b"\nFrom a@b Tue Nov 24 10:00:00 2026\n"
        + one
    )
    proc = audit("message", str(box), "--zone-dir", str(ZONES), "--format", "json")
    reports = reports_of(proc.stdout)
    assert [r["target"] for r in reports] == [f"{box}#1", f"{box}#2"]


def test_garbage_is_a_finding_not_a_crash(tmp_path):
    junk = tmp_path / "junk.eml"
    junk.write_bytes(bytes(range(256)) * 40)
    proc = audit("message", str(junk), "--zone-dir", str(ZONES), "--format", "json")
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
    assert ("MSG001", str(junk)) in findings(proc.stdout)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["message", "/nonexistent.eml"], "does not exist"),
        (["message", "/tmp"], "is a directory"),
        (["message", "-", "--now", "yesterday"], "not an ISO 8601 time"),
        (["message", "-", "--ip", "999.1.1.1"], "not an IPv4 or IPv6 address"),
        (["message", "-", "--trusted-hops", "-1"], "-1"),
        (["message", "-", "--max-size", "0"], "0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, says):
    proc = audit(*args, "--zone-dir", str(ZONES), stdin=b"From: a@b.test\r\n\r\nx")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in lines[0]


def test_oversized_message_is_refused(tmp_path):
    big = tmp_path / "big.eml"
    big.write_bytes(b"From: a@b.test\r\n\r\n" + b"x" * (2 * 1024 * 1024))
    proc = audit("message", str(big), "--max-size", "1", "--zone-dir", str(ZONES))
    assert proc.returncode == 2
    assert b"over the 1 MiB limit" in proc.stderr
