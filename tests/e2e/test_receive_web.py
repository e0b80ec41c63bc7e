"""`audit receive` as a user runs it (offline: --zone-dir): the CLI's bad input, the whole
new -> send -> wait -> list -> show -> purge flow, and the web view in headless Chromium
(list, a waiting test, one report; a hostile Subject stays text)."""

from __future__ import annotations

import json
import smtplib
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ZONES
from tests.e2e.test_cli import one_line_error
from tests.e2e.test_html_chromium import HOSTILE, _chromium
from tests.infra.receive_inbox import Inbox, findings, outcome
from tests.integration.test_receive import HELO, SENDER, signed_message
from tests.json_output import report_of


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    server = Inbox.start(tmp_path_factory.mktemp("inbox"), "--zone-dir", ZONES)
    try:
        yield server
    finally:
        server.stop()


def _send(inbox: Inbox, address: str, subject: str = "Your receipt") -> None:
    with smtplib.SMTP(inbox.host, inbox.port, local_hostname=HELO, timeout=30) as client:
        client.sendmail(f"bounce@{SENDER}", [address], signed_message(address, subject))


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, inbox: Inbox) -> None:
    state = str(tmp_path / "s.sqlite3")
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    cases = [
        (["serve", "--domain", "inbox.test", "--tls-cert", str(cert), "--state", state],
         "give both --tls-cert and --tls-key"),
        (["serve", "--domain", "inbox.test", "--listen", "nowhere", "--state", state],
         "--listen 'nowhere' is not HOST:PORT"),
        (["serve", "--domain", "not a domain", "--state", state], "--domain"),
        (["serve", "--domain", "inbox.test", "--listen", f"127.0.0.1:{inbox.port}", "--no-web",
          "--state", state, "--zone-dir", str(ZONES)], "cannot listen"),
        (["new", "--state", str(tmp_path / "fresh.sqlite3")], "give --domain"),
        (["wait", "t-abc", "--state", str(tmp_path / "none.sqlite3")], "no inbox state"),
        (["wait", "t-nosuchtest", "--state", str(inbox.state)], "unknown test 't-nosuchtest'"),
        (["show", "not a token", "--state", str(inbox.state)], "is not a test token"),
        (["purge", "--older-than", "soon", "--state", str(inbox.state)], "not a duration"),
    ]  # fmt: skip
    for args, says in cases:
        assert says in one_line_error(audit("receive", *args)), args


def test_new_send_wait_list_show_purge(tmp_path: Path, inbox: Inbox) -> None:
    address = inbox.new()
    token = address.split("@")[0]
    assert address.endswith("@inbox.test")
    listed = inbox.cli("list")
    assert f"{address}  " in listed.stdout and "  waiting  0 messages" in listed.stdout
    assert inbox.cli("show", token).returncode == 3
    _send(inbox, address)
    proc = inbox.cli("wait", address, "--timeout", "60", "--format", "json")
    assert proc.returncode == 0, proc.stderr  # SPF, DKIM, DMARC pass; RCV303 is info
    report = report_of(proc.stdout)
    assert report["kind"] == "message" and report["target"] == address
    assert ("RCV303", address) in findings(report)
    assert outcome(report, "receive")["facts"]["tls"]["offered"] is False
    shown = inbox.cli("show", token, "--format", "markdown")
    assert shown.returncode == 0 and "RCV303" in shown.stdout
    assert f"{address}  " in inbox.cli("list").stdout
    assert "done  1 messages" in inbox.cli("list").stdout
    eml = tmp_path / "copy.eml"
    assert inbox.cli("show", token, "--raw", "--output", str(eml)).returncode == 0
    data = eml.read_bytes()
    assert data.startswith(
        f"Return-Path: <bounce@{SENDER}>\r\nReceived: from {HELO} ([127.0.0.1])\r\n"
        "\tby inbox.test (audit receive) with ESMTP\r\n".encode()
    )
    # the copy replayed by `audit message`: our Authentication-Results are the receiver's,
    # and the replay (envelope read back from our Received) agrees with them
    replay = audit("message", str(eml), "--zone-dir", str(ZONES), "--receiver-domain",
                   "inbox.test", "--format", "json")  # fmt: skip
    receiver = outcome(report_of(replay.stdout), "receiver")["facts"]["receiver"]
    assert [(c["method"], c["receiver"], c["agree"]) for c in receiver["comparison"]] == [
        ("spf", "pass", True), ("dkim", "pass", True), ("dmarc", "pass", True),
    ]  # fmt: skip
    purged = inbox.cli("purge", "--older-than", "1d")
    assert purged.stdout.strip() == "purged 0 tests"
    assert inbox.cli("show", token).returncode == 0


# ---------------------------------------------------------------------------- web view


def _dom(url: str, tmp_path: Path) -> str:
    proc = _chromium("--dump-dom", url, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_web_view_in_chromium(tmp_path: Path, inbox: Inbox) -> None:
    base = f"http://{inbox.host}:{inbox.web_port}"
    address = inbox.new()
    token = address.split("@")[0]
    waiting = _dom(f"{base}/t/{token}", tmp_path)
    assert "waiting for a message to" in waiting and address in waiting
    assert 'http-equiv="refresh"' in waiting  # live: reloads itself while waiting
    with urllib.request.urlopen(f"{base}/t/{token}.json", timeout=10) as response:
        assert json.loads(response.read())["status"] == "waiting"
        assert response.headers["Referrer-Policy"] == "no-referrer"

    _send(inbox, address, subject=HOSTILE)
    assert inbox.cli("wait", token, "--timeout", "60").returncode == 0

    listing = _dom(f"{base}/", tmp_path)
    body = listing.split("<body", 1)[1]
    assert f'href="/t/{token}"' in body and address in body
    assert "<img" not in body and "<script" not in body
    assert "&lt;script&gt;document.title" in body  # the Subject, shown as text

    report = _dom(f"{base}/t/{token}", tmp_path)
    title = report.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.startswith(f"audit: {address}")  # nothing ran and rewrote it
    page = report.split("<body", 1)[1]
    assert "<img" not in page and "<script" not in page
    assert "RCV303" in page and "SMTP session: peer address" in page
    assert "&lt;script&gt;document.title" in page

    with urllib.request.urlopen(f"{base}/t/{token}.json", timeout=10) as response:
        info = json.loads(response.read())
    assert info["status"] == "done" and info["exit_code"] == 0
    assert info["messages"][0]["report"]["target"] == address
    for path in ("/t/t-nosuchtoken", "/t/t-nosuchtoken.json", "/t/..%2f..%2fetc", "/other"):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{base}{path}", timeout=10)
        assert error.value.code == 404


def test_web_view_off_loopback_lists_no_token(tmp_path: Path) -> None:
    """Bound to a non-loopback address the list page shows counts, never a token."""
    from audit.model import Severity
    from audit.receive.store import InboxStore
    from audit.receive.web import InboxWeb

    state = tmp_path / "inbox.sqlite3"
    with InboxStore(state) as store:
        store.add_test("t-secret", "inbox.test")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: just picks the outward address
        outward = probe.getsockname()[0]
    finally:
        probe.close()
    if outward.startswith("127."):
        pytest.skip("no non-loopback address on this machine")
    from audit.cli_receive import _render_html

    web = InboxWeb(outward, 0, state, Severity.HIGH, _render_html)
    assert not web.list_tokens
    page = web.list_page()
    web.server.server_close()
    web.store.close()
    assert "t-secret" not in page and "1 tests" in page
