"""audit receive's pure parts: tokens, our trace headers, the RCV verdicts, the inbox store and
the worker's "a crashed audit is stored as an error" path."""

from __future__ import annotations

import asyncio
import email
import re
import time
from pathlib import Path

import pytest

from audit.message.envelope import parse_received
from audit.net.dns import StaticBackend, load_zone_dir
from audit.receive.envelope import TrueEnvelope, received_header, trace_headers
from audit.receive.store import AUDITED, ERROR, PENDING, InboxError, InboxStore
from audit.receive.tokens import PREFIX, new_token, token_of
from audit.receive.verdict import ReceiveContext, check, envelope_mismatches
from audit.receive.worker import AuditWorker
from tests.conftest import ZONES
from tests.unit.test_report_schema import VALIDATOR

TARGET = "t-abc@inbox.test"


def envelope(**changes) -> TrueEnvelope:
    values = dict(
        peer_ip="192.0.2.10", peer_port=40000, helo="mail.sender.example", esmtp=True,
        mail_from="bounce@sender.example", rcpt_tos=[TARGET],
        arrived="2026-12-04T10:00:00+00:00", tls_offered=True, tls_version="TLSv1.3",
        tls_cipher="TLS_AES_256_GCM_SHA384", tls_bits=256,
    )  # fmt: skip
    values.update(changes)
    return TrueEnvelope(**values)


# ---------------------------------------------------------------------------- tokens


def test_tokens_are_unguessable_lower_case_local_parts() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(re.fullmatch(rf"{PREFIX}[a-z2-7]{{26}}", t) for t in tokens)  # 130 bits


@pytest.mark.parametrize(
    "text", ["t-abc", "T-ABC", "t-abc@inbox.test", "<t-abc@Inbox.Test>", " t-abc "]
)
def test_token_of_accepts_token_or_address(text: str) -> None:
    assert token_of(text) == "t-abc"


@pytest.mark.parametrize("text", ["", "@inbox.test", "t abc", "../etc", "t-<script>"])
def test_token_of_refuses_what_cannot_be_a_token(text: str) -> None:
    with pytest.raises(ValueError):
        token_of(text)


# ---------------------------------------------------------------------------- trace headers


def test_our_received_header_parses_back_to_the_true_envelope() -> None:
    header = received_header(envelope(), "inbox.test", 7)
    hop = parse_received(0, header)
    assert (hop.from_ip, hop.from_helo, hop.by) == (
        "192.0.2.10",
        "mail.sender.example",
        "inbox.test",
    )
    assert "with ESMTPS (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits))" in hop.raw
    assert "id 7 for <t-abc@inbox.test>; Fri, 04 Dec 2026 10:00:00 +0000" in hop.raw


def test_received_header_in_clear_and_with_a_hostile_helo() -> None:
    hostile = envelope(helo="x (y) <script>", tls_version=None, esmtp=False, peer_ip="2001:db8::1")
    header = received_header(hostile, "inbox.test", 1)
    assert header.startswith('from unknown ([IPv6:2001:db8::1] helo="x??y???script?")')
    assert " with SMTP\r\n" in header and "using" not in header
    assert parse_received(0, header).from_ip == "2001:db8::1"
    two = envelope(rcpt_tos=["a@inbox.test", "b@inbox.test"])
    assert " for <" not in received_header(two, "inbox.test", 1)  # RFC 5321 7.2
    parsed = email.message_from_bytes(trace_headers(hostile, "inbox.test", 1) + b"\r\nbody")
    assert parsed["Return-Path"] == "<bounce@sender.example>" and len(parsed.keys()) == 2


# ---------------------------------------------------------------------------- RCV verdicts


def _rules(env: TrueEnvelope, sent: bytes = b"Subject: x\r\n\r\nbody\r\n") -> list[str]:
    result = asyncio.run(check(ReceiveContext(env, sent, TARGET)))
    assert all(f.target == TARGET for f in result.findings)
    return sorted(f.rule.id for f in result.findings)


def test_tls_verdicts() -> None:
    assert _rules(envelope()) == []  # offered and used
    assert _rules(envelope(tls_version=None)) == ["RCV301"]  # offered, not used
    assert _rules(envelope(tls_offered=False, tls_version=None)) == ["RCV303"]  # not tested


