"""Message format checks (MSG001-MSG006): what fires on which message, and what must not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from audit.checks.message import headers
from audit.checks.message.verdicts import DkimVerdict
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, make_context
from audit.model import Severity
from audit.net.dns import Resolver, memory_backend
from tests.verdict_standins import StandInVerdicts

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RECEIVED = (
    "Received: from mail.sender.example (mail.sender.example [192.0.2.25]) by "
    "mx.receiver.example (Postfix) with ESMTPS id 4X; Tue, 24 Nov 2026 10:00:05 +0000\r\n"
)
GOOD = {
    "From": "News <news@sender.example>",
    "To": "user@receiver.example",
    "Subject": "November offers",
    "Date": "Tue, 24 Nov 2026 10:00:00 +0000",
    "Message-ID": "<20261124100000.4f2a9c@sender.example>",
}


def build(*, drop=(), extra=(), received=True, replace=None, body="Hello.\r\n") -> bytes:
    fields = dict(GOOD, **(replace or {}))
    lines = [RECEIVED] if received else []
    lines += [f"{k}: {v}\r\n" for k, v in fields.items() if k not in drop]
    lines += [f"{k}: {v}\r\n" for k, v in extra]
    return ("".join(lines) + "\r\n" + body).encode()


STAND_IN = StandInVerdicts()  # passed to make_context; families not set stay real


@pytest.fixture
def dkim():
    """Stand-in DKIM verdicts (none until set): dkim([("gmail.com", "pass")]) or
    dkim(RuntimeError("down"))."""

    def set_verdicts(specs):
        STAND_IN.set(
            "dkim",
            specs
            if isinstance(specs, Exception)
            else [
                DkimVerdict(i, result, "stub", domain=d, selector="s1", signed_headers=["from"])
                for i, (d, result) in enumerate(specs)
            ],
        )

    set_verdicts([])
    yield set_verdicts
    STAND_IN.clear()


def run(raw: bytes, now: datetime = NOW, **envelope):
    ctx = make_context(
        RawMessage("m.eml", raw),
        Resolver(memory_backend({})),
        envelope=EnvelopeOptions(**envelope),
        now=now,
        verdicts=STAND_IN.providers(),
    )
    return asyncio.run(headers.check(ctx))


def fired(result) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in result.findings:
        out.setdefault(f.rule.id, []).append(f)
    return out


# ----------------------------------------------------------------------------- clean


def test_clean_message_has_no_findings_and_full_facts(dkim):
    result = run(build())
    assert result.findings == []
    facts = result.facts["headers"]
    assert facts["from"] == "News <news@sender.example>"
    assert facts["to"] == "user@receiver.example"
    assert facts["subject"] == "November offers"
    assert facts["message_id"] == "<20261124100000.4f2a9c@sender.example>"
    assert facts["counts"]["subject"] == 1 and facts["counts"]["bcc"] == 0
    assert facts["envelope"]["ip"] == {
        "value": "192.0.2.25",
        "source": facts["envelope"]["ip"]["source"],
    }
    assert facts["envelope"]["ip"]["source"].startswith("Received[0]:")
    assert facts["envelope"]["mail_from"]["value"] is None
    assert facts["hops"][0]["from_ip"] == "192.0.2.25"
    assert facts["from_addresses"] == [
        {"name": "News", "address": "news@sender.example", "valid": True}
    ]
    assert facts["date_check"]["reference_source"] == "Received[0]"


def test_encoded_subject_is_decoded_in_facts(dkim):
    result = run(build(replace={"Subject": "=?utf-8?q?caf=C3=A9_offers?="}))
    assert result.facts["headers"]["subject"] == "café offers"


# ----------------------------------------------------------------------------- MSG001


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "empty"),
        (b"   \r\n\r\n", "empty"),
        (b"\r\nFrom: a@sender.example\r\n\r\nbody", "blank line"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (b"Hello Bob,\r\nhow are you?\r\n", "not a header field"),
        (b" folded: first line\r\nFrom: a@sender.example\r\n\r\n", "not a header field"),
    ],
)
def test_msg001_no_header_section_is_the_only_finding(dkim, raw, words):
    result = run(raw)
    assert [(f.rule.id, f.target) for f in result.findings] == [("MSG001", "m.eml")]
    assert words in result.findings[0].message
    assert result.findings[0].effective_severity is Severity.HIGH


def test_msg001_junk_line_inside_the_header_section(dkim):
    raw = build().replace(b"Subject:", b"this is not a header\r\nSubject:")
    found = fired(run(raw))
    [finding] = found["MSG001"]
    assert "line 4 of the header section is not a header field" in finding.message
    assert "read the 3 header field(s) after it as body" in finding.message
    assert finding.evidence == ["this is not a header"]
    assert finding.effective_severity is Severity.MEDIUM
    # the parser lost Date and Message-ID with the rest: those fire too
    assert "MSG003" in found and "MSG004" in found


def test_msg001_nul_bytes_in_headers(dkim):
    raw = build().replace(b"November", b"Nov\x00ember")
    [finding] = fired(run(raw))["MSG001"]
    assert "NUL" in finding.message and finding.effective_severity is Severity.HIGH


def test_msg001_control_characters(dkim):
    raw = build().replace(b"November", b"Nov\x1bember")
    [finding] = fired(run(raw))["MSG001"]
    assert "control characters" in finding.message
    assert finding.effective_severity is Severity.MEDIUM


def test_msg001_truncated_mid_header_line(dkim):
    raw = build()
    raw = raw[: raw.index(b"Message-ID:") + len(b"Message-ID: <2026")]
    found = fired(run(raw))
    [finding] = found["MSG001"]
    assert "truncated" in finding.message and finding.effective_severity is Severity.LOW
    assert "MSG004" in found  # "<2026" is not a msg-id


def test_headers_without_body_or_blank_line_are_fine(dkim):
    raw = build().split(b"\r\n\r\n")[0] + b"\r\n"
    assert run(raw).findings == []
    assert run(raw).facts["headers"]["structure"]["blank_line_after_headers"] is False


def test_body_junk_is_not_a_header_problem(dkim):
    assert (
        run(build(body="\x00\x01binary\xff body".encode("latin-1").decode("latin-1"))).findings
        == []
    )


def test_non_utf8_header_bytes_are_decoded_leniently(dkim):
    raw = (
        build()
        .replace(b"News <", b"J\xe9r\xf4me \xff <")
        .replace(b"November offers", "café".encode() + b" \xfe\xfe")
    )
    result = run(raw)
    assert result.findings == []
    facts = result.facts["headers"]
    assert facts["from"] == "J\ufffdr\ufffdme \ufffd <news@sender.example>"
    assert facts["subject"] == "café \ufffd\ufffd"
    assert facts["structure"]["utf8"] is False and facts["structure"]["eight_bit"] is True


# ----------------------------------------------------------------------------- MSG002


def test_msg002_missing_from(dkim):
    [finding] = fired(run(build(drop=("From",))))["MSG002"]
    assert finding.message.startswith("the message has no From header")
    assert finding.effective_severity is Severity.HIGH


def test_msg002_two_from_headers_is_msg002_not_msg005(dkim):
    found = fired(run(build(extra=[("From", "Other <other@attacker.example>")])))
    [finding] = found["MSG002"]
    assert "2 From headers" in finding.message
    assert finding.evidence == [
        "From: News <news@sender.example>",
        "From: Other <other@attacker.example>",
    ]
    assert "MSG005" not in found


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("bad@@sender.example", "From is malformed"),
        ("Doe, John <john@sender.example>", "From is malformed"),
        ("News <news@sender..example>", "is not a valid address"),
        ("News <news@localhost>", "is not a valid address"),
        ("News <>", "From is malformed"),
        ("Just A Name", "From is malformed"),
        ("", "From holds no address"),
        ("Team: a@sender.example, b@sender.example;", "group syntax"),
    ],
)
def test_msg002_invalid_from_values(dkim, value, words):
    [finding] = fired(run(build(replace={"From": value})))["MSG002"]
    assert words in finding.message


@pytest.mark.parametrize(
    "value",
    [
        "news@sender.example",
        '"Doe, John" <john@sender.example>',
        '"john doe"@sender.example',
        "=?utf-8?q?J=C3=A9r=C3=B4me?= <j@sender.example>",
        "news@clean.test",
        "news@sender.example (the newsletter)",
    ],
)
def test_msg002_valid_from_values(dkim, value):
    assert "MSG002" not in fired(run(build(replace={"From": value})))


def test_msg002_several_mailboxes_without_sender_is_high(dkim):
    raw = build(replace={"From": "a@sender.example, b@other.example"})
    [finding] = fired(run(raw))["MSG002"]
    assert "no Sender header" in finding.message
    assert finding.effective_severity is Severity.HIGH


def test_msg002_several_mailboxes_with_sender_is_medium(dkim):
    raw = build(
        replace={"From": "a@sender.example, b@other.example"},
        extra=[("Sender", "a@sender.example")],
    )
    [finding] = fired(run(raw))["MSG002"]
    assert "DMARC needs a single From domain" in finding.message
    assert finding.effective_severity is Severity.MEDIUM


# ----------------------------------------------------------------------------- MSG003


def test_msg003_missing_date(dkim):
    [finding] = fired(run(build(drop=("Date",))))["MSG003"]
    assert "no Date header" in finding.message
    assert finding.effective_severity is Severity.MEDIUM


@pytest.mark.parametrize("value", ["2026-11-24 10:00:00", "yesterday", "Tue, 31 Feb 2026 10:00"])
def test_msg003_unparseable_date(dkim, value):
    [finding] = fired(run(build(replace={"Date": value})))["MSG003"]
    assert "does not parse" in finding.message


def test_msg003_future_relative_to_receipt(dkim):
    raw = build(replace={"Date": "Thu, 26 Nov 2026 10:00:00 +0000"})
    [finding] = fired(run(raw))["MSG003"]
    assert finding.message.startswith("Date is 2.0 days after the time it was received")
    assert finding.effective_severity is Severity.MEDIUM


def test_msg003_future_relative_to_now_without_received(dkim):
    raw = build(received=False, replace={"Date": "Fri, 27 Nov 2026 12:00:00 +0000"})
    [finding] = fired(run(raw))["MSG003"]
    assert "3.0 days after now" in finding.message


def test_msg003_within_a_day_is_fine(dkim):
    raw = build(received=False, replace={"Date": "Wed, 25 Nov 2026 06:00:00 +0000"})
    assert "MSG003" not in fired(run(raw))


def test_msg003_date_long_before_receipt_is_low(dkim):
    raw = build(replace={"Date": "Mon, 05 Oct 2026 10:00:00 +0000"})
    [finding] = fired(run(raw))["MSG003"]
    assert "50 days before the time it was received" in finding.message
    assert finding.effective_severity is Severity.LOW


def test_msg003_old_saved_message_is_info(dkim):
    raw = build(received=False)
    [finding] = fired(run(raw, now=datetime(2027, 3, 1, tzinfo=UTC)))["MSG003"]
    assert "old" in finding.message and "--now" in finding.message
    assert finding.effective_severity is Severity.INFO


def test_msg003_unknown_zone_is_read_as_utc(dkim):
    raw = build(replace={"Date": "Tue, 24 Nov 2026 10:00:00 -0000"})
    assert "MSG003" not in fired(run(raw))


# ----------------------------------------------------------------------------- MSG004


def test_msg004_missing_message_id(dkim):
    [finding] = fired(run(build(drop=("Message-ID",))))["MSG004"]
    assert "no Message-ID" in finding.message
    assert finding.effective_severity is Severity.HIGH
    assert "@sender.example>" in finding.fix


@pytest.mark.parametrize(
    "value", ["4f2a9c1e-20261124", "<4f2a9c1e>", "<a@b@c>", "<a b@c.example>", "a@b.example"]
)
def test_msg004_malformed_message_id(dkim, value):
    [finding] = fired(run(build(replace={"Message-ID": value})))["MSG004"]
    assert "not of the form <left@right>" in finding.message
    assert finding.effective_severity is Severity.MEDIUM


@pytest.mark.parametrize(
    "value",
    [
        "<x@y>",
        " <20261124.abc+tag@mail.sender.example> ",
        "<abc@[192.0.2.1]>",
        '<"quoted left"@sender.example>',
        "<abc@sender.example> (generated)",
    ],
)
def test_msg004_valid_message_ids(dkim, value):
    assert headers.message_id_valid(value)
    assert "MSG004" not in fired(run(build(replace={"Message-ID": value})))


# ----------------------------------------------------------------------------- MSG005


def test_msg005_duplicate_subject_and_references(dkim):
    raw = build(
        extra=[
            ("Subject", "November offers"),
            ("References", "<a@sender.example>"),
            ("References", "<b@sender.example>"),
            ("Received", "from x by y; Tue, 24 Nov 2026 10:00:00 +0000"),  # not a singleton
        ]
    )
    result = run(raw)
    found = {f.message.split(" appears")[0]: f for f in fired(result)["MSG005"]}
    assert set(found) == {"Subject", "References"}
    assert found["Subject"].effective_severity is Severity.HIGH
    assert found["References"].effective_severity is Severity.MEDIUM
    assert found["Subject"].evidence == ["Subject: November offers"] * 2
    assert result.facts["headers"]["counts"]["subject"] == 2
    assert result.facts["headers"]["counts"]["references"] == 2


def test_msg005_message_id_duplicate_uses_its_usual_spelling(dkim):
    raw = build(extra=[("Message-Id", "<other@sender.example>")])
    [finding] = fired(run(raw))["MSG005"]
    assert finding.message.startswith("Message-ID appears 2 times")


# ----------------------------------------------------------------------------- MSG006


def test_msg006_gmail_from_without_gmail_signature(dkim):
    dkim([("esp.example", "pass")])
    raw = build(replace={"From": "Shop <myshop@gmail.com>"})
    result = run(raw)
    [finding] = fired(result)["MSG006"]
    assert finding.target == "gmail.com"
    assert "d=esp.example (pass)" in finding.message
    assert finding.effective_severity is Severity.HIGH
    assert result.facts["headers"]["provider"]["provider_signatures"] == []


def test_msg006_unsigned_yahoo_from(dkim):
    dkim([])
    [finding] = fired(run(build(replace={"From": "x@yahoo.com"})))["MSG006"]
    assert "no DKIM signature at all" in finding.message and finding.target == "yahoo.com"


@pytest.mark.parametrize("result", ["pass", "fail"])
def test_msg006_provider_signature_does_not_fire(dkim, result):
    dkim([("gmail.com", result)])
    assert "MSG006" not in fired(run(build(replace={"From": "someone@gmail.com"})))


def test_msg006_non_provider_domain_does_not_fire(dkim):
    dkim([])
    assert "MSG006" not in fired(run(build()))


def test_msg006_falls_back_to_reading_d_when_dkim_is_unavailable(dkim):
    dkim(RuntimeError("dkim family down"))
    signed = build(
        replace={"From": "me@outlook.com"},
        extra=[("DKIM-Signature", "v=1; a=rsa-sha256; d=outlook.com; s=s1; h=from; bh=x; b=y")],
    )
    result = run(signed)
    assert "MSG006" not in fired(result)
    assert result.facts["headers"]["provider"]["how"].startswith("read from the DKIM-Signature")
    unsigned = build(replace={"From": "me@outlook.com"})
    assert [f.target for f in fired(run(unsigned))["MSG006"]] == ["outlook.com"]

