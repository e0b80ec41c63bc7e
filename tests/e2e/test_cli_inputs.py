"""Issue 10 items 5-6 as a user meets them: bad input is exit 2 and one line naming what is
wrong; a protocol value a receiver must evaluate is evaluated, never refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ZONES
from tests.json_output import report_of

MESSAGE = (
    b"From: News <news@clean.test>\r\nTo: r@receiver.example\r\nSubject: Hello\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@clean.test>\r\n\r\nHello.\r\n"
)


def audit(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audit: error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("exa\u200bmple.com", "'example.com'"),  # before: the zero-width space vanished
        ("😀.clean.test", "IDNA 2008"),  # before: audited as xn--e28h.clean.test
        ("ｃｌｅａｎ.test", "'clean.test'"),
    ],
)
def test_domain_that_is_not_what_was_typed_is_refused(typed, says):
    line = one_line_error(audit("domain", typed, "--zone-dir", str(ZONES)))
    assert repr(typed) in line and says in line


def test_internationalized_name_that_is_what_was_typed_is_audited():
    proc = audit("domain", "bücher.test", "--zone-dir", str(ZONES), "--format", "json")
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert report_of(proc.stdout)["target"] == "xn--bcher-kva.test"


@pytest.mark.parametrize(
    ("server", "says"),
    [("[", "'['"), ("[::1", "closing"), ("127.0.0.1:", "port"), ("[::1]junk", ":PORT")],
)
def test_bad_dns_server_is_exit_2(server, says):
    line = one_line_error(audit("spf", "192.0.2.10", "a@clean.test", "--dns-server", server))
    assert says in line


@pytest.mark.parametrize(
    ("mail_from", "helo", "result"),
    [
        # RFC 7208 4.3: a domain that is not a valid FQDN gives "none" (suite: emptylabel)
        ("lyme.eater@A...clean.test", "mail.example.net", "none"),
        # null sender: the HELO identity; a bare name is evaluated, not refused (helo-not-fqdn)
        ("", "A2345678", "none"),
        ("<>", "OEMCOMPUTER", "none"),
        # no local part: postmaster is assumed (RFC 7208 4.3, suite: nolocalpart)
        ("@clean.test", "mail.example.net", "pass"),
        ("foo@[192.0.2.10]", "OEMCOMPUTER", "none"),  # a domain literal (suite: domain-literal)
    ],
)
def test_spf_evaluates_protocol_values(mail_from, helo, result):
    proc = audit("spf", "192.0.2.10", mail_from, "--helo", helo, "--zone-dir", str(ZONES))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split(":", 1)[0] == result, proc.stdout


def test_spf_refuses_what_no_smtp_client_can_send():
    line = one_line_error(
        audit("spf", "192.0.2.10", "a@clean.test\r\nRSET", "--zone-dir", str(ZONES))
    )
    assert "CR or LF" in line


def test_message_envelope_values_are_evaluated():
    proc = audit(
        "message", "-", "--ip", "192.0.2.10", "--helo", "OEMCOMPUTER", "--mail-from",
        "lyme.eater@A...clean.test", "--zone-dir", str(ZONES), "--format", "json",
        stdin=MESSAGE,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    spf = next(o for o in report_of(proc.stdout)["outcomes"] if o["check"] == "spf")
    assert spf["status"] == "completed"
    assert spf["facts"]["spf"]["result"] == "none"