def test_return_path_other_than_mail_from_is_rcv302() -> None:
    sent = b"Return-Path: <Other@elsewhere.example>\r\nSubject: x\r\n\r\nbody\r\n"
    ((message, evidence),) = envelope_mismatches(envelope(), sent)
    assert message == (
        "the message carries Return-Path <Other@elsewhere.example> but MAIL FROM was "
        "<bounce@sender.example>"
    )
    assert evidence == [
        "Return-Path: <Other@elsewhere.example>",
        "MAIL FROM:<bounce@sender.example>",
    ]
    same = b"Return-Path: <BOUNCE@sender.example>\r\nSubject: x\r\n\r\nbody\r\n"
    assert envelope_mismatches(envelope(), same) == []  # near miss: only case differs


def test_received_by_other_than_helo_is_rcv302() -> None:
    def sent(by: str) -> bytes:
        return (
            f"Received: from client (client [10.1.1.1]) by {by} (Postfix) with ESMTP id 1;"
            " Fri, 04 Dec 2026 09:59:59 +0000\r\nSubject: x\r\n\r\nbody\r\n"
        ).encode()

    ((message, _evidence),) = envelope_mismatches(envelope(), sent("relay.other.example"))
    assert "written by 'relay.other.example'" in message and "'mail.sender.example'" in message
    assert envelope_mismatches(envelope(), sent("MAIL.sender.example.")) == []  # same host
    literal = envelope(helo="[192.0.2.10]")
    assert envelope_mismatches(literal, sent("192.0.2.10")) == []
    assert envelope_mismatches(envelope(), b"Subject: x\r\n\r\nbody\r\n") == []  # nothing to test
    assert _rules(envelope(), sent("relay.other.example")) == ["RCV302"]


# ---------------------------------------------------------------------------- the store


def test_store_links_messages_to_tests_and_purges(tmp_path: Path) -> None:
    with InboxStore(tmp_path / "inbox.sqlite3") as store:
        store.add_test("t-old", "inbox.test")
        store.add_test("t-new", "inbox.test")
        store._db.execute(
            "UPDATE tests SET created = '2020-01-01T00:00:00+00:00' WHERE token = 't-old'"
        )
        first = store.add_message(["t-old", "t-new", "t-old"], envelope().to_dict(), b"raw")
        second = store.add_message(["t-new"], envelope().to_dict(), b"raw2")
        assert store.pending() == [first, second] and store.pending(after=first) == [second]
        assert [m.id for m in store.messages("t-new")] == [first, second]
        assert store.raw(first)[1:] == (b"raw", ["t-new", "t-old"])
        with pytest.raises(InboxError):
            store.add_message(["t-unknown"], envelope().to_dict(), b"raw")
        assert store.purge("2025-01-01T00:00:00+00:00") == 1
        assert store.test("t-old") is None and store.test("t-new") is not None
        assert store.pending() == [first, second]  # still linked to t-new; pending kept
        assert store.purge() == 1 and store.tests() == []


def test_a_crashed_audit_is_stored_as_an_error_result(tmp_path: Path) -> None:
    state = tmp_path / "inbox.sqlite3"
    with InboxStore(state) as store:
        store.add_test("t-good", "inbox.test")
        store.add_test("t-broken", "inbox.test")
        good = store.add_message(
            ["t-good"], envelope().to_dict(), b"From: a@clean.test\r\nSubject: hi\r\n\r\nhello\r\n"
        )
        broken = store.add_message(["t-broken"], {"arrived": "2026-12-04T10:00:00+00:00"}, b"x")
    done: list[tuple[int, str]] = []
    worker = AuditWorker(
        state,
        "inbox.test",
        lambda: StaticBackend(load_zone_dir(ZONES)),
        on_done=lambda message_id, _t, status, _r: done.append((message_id, status)),
    )
    worker.start()
    worker.wake()
    deadline = time.monotonic() + 60
    while len(done) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    assert sorted(done) == [(good, AUDITED), (broken, ERROR)]
    with InboxStore(state) as store:
        (record,) = store.messages("t-broken")
        assert record.status == ERROR and record.report is not None
        (outcome,) = record.report.outcomes
        assert outcome.check == "receive" and outcome.status.value == "error"
        assert outcome.error.startswith("the audit failed: TypeError")
        (audited,) = store.messages("t-good")
        assert audited.status == AUDITED and store.pending_count() == 0
        assert {o.check for o in audited.report.outcomes} >= {"receive", "headers", "spf"}
        assert PENDING not in store.counts()
        for report in (record.report, audited.report):  # both fit the published JSON schema
            VALIDATOR.validate(report.to_dict())


