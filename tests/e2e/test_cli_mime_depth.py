"""Issue 10 item 3: a message nested 2,000 MIME levels deep crashed `audit message` with a
RecursionError traceback. Now: MSG007 past 100 levels, every other check still runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ZONES
from tests.json_output import report_of

HEAD = (
    "From: News <news@clean.test>\r\nTo: r@receiver.example\r\nSubject: deep\r\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <deep@clean.test>\r\n"
    "MIME-Version: 1.0\r\n"
)


def nested(depth: int) -> bytes:
    """`depth` multipart/mixed parts, each holding the next, a text part innermost."""
    text = HEAD
    for level in range(depth):
        text += f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'
    text += "Content-Type: text/plain\r\n\r\nHello.\r\n"
    for level in reversed(range(depth)):
        text += f"--b{level}--\r\n"
    return text.encode()


def audit_json(path: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "audit", "message", str(path), "--zone-dir", str(ZONES),
         "--ip", "192.0.2.10", "--mail-from", "news@clean.test", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, report_of(proc.stdout)


def rule_hits(report: dict, rule_id: str) -> list[dict]:
    return [f for o in report["outcomes"] for f in o["findings"] if f["rule_id"] == rule_id]


@pytest.mark.parametrize("depth", [101, 2000])
def test_too_deep_is_msg007_and_the_audit_completes(tmp_path, depth):
    path = tmp_path / f"deep{depth}.eml"
    path.write_bytes(nested(depth))
    proc, report = audit_json(path)
    assert proc.returncode == 1  # MSG007 is high
    (hit,) = rule_hits(report, "MSG007")
    assert hit["target"] == str(path) and "100 levels" in hit["message"]
    outcomes = {o["check"]: o for o in report["outcomes"]}
    assert all(o["status"] != "error" for o in outcomes.values()), outcomes
    assert outcomes["headers"]["facts"]["headers"]["mime_depth"] == 101  # counting stops there
    assert outcomes["spf"]["facts"]["spf"]["result"] == "pass"  # the headers were still read


def test_100_levels_is_within_the_cap(tmp_path):
    path = tmp_path / "deep100.eml"
    path.write_bytes(nested(100))
    proc, report = audit_json(path)
    assert not rule_hits(report, "MSG007")
    headers = next(o for o in report["outcomes"] if o["check"] == "headers")
    assert headers["facts"]["headers"]["mime_depth"] == 100
