"""One-click unsubscribe (UNSUB301-UNSUB304), with the DKIM verdicts stubbed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from audit.checks.message import unsubscribe
from audit.checks.message.verdicts import DkimVerdict
from audit.message.load import RawMessage
from audit.message_audit import make_context
from audit.model import Status
from audit.net.dns import Resolver, memory_backend
from tests.verdict_standins import StandInVerdicts

HTTPS = "<https://sender.example/unsub?u=abc123>"
MAILTO = "<mailto:unsub@sender.example?subject=unsubscribe>"
ONE_CLICK = "List-Unsubscribe=One-Click"
BOTH = ["from", "list-unsubscribe", "list-unsubscribe-post"]


def build(*extra: tuple[str, str]) -> bytes:
    head = (
        "From: News <news@sender.example>\r\n"
        "To: user@receiver.example\r\n"
        "Subject: November offers\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <abc@sender.example>\r\n"
    )
    head += "".join(f"{k}: {v}\r\n" for k, v in extra)
    return (head + "\r\nHello.\r\n").encode()


STAND_IN = StandInVerdicts()  # passed to make_context; families not set stay real


@pytest.fixture
def dkim():
    """Stand-in DKIM verdicts (none until set): dkim([("sender.example", "pass", [signed
    headers])]) or dkim(RuntimeError())."""

    def set_verdicts(specs):
        STAND_IN.set(
            "dkim",
            specs
            if isinstance(specs, Exception)
            else [
                DkimVerdict(i, result, "stub", domain=d, selector="s1", signed_headers=list(h))
                for i, (d, result, h) in enumerate(specs)
            ],
        )

    set_verdicts([])
    yield set_verdicts
    STAND_IN.clear()


def run(raw: bytes):
    ctx = make_context(
        RawMessage("m.eml", raw),
        Resolver(memory_backend({})),
        now=datetime(2026, 11, 24, 12, tzinfo=UTC),
        verdicts=STAND_IN.providers(),
    )
    return asyncio.run(unsubscribe.check(ctx))


def ids(result) -> list[str]:
    return sorted(f.rule.id for f in result.findings)


def test_full_one_click_signed_by_a_passing_signature(dkim):
    dkim([("esp.example", "fail", BOTH), ("sender.example", "pass", BOTH)])
    result = run(
        build(("List-Unsubscribe", f"{HTTPS}, {MAILTO}"), ("List-Unsubscribe-Post", ONE_CLICK))
    )
    assert result.findings == [] and result.status is Status.COMPLETED
    facts = result.facts["unsubscribe"]
    assert facts["one_click"] is True
    assert facts["signed"] == "signed" and facts["signed_by"] == ["sender.example"]
    assert facts["https"] == ["https://sender.example/unsub?u=abc123"]
    assert facts["uris"][0]["host"] == "sender.example"
    assert facts["uris"][1] == {
        "uri": "mailto:unsub@sender.example?subject=unsubscribe",
        "scheme": "mailto",
        "address": "unsub@sender.example",
        "params": {"subject": "unsubscribe"},
    }


def test_unsub301_missing_is_the_only_finding(dkim):
    result = run(build())
    assert [(f.rule.id, f.target) for f in result.findings] == [("UNSUB301", "m.eml")]
    assert "transactional mail is exempt" in result.findings[0].message
    assert ONE_CLICK in result.findings[0].fix


def test_unsub304_mailto_only_replaces_unsub302(dkim):
    result = run(build(("List-Unsubscribe", MAILTO)))
    assert ids(result) == ["UNSUB304"]
    assert "mailto:unsub@sender.example?subject=unsubscribe" in result.findings[0].fix


def test_unsub302_https_without_post_header(dkim):
    [finding] = run(build(("List-Unsubscribe", HTTPS))).findings
    assert finding.rule.id == "UNSUB302"
    assert "there is no List-Unsubscribe-Post header" in finding.message


def test_unsub302_http_is_not_enough(dkim):
    dkim([("sender.example", "pass", BOTH)])
    raw = build(
        ("List-Unsubscribe", "<http://sender.example/unsub?u=1>"),
        ("List-Unsubscribe-Post", ONE_CLICK),
    )
    result = run(raw)
    assert ids(result) == ["UNSUB302"]
    assert "no https URI" in result.findings[0].message and "http is not enough" in (
        result.findings[0].message
    )


@pytest.mark.parametrize(
    ("posts", "words"),
    [
        (["List-Unsubscribe=Yes"], "not 'List-Unsubscribe=One-Click'"),
        (["list-unsubscribe=one-click"], "not 'List-Unsubscribe=One-Click'"),
        ([ONE_CLICK, ONE_CLICK], "appears 2 times"),
    ],
)
def test_unsub302_bad_post_header(dkim, posts, words):
    dkim([("sender.example", "pass", BOTH)])
    raw = build(("List-Unsubscribe", HTTPS), *[("List-Unsubscribe-Post", p) for p in posts])
    result = run(raw)
    assert ids(result) == ["UNSUB302"]
    assert words in result.findings[0].message


def test_unsub302_uris_without_angle_brackets(dkim):
    raw = build(
        ("List-Unsubscribe", "https://sender.example/unsub?u=1"),
        ("List-Unsubscribe-Post", ONE_CLICK),
    )
    result = run(raw)
    assert ids(result) == ["UNSUB302"]
    assert "no URI in angle brackets" in result.findings[0].message


def test_post_header_value_tolerates_surrounding_space(dkim):
    dkim([("sender.example", "pass", BOTH)])
    raw = build(("List-Unsubscribe", HTTPS), ("List-Unsubscribe-Post", f"  {ONE_CLICK}  "))
    assert run(raw).findings == []


def test_folded_uri_whitespace_is_ignored(dkim):
    dkim([("sender.example", "pass", BOTH)])
    raw = build(
        ("List-Unsubscribe", "<https://sender.example/unsub?\r\n u=abc123>"),
        ("List-Unsubscribe-Post", ONE_CLICK),
    )
    result = run(raw)
    assert result.findings == []
    assert result.facts["unsubscribe"]["https"] == ["https://sender.example/unsub?u=abc123"]


@pytest.mark.parametrize(
    ("verdicts", "words"),
    [
        ([], "the message has no DKIM signature"),
        ([("sender.example", "pass", ["from", "list-unsubscribe"])], "lists both headers"),
        ([("sender.example", "fail", BOTH)], "lists both headers"),
        (
            [
                ("sender.example", "pass", ["from", "list-unsubscribe"]),
                ("esp.example", "pass", ["from", "list-unsubscribe-post"]),
            ],
            "lists both headers",
        ),
    ],
)
def test_unsub303_not_covered_by_a_passing_signature(dkim, verdicts, words):
    dkim(verdicts)
    raw = build(("List-Unsubscribe", HTTPS), ("List-Unsubscribe-Post", ONE_CLICK))
    result = run(raw)
    assert [(f.rule.id, f.target) for f in result.findings] == [("UNSUB303", "m.eml")]
    assert words in result.findings[0].message
    assert result.facts["unsubscribe"]["signed"] == "unsigned"


def test_unsub303_evidence_names_each_signature(dkim):
    dkim([("sender.example", "pass", ["from", "list-unsubscribe"])])
    raw = build(("List-Unsubscribe", HTTPS), ("List-Unsubscribe-Post", ONE_CLICK))
    [finding] = run(raw).findings
    assert (
        "DKIM d=sender.example s=s1: pass; h= covers List-Unsubscribe: yes, "
        "List-Unsubscribe-Post: no"
    ) in finding.evidence


def test_post_without_https_does_not_ask_about_signing(dkim):
    dkim([])
    raw = build(("List-Unsubscribe", MAILTO), ("List-Unsubscribe-Post", ONE_CLICK))
    assert ids(run(raw)) == ["UNSUB304"]


def test_signing_undecided_on_temperror_is_inconclusive(dkim):
    dkim([("sender.example", "temperror", BOTH)])
    raw = build(("List-Unsubscribe", HTTPS), ("List-Unsubscribe-Post", ONE_CLICK))
    result = run(raw)
    assert result.findings == [] and result.status is Status.INCONCLUSIVE
    assert result.facts["unsubscribe"]["signed"] == "unknown"


def test_dkim_unavailable_is_inconclusive_not_a_crash(dkim):
    dkim(RuntimeError("dkim family down"))
    raw = build(("List-Unsubscribe", HTTPS), ("List-Unsubscribe-Post", ONE_CLICK))
    result = run(raw)
    assert result.findings == [] and result.status is Status.INCONCLUSIVE
    assert "dkim family down" in result.error


def test_parse_list_unsubscribe_directly():
    uris, problems = unsubscribe.parse_list_unsubscribe(f" {MAILTO} ,\t{HTTPS} (comment)")
    assert [u["scheme"] for u in uris] == ["mailto", "https"] and problems == []
    assert unsubscribe.parse_list_unsubscribe("")[1] == ["List-Unsubscribe is empty"]
    assert unsubscribe.parse_uri("https://[::1")["error"] == "malformed URI"
    assert unsubscribe.parse_uri("no-scheme")["scheme"] == ""


# ----------------------------------------------------------------------------- real DKIM


def _signed(zone_data, signed_headers: list[bytes]):
    """A one-click message signed at test time with the fixture key s2048 of msg-dkim.test."""
    import dkim as dkimpy

    from audit.net.dns import StaticBackend
    from tests.conftest import FIXTURES

    body = (
        b"From: News <news@msg-dkim.test>\r\n"
        b"To: user@receiver.example\r\n"
        b"Subject: November offers\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        b"Message-ID: <abc@msg-dkim.test>\r\n"
        b"List-Unsubscribe: <https://msg-dkim.test/unsub?u=abc123>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"\r\n"
        b"Hello.\r\n"
    )
    key = (FIXTURES / "keys" / "msg-dkim.test.s2048.pem").read_bytes()
    signature = dkimpy.sign(body, b"s2048", b"msg-dkim.test", key, include_headers=signed_headers)
    ctx = make_context(RawMessage("m.eml", signature + body), Resolver(StaticBackend(zone_data)))
    return asyncio.run(unsubscribe.check(ctx))


def test_real_signature_covering_both_headers(zone_data):
    result = _signed(
        zone_data, [b"from", b"subject", b"list-unsubscribe", b"list-unsubscribe-post"]
    )
    assert result.findings == []
    assert result.facts["unsubscribe"]["signed_by"] == ["msg-dkim.test"]


def test_real_signature_without_the_unsubscribe_headers(zone_data):
    result = _signed(zone_data, [b"from", b"subject"])
    assert [(f.rule.id, f.target) for f in result.findings] == [("UNSUB303", "m.eml")]
    assert (
        "DKIM d=msg-dkim.test s=s2048: pass; h= covers List-Unsubscribe: no, "
        "List-Unsubscribe-Post: no"
    ) in result.findings[0].evidence