# ---------------------------------------------------------------------------- the receive seed


def test_receive_seed_in_the_seed_list(tmp_path: Path) -> None:
    from audit.seed.config import SeedConfigError, parse_seeds, passwords_for

    (seed,) = parse_seeds(
        '[[seed]]\naddress = "t-abc@Inbox.test"\nreceive = "/tmp/inbox.sqlite3"\n', "s.toml"
    )
    assert (seed.receive, seed.authserv_id, seed.imap_host) == (
        "/tmp/inbox.sqlite3",
        "inbox.test",
        "",
    )
    assert passwords_for([seed], env={}) == {}  # no IMAP: no password variable needed
    (default,) = parse_seeds('[[seed]]\naddress = "t-abc@inbox.test"\nreceive = true\n')
    assert default.receive and default.receive.endswith("audit/receive.sqlite3")
    bad = {
        '[[seed]]\naddress = "t-abc@inbox.test"\nreceive = "x"\nimap = "imaps://h"\n':
            "s.toml:4: imap does not apply to a receive seed (no IMAP)",
        '[[seed]]\naddress = "not an address"\nreceive = "x"\n':
            "s.toml:2: address 'not an address' is not a test address",
        '[[seed]]\naddress = "t-abc@inbox.test"\nreceive = 3\n':
            "s.toml:3: receive must be the inbox state file (a path) or true",
    }  # fmt: skip
    for text, message in bad.items():
        with pytest.raises(SeedConfigError) as error:
            parse_seeds(text, "s.toml")
        assert str(error.value).startswith(message)


def test_inbox_copy_carries_our_authentication_results(tmp_path: Path) -> None:
    from audit.model import CheckOutcome, Report, Status
    from audit.receive.copy import delivered_copy
    from audit.receive.seed import find_copy
    from audit.receive.store import AUDITED

    state = tmp_path / "inbox.sqlite3"
    sent = b"X-Audit-Seed-Token: tok123\r\nFrom: a@x.test\r\nSubject: s\r\n\r\nbody\r\n"
    facts = {
        "spf": {"result": "pass", "identity": "mailfrom", "sender": "b@x.test; evil=1"},
        "dkim": [{"result": "fail", "domain": "x.test", "selector": "s1"}],
        "dmarc": {"result": "fail", "from_domain": "x.test"},
    }
    report = Report("message", TARGET, [CheckOutcome("spf", TARGET, Status.COMPLETED, facts)])
    with InboxStore(state) as store:
        store.add_test("t-abc", "inbox.test")
        message_id = store.add_message(["t-abc"], envelope().to_dict(), sent)
        assert find_copy(state, TARGET, "X-Audit-Seed-Token", "tok123") is None  # not audited
        store.finish_message(message_id, AUDITED, report)
    copy, arrived = find_copy(state, TARGET, "X-Audit-Seed-Token", "tok123")
    assert arrived == "2026-12-04T10:00:00+00:00"
    assert copy == delivered_copy(envelope(), sent, "inbox.test", message_id, report)
    parsed = email.message_from_bytes(copy)
    assert list(parsed.keys())[:3] == ["Return-Path", "Received", "Authentication-Results"]
    assert " ".join(parsed["Authentication-Results"].split()) == (
        "inbox.test; spf=pass smtp.mailfrom=b@x.testevil=1; dkim=fail header.d=x.test "
        "header.s=s1; dmarc=fail header.from=x.test"
    )
    assert find_copy(state, TARGET, "X-Audit-Seed-Token", "other") is None
    with pytest.raises(ValueError):
        find_copy(state, "t-unissued@inbox.test", "X-Audit-Seed-Token", "tok123")
