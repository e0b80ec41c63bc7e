"""`audit message` through a real DNS server gives the same verdicts as through --zone-dir."""

from __future__ import annotations

import subprocess
import sys

import dkim

from tests.conftest import FIXTURES, ZONES
from tests.json_output import report_of

KEY = (FIXTURES / "keys" / "msg-dkim.test.s2048.pem").read_bytes()


def signed(body: bytes) -> bytes:
    msg = (
        b"Return-Path: <bounce@msg-dkim.test>\r\n"
        b"Received: from out.msg-dkim.test (out.msg-dkim.test [192.0.2.20]) by mx.receiver.example"
        b" (Postfix) with ESMTPS id 1A2B; Tue, 24 Nov 2026 10:00:01 +0000\r\n"
        b"From: News <news@msg-dkim.test>\r\nTo: r@receiver.example\r\nSubject: Hello\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@msg-dkim.test>\r\n\r\n" + body
    )
    return dkim.sign(msg, b"s2048", b"msg-dkim.test", KEY) + msg


def verdicts(*args: str, message: bytes) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "audit", "message", "-", "--format", "json", *args],
        input=message,
        capture_output=True,
        timeout=60,
    )
    report = report_of(proc.stdout)
    facts = {o["check"]: o["facts"] for o in report["outcomes"]}
    summary = {
        "dkim": [(v["domain"], v["result"]) for v in facts["dkim"]["dkim"]],
        "spf": facts["spf"]["spf"]["result"],
        "dmarc": facts["dmarc"]["dmarc"]["result"],
        "findings": sorted(
            (f["rule_id"], f["target"]) for o in report["outcomes"] for f in o["findings"]
        ),
    }
    return proc.returncode, summary


def test_good_and_tampered_messages_agree_over_knot(knot_server):
    good = signed(b"Hello there.\r\n")
    tampered = good.replace(b"Hello there.", b"Hello THERE.")
    for message, dkim_result in ((good, "pass"), (tampered, "fail")):
        over_dns = verdicts("--dns-server", knot_server.address, message=message)
        offline = verdicts("--zone-dir", str(ZONES), message=message)
        assert over_dns == offline
        assert over_dns[1]["dkim"] == [("msg-dkim.test", dkim_result)]
        assert over_dns[1]["spf"] == "pass" and over_dns[1]["dmarc"] == "pass"
