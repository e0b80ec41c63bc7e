"""`audit receive serve` on loopback, as a subprocess (the real CLI), auditing through Knot.

Mail comes from smtplib in clear and with STARTTLS, from a relay Postfix (so the TLS, the
Received header and the envelope are a real MTA's), and from raw sockets that misbehave: a
client that drops mid-DATA, garbage after DATA, 1,000 RCPTs, a 30 MB message. Reports are read
back with `audit receive wait` (its exit code too).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest

from tests.conftest import FIXTURES
from tests.infra.certs import TestCA
from tests.infra.netutil import IPV4_LOOPBACK
from tests.infra.receive_inbox import Inbox, findings, outcome
from tests.infra.servers import ServerError
from tests.integration.conftest import _require_postfix

KEY = (FIXTURES / "keys" / "msg-dkim.test.s2048.pem").read_bytes()
SENDER = "inbox-sender.test"
HELO = "client.inbox-sender.test"


def signed_message(to: str, subject: str = "Your receipt", extra: bytes = b"") -> bytes:
    """A message from inbox-sender.test signed d=inbox-sender.test (SPF/DKIM/DMARC pass)."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    msg = (
        extra
        + (
            f"From: Shop <orders@{SENDER}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: <{time.time_ns()}@{SENDER}>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Thank you for your order.\r\n"
        ).encode()
    )
    return dkim.sign(msg, b"s2048", SENDER.encode(), KEY) + msg


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("inbox-tls")
    return TestCA().issue("inbox.test", "127.0.0.1").write(directory, "inbox")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory, knot_server, tls_files) -> Iterator[Inbox]:
    """An inbox offering STARTTLS, auditing through Knot."""
    cert, key = tls_files
    server = Inbox.start(
        tmp_path_factory.mktemp("inbox"),
        "--tls-cert", cert, "--tls-key", key, "--dns-server", knot_server.address,
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


def _send(inbox: Inbox, to: str, message: bytes, *, starttls: bool = False) -> None:
    with smtplib.SMTP(inbox.host, inbox.port, local_hostname=HELO, timeout=30) as client:
        if starttls:
            client.starttls(context=ssl._create_unverified_context())
        client.sendmail(f"bounce@{SENDER}", [to], message)


def _dialogue(sock: socket.socket, line: bytes) -> bytes:
    sock.sendall(line)
    return _reply(sock)


def _reply(sock: socket.socket) -> bytes:
    data = b""
    while True:
        data += sock.recv(65536)
        lines = data.split(b"\r\n")
        if len(lines) > 1 and lines[-2][3:4] == b" ":
            return data


def _connect(inbox: Inbox) -> socket.socket:
    sock = socket.create_connection((inbox.host, inbox.port), timeout=30)
    assert _reply(sock).startswith(b"220")
    assert _dialogue(sock, f"EHLO {HELO}\r\n".encode()).startswith(b"250")
    return sock


# ---------------------------------------------------------------------------- smtplib senders


def test_clear_text_sender_is_rcv301_with_the_true_envelope(inbox: Inbox) -> None:
    address = inbox.new()
    _send(inbox, address, signed_message(address))
    code, (report,) = inbox.wait_report(address)
    assert code == 0  # RCV301 and the bulk rules are medium: under the default --fail-on high
    got = findings(report)
    assert ("RCV301", address) in got
    assert not [f for f in got if f[0] in ("RCV302", "RCV303", "SPF301", "DKIM301", "DMARC301")]
    facts = outcome(report, "receive")["facts"]
    assert facts["envelope"]["peer"].startswith("127.0.0.1:")
    assert facts["envelope"]["helo"] == HELO and facts["envelope"]["greeting"] == "EHLO"
    assert facts["envelope"]["mail_from"] == f"bounce@{SENDER}"
    assert facts["envelope"]["rcpt_to"] == [address]
    assert facts["tls"] == {"offered": True, "used": False, "version": None, "cipher": None,
                            "bits": None}  # fmt: skip
    spf = outcome(report, "spf")["facts"]["spf"]
    assert spf["result"] == "pass"
    envelope = outcome(report, "headers")["facts"]["headers"]["envelope"]
    assert envelope["ip"] == {"value": "127.0.0.1", "source": "SMTP session: peer address"}
    assert envelope["mail_from"]["source"] == "SMTP session: MAIL FROM"
    assert outcome(report, "dmarc")["facts"]["dmarc"]["result"] == "pass"
    strict = inbox.cli("wait", address, "--fail-on", "medium", "--format", "json")
    assert strict.returncode == 1


def test_starttls_sender_has_tls_facts_and_our_received(inbox: Inbox) -> None:
    address = inbox.new()
    _send(inbox, address, signed_message(address), starttls=True)
    code, (report,) = inbox.wait_report(address)
    assert code == 0
    assert "RCV301" not in {rule for rule, _ in findings(report)}
    tls = outcome(report, "receive")["facts"]["tls"]
    assert tls["used"] is True and tls["version"] in ("TLSv1.2", "TLSv1.3") and tls["cipher"]
    top = outcome(report, "headers")["facts"]["headers"]["hops"][0]
    assert top["from_ip"] == "127.0.0.1" and top["from_helo"] == HELO and top["by"] == "inbox.test"
    assert f"with ESMTPS (using {tls['version']} with cipher {tls['cipher']}" in top["raw"]
    assert f"for <{address}>" in top["raw"]
    assert outcome(report, "dkim")["facts"]["dkim"][0]["result"] == "pass"


def test_forged_return_path_and_received_are_rcv302(inbox: Inbox) -> None:
    address = inbox.new()
    extra = (
        b"Return-Path: <bounce@elsewhere.test>\r\n"
        b"Received: from [10.0.0.5] by mta.elsewhere.test with ESMTP id 1;"
        b" Fri, 04 Dec 2026 10:00:00 +0000\r\n"
    )
    _send(inbox, address, signed_message(address, extra=extra), starttls=True)
    _code, (report,) = inbox.wait_report(address)
    rcv302 = [f for f in outcome(report, "receive")["findings"] if f["rule_id"] == "RCV302"]
    messages = sorted(f["message"] for f in rcv302)
    assert messages == [
        f"the message carries Return-Path <bounce@elsewhere.test> but MAIL FROM was "
        f"<bounce@{SENDER}>",
        f"the topmost Received header was written by 'mta.elsewhere.test' but the host that "
        f"delivered greeted as '{HELO}' from 127.0.0.1",
    ]
    assert all(f["target"] == address for f in rcv302)
    # the audit used the true envelope, not the forged Return-Path
    assert outcome(report, "spf")["facts"]["spf"]["result"] == "pass"


# ---------------------------------------------------------------------------- a real MTA


@pytest.fixture(scope="module")
def relay(inbox: Inbox) -> Iterator[int]:
    """A Postfix on loopback relaying everything to the inbox (relayhost, TLS when offered)."""
    from tests.infra.postfix_tls import PostfixTls, SmtpdService

    _require_postfix()
    run_dir = tempfile.mkdtemp(prefix="audit-postfix-relay-")
    os.chmod(run_dir, 0o755)
    try:
        postfix = PostfixTls.start(
            run_dir,
            [SmtpdService("submit", tls=False)],
            owner_pid=os.getpid(),
            main_extra={
                "myhostname": f"relay.{SENDER}",
                "mydomain": SENDER,
                "relayhost": f"[{IPV4_LOOPBACK}]:{inbox.port}",
                "default_transport": "smtp",
                "smtp_tls_security_level": "may",
                "smtp_tls_loglevel": "1",
            },
            master_extra="smtp      unix  -       -       n       -       -       smtp\n"
            "relay     unix  -       -       n       -       -       smtp\n",
        )
    except ServerError as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield postfix.ports["submit"]
    finally:
        postfix.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def test_postfix_relay_delivers_with_tls_and_a_true_envelope(inbox: Inbox, relay: int) -> None:
    address = inbox.new()
    with smtplib.SMTP(IPV4_LOOPBACK, relay, local_hostname=HELO, timeout=30) as client:
        client.sendmail(f"bounce@{SENDER}", [address], signed_message(address))
    code, (report,) = inbox.wait_report(address, timeout=90)
    facts = outcome(report, "receive")["facts"]
    assert facts["envelope"]["helo"] == f"relay.{SENDER}"  # Postfix's own name, not the client's
    assert facts["envelope"]["mail_from"] == f"bounce@{SENDER}"
    assert facts["tls"]["used"] is True and facts["tls"]["version"].startswith("TLSv1.")
    rules = {rule for rule, _ in findings(report)}
    assert not rules & {"RCV301", "RCV302", "SPF301", "DKIM301", "DMARC301"}
    hops = outcome(report, "headers")["facts"]["headers"]["hops"]
    assert hops[0]["by"] == "inbox.test" and hops[0]["from_helo"] == f"relay.{SENDER}"
    assert hops[1]["by"] == f"relay.{SENDER}" and "(Postfix)" in hops[1]["raw"]
    assert outcome(report, "dkim")["facts"]["dkim"][0]["result"] == "pass"
    assert code == 0


# ---------------------------------------------------------------------------- misbehaving clients


def test_client_dropping_mid_data_stores_nothing_and_the_listener_goes_on(inbox: Inbox) -> None:
    address = inbox.new()
    sock = _connect(inbox)
    assert _dialogue(sock, f"MAIL FROM:<bounce@{SENDER}>\r\n".encode()).startswith(b"250")
    assert _dialogue(sock, f"RCPT TO:<{address}>\r\n".encode()).startswith(b"250")
    assert _dialogue(sock, b"DATA\r\n").startswith(b"354")
    sock.sendall(b"From: a@inbox-sender.test\r\nSubject: half\r\n\r\nhalf a mess")
    sock.close()
    proc = inbox.cli("wait", address, "--timeout", "2")
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.strip() == f"audit: no message to {address.split('@')[0]} has arrived " \
                                  "within 2s (inconclusive)"  # fmt: skip
    _send(inbox, address, signed_message(address), starttls=True)  # still serving
    code, reports = inbox.wait_report(address)
    assert len(reports) == 1 and code == 0


def test_garbage_after_data_is_stored_as_msg001(inbox: Inbox) -> None:
    address = inbox.new()
    sock = _connect(inbox)
    for line in (f"MAIL FROM:<bounce@{SENDER}>", f"RCPT TO:<{address}>"):
        assert _dialogue(sock, f"{line}\r\n".encode()).startswith(b"250")
    assert _dialogue(sock, b"DATA\r\n").startswith(b"354")
    reply = _dialogue(sock, b"\x00\xff\xfe junk \x01\x02\r\nno header here\r\n.\r\n")
    assert reply.startswith(b"250 2.0.0 OK queued as ")
    assert _dialogue(sock, b"\xff\xfe GARBAGE COMMAND\r\n")[:3] in (b"500", b"502")
    assert _dialogue(sock, b"QUIT\r\n").startswith(b"221")
    sock.close()
    code, (report,) = inbox.wait_report(address)
    assert code == 1
    assert ("MSG001", address) in findings(report)


def test_recipients_are_capped_and_checked(inbox: Inbox) -> None:
    address = inbox.new()
    sock = _connect(inbox)
    assert _dialogue(sock, f"MAIL FROM:<bounce@{SENDER}>\r\n".encode()).startswith(b"250")
    assert _dialogue(sock, b"RCPT TO:<someone@elsewhere.test>\r\n").startswith(b"550 5.7.1")
    assert _dialogue(sock, b"RCPT TO:<t-notissued@inbox.test>\r\n").startswith(b"550 5.1.1")
    # 1,000 RCPTs, pipelined in batches: the first 100 are taken, the rest get 452
    replies = b""
    for start in range(0, 1000, 100):
        sock.sendall(f"RCPT TO:<{address}>\r\n".encode() * 100)
        while replies.count(b"\r\n") < start + 100:
            replies += sock.recv(65536)
    codes = [line[:9] for line in replies.split(b"\r\n") if line]
    assert codes[:100] == [b"250 2.1.5"] * 100 and codes[100:] == [b"452 4.5.3"] * 900
    assert _dialogue(sock, b"DATA\r\n").startswith(b"354")
    message = signed_message(address).replace(b"\r\n.", b"\r\n..")
    assert _dialogue(sock, message + b".\r\n").startswith(b"250")
    sock.close()
    code, reports = inbox.wait_report(address)
    assert len(reports) == 1  # one message, however many times the address was given
    assert outcome(reports[0], "receive")["facts"]["envelope"]["rcpt_to"] == [address] * 100


def test_30_mb_message_is_refused_with_552_and_recorded(inbox: Inbox) -> None:
    address = inbox.new()
    sock = _connect(inbox)
    size = 30 * 1024 * 1024
    reply = _dialogue(sock, f"MAIL FROM:<bounce@{SENDER}> SIZE={size}\r\n".encode())
    assert reply.startswith(b"552")  # declared too big: refused before any data
    assert _dialogue(sock, f"MAIL FROM:<bounce@{SENDER}>\r\n".encode()).startswith(b"250")
    assert _dialogue(sock, f"RCPT TO:<{address}>\r\n".encode()).startswith(b"250")
    assert _dialogue(sock, b"DATA\r\n").startswith(b"354")
    sock.sendall(b"From: a@inbox-sender.test\r\nSubject: big\r\n\r\n")
    line = b"x" * 998 + b"\r\n"
    chunk = line * 1024
    for _ in range(size // len(chunk) + 1):
        sock.sendall(chunk)
    reply = _dialogue(sock, b".\r\n")
    assert reply.startswith(b"552 5.3.4 Message too big for system (limit 26214400 bytes)")
    assert _dialogue(sock, b"QUIT\r\n").startswith(b"221")
    sock.close()
    code, (report,) = inbox.wait_report(address)
    assert code == 1
    assert findings(report) == [("RCV201", address)]
    assert inbox.process.poll() is None


def test_session_cap_idle_timeout_and_accept_any(tmp_path: Path, knot_server) -> None:
    small = Inbox.start(
        tmp_path, "--max-sessions", "2", "--session-timeout", "1", "--accept-any",
        "--dns-server", knot_server.address,
    )  # fmt: skip
    try:
        held = [_connect(small), _connect(small)]
        third = socket.create_connection((small.host, small.port), timeout=10)
        assert third.recv(200).startswith(b"421 4.7.0")
        third.close()
        time.sleep(1.5)  # both held sessions idle past --session-timeout: closed by the server
        for sock in held:
            assert sock.recv(200) == b""
            sock.close()
        fourth = _connect(small)  # the slots are free again
        # --accept-any: any local part of --domain becomes a test; other domains still refused
        assert _dialogue(fourth, f"MAIL FROM:<bounce@{SENDER}>\r\n".encode()).startswith(b"250")
        assert _dialogue(fourth, b"RCPT TO:<Anything.Here@inbox.test>\r\n").startswith(b"250")
        assert _dialogue(fourth, b"RCPT TO:<x@other.test>\r\n").startswith(b"550 5.7.1")
        fourth.close()
        listed = small.cli("list").stdout
        assert "anything.here@inbox.test" in listed
    finally:
        small.stop()


def test_messages_not_yet_audited_survive_a_restart(tmp_path: Path, knot_server, drop_proxy):
    """Stopped while audits wait for a DNS server that never answers: the message in flight
    is stored as inconclusive, the one still queued is audited at the next start."""
    slow = Inbox.start(
        tmp_path, "--workers", "1", "--dns-server", drop_proxy.address, "--timeout", "1"
    )
    first, second = slow.new(), slow.new()
    try:
        _send(slow, first, signed_message(first))
        _send(slow, second, signed_message(second))
    finally:
        slow.stop()
    assert slow.process.returncode == 0
    pending = slow.cli("show", second.split("@")[0])
    assert pending.returncode == 3 and "auditing" in pending.stderr
    again = Inbox.start(tmp_path, "--dns-server", knot_server.address)
    try:
        code, (report,) = again.wait_report(second)
        assert code == 0 and outcome(report, "spf")["facts"]["spf"]["result"] == "pass"
        code, (report,) = again.wait_report(first)
        assert code == 3  # audited while DNS did not answer: inconclusive, not lost
    finally:
        again.stop()


# ---------------------------------------------------------------------------- load


def _json(inbox: Inbox, token: str) -> dict:
    import json
    import urllib.request

    url = f"http://{inbox.host}:{inbox.web_port}/t/{token}.json"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_200_messages_over_10_connections_are_all_audited_in_bounded_memory(
    tmp_path: Path, knot_server
) -> None:
    """Two rounds of 10 concurrent connections sending 10 messages of ~256 KiB each (50 MiB in
    all): none is lost, and the listener keeps none of them in memory: the second round, once
    audited, leaves its RSS where the first left it (within a margin far below the 25 MiB it
    was sent)."""
    from concurrent.futures import ThreadPoolExecutor

    loaded = Inbox.start(tmp_path, "--dns-server", knot_server.address)
    try:
        addresses = [loaded.new() for _ in range(10)]
        filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n" * 4500).encode()

        def connection(address: str, first: int) -> int:
            with smtplib.SMTP(loaded.host, loaded.port, local_hostname=HELO, timeout=60) as c:
                for i in range(first, first + 10):
                    body = signed_message(address, subject=f"load {i}")
                    c.sendmail(f"bounce@{SENDER}", [address], body + filler)
            return 10

        rss = []
        for first in (0, 10):
            with ThreadPoolExecutor(10) as pool:
                sent = pool.map(connection, addresses, [first] * 10)
                assert sum(sent) == 100
            for address in addresses:
                _wait_done(loaded, address.split("@")[0], first + 10)
            rss.append(loaded.rss_kib())
        for address in addresses:
            info = _json(loaded, address.split("@")[0])
            assert {m["status"] for m in info["messages"]} == {"audited"}
            subjects = [
                outcome(m["report"], "headers")["facts"]["headers"]["subject"]
                for m in info["messages"]
            ]
            assert sorted(subjects) == sorted(f"load {i}" for i in range(20))
        grown_mib = (rss[1] - rss[0]) / 1024
        assert grown_mib < 12, f"RSS {rss} KiB: the second 100 messages added {grown_mib:.1f} MiB"
    finally:
        loaded.stop()


def _wait_done(inbox: Inbox, token: str, count: int, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        info = _json(inbox, token)
        if info["status"] == "done" and len(info["messages"]) == count:
            return info
        assert time.monotonic() < deadline, (info["status"], len(info["messages"]))
        time.sleep(0.5)
