"""`audit dmarc-reports --imap`: reports read from the rua mailbox of a real Dovecot on loopback
(tests/infra/dovecot_only.py), as reporters mail them (zip and gzip attachments), read-only."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient

from tests.conftest import ZONES
from tests.infra.dmarc_report_files import aggregate_xml, packaged
from tests.infra.dovecot_only import Dovecot, running_dovecot
from tests.json_output import report_of

pytestmark = pytest.mark.integration

USER = "dmarc@reports-own.test"
PASSWORD = "rua-Mailbox-pw-7"
DOMAIN = "reports-own.test"
OWN = {"ip": "203.0.113.25", "count": 60, "dkim": "pass", "spf": "pass",
       "auth_dkim": [(DOMAIN, "pass", "s1")], "auth_spf": [(DOMAIN, "pass")]}  # fmt: skip
SPOOF = {"ip": "198.18.7.9", "count": 4, "dkim": "fail", "spf": "fail",
         "auth_dkim": [], "auth_spf": [(DOMAIN, "fail")]}  # fmt: skip


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Dovecot]:
    with running_dovecot({USER: PASSWORD}) as server:
        ctx = ssl.create_default_context(cafile=server.ca_file)
        with IMAPClient(server.host, server.imaps_port, ssl_context=ctx, timeout=10) as client:
            client.login(USER, PASSWORD)
            for style, rows in (("google", [OWN, SPOOF]), ("microsoft", [OWN])):
                name, data = packaged(style, DOMAIN, aggregate_xml(style, DOMAIN, rows))
                client.append("INBOX", _report_mail(style, name, data))
            client.append("INBOX", b"From: a@b.test\r\nSubject: hello\r\n\r\nnot a report\r\n")
        yield server


def _report_mail(style: str, name: str, data: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "noreply-dmarc-support@google.com" if style == "google" else "dmarc@ms.test"
    msg["To"] = USER
    msg["Subject"] = f"Report domain: {DOMAIN} Submitter: {style} Report-ID: <{style}-1>"
    msg.set_content("This is an aggregate report.")
    kind = ("application", "zip") if name.endswith(".zip") else ("application", "gzip")
    msg.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=name)
    return msg.as_bytes()


def _run(url: str, server: Dovecot, password: str = PASSWORD) -> subprocess.CompletedProcess:
    env = dict(os.environ, AUDIT_IMAP_PASSWORD=password)
    return subprocess.run(
        [sys.executable, "-m", "audit", "dmarc-reports", "--imap", url, "--ca-file",
         server.ca_file, "--zone-dir", str(ZONES), "--format", "json"],  # fmt: skip
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("scheme", ["imaps", "imap"])
def test_reports_read_from_the_mailbox(mailbox: Dovecot, scheme: str) -> None:
    port = mailbox.imaps_port if scheme == "imaps" else mailbox.imap_port
    proc = _run(f"{scheme}://{USER}@127.0.0.1:{port}", mailbox)
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    report = report_of(proc.stdout)
    assert report["target"] == DOMAIN
    sources = {s["ip"]: s for o in report["outcomes"] if o["check"] == "sources"
               for s in o["facts"]["sources"]}  # fmt: skip
    assert sources["203.0.113.25"]["messages"] == 120  # both reports
    assert sources["203.0.113.25"]["reporters"] == {"google.com": 60, "outlook.com": 60}
    assert sources["198.18.7.9"]["category"] == "spoofing"
    refused = report["outcomes"][0]["facts"]["reports"]["refused"]
    assert [r["file"] for r in refused] == ["INBOX#3"]  # the plain message is not a report
    # read-only: nothing was marked seen
    ctx = ssl.create_default_context(cafile=mailbox.ca_file)
    with IMAPClient(mailbox.host, mailbox.imaps_port, ssl_context=ctx, timeout=10) as client:
        client.login(USER, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        assert client.search("SEEN") == []


def test_wrong_password_is_one_line(mailbox: Dovecot) -> None:
    proc = _run(f"imaps://{USER}@127.0.0.1:{mailbox.imaps_port}", mailbox, password="wrong-pw-x")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audit: error: 127.0.0.1:"), proc.stderr
    assert "wrong-pw-x" not in proc.stderr
