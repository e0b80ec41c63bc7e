"""Authentication-Results / Received-SPF parsing, and the receiver's verdict next to ours (MSG301).

Our verdicts are stood in through the context (make_context(..., verdicts=...)) so these tests
pin down the comparison; the verdicts themselves are tested with their families.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from audit.checks.message import receiver
from audit.checks.message.verdicts import ArcVerdict, DkimVerdict, DmarcVerdict, SpfVerdict
from audit.message.authres import parse_authentication_results, parse_received_spf
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, make_context
from audit.model import Severity
from audit.net.dns import Resolver, memory_backend
from tests.verdict_standins import StandInVerdicts

# ----------------------------------------------------------------------------- parser

GMAIL_AR = """mx.google.com;
       dkim=pass header.i=@sender.example header.s=s1 header.b=AbCd+/12;
       arc=pass (i=1 spf=pass spfdomain=sender.example dkim=pass dkdomain=sender.example);
       spf=pass (google.com: domain of bounce@sender.example designates 198.51.100.7 as \
permitted sender) smtp.mailfrom=bounce@sender.example;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=sender.example"""
MICROSOFT_AR = (
    "spf=pass (sender IP is 192.0.2.41) smtp.mailfrom=sender.example; dkim=pass (signature "
    "was verified) header.d=sender.example;dmarc=pass action=none header.from=sender.example;"
    "compauth=pass reason=100"
)


def test_gmail_authentication_results():
    parsed = parse_authentication_results(GMAIL_AR)
    assert parsed.authserv_id == "mx.google.com" and parsed.errors == []
    assert [(r.method, r.result) for r in parsed.results] == [
        ("dkim", "pass"),
        ("arc", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
    ]
    dkim = parsed.methods("dkim")[0]
    assert (dkim.get("header.i"), dkim.get("header.s"), dkim.get("header.b")) == (
        "@sender.example",
        "s1",
        "AbCd+/12",
    )
    spf = parsed.methods("spf")[0]
    assert spf.get("smtp.mailfrom") == "bounce@sender.example"
    assert spf.comments[0].startswith("google.com: domain of bounce@sender.example designates")
    assert parsed.methods("dmarc")[0].comments == ["p=REJECT sp=REJECT dis=NONE"]
    assert parsed.methods("arc")[0].properties == []  # the arc details live in a comment


def test_microsoft_authentication_results_without_authserv_id():
    parsed = parse_authentication_results(MICROSOFT_AR)
    assert parsed.authserv_id is None and parsed.errors == []
    assert [(r.method, r.result) for r in parsed.results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
        ("compauth", "pass"),
    ]
    assert parsed.comments == ["sender IP is 192.0.2.41"]
    assert parsed.methods("dmarc")[0].get("action") == "none"
    assert parsed.methods("compauth")[0].reason == "100"


def test_version_none_and_comment_without_space():
    parsed = parse_authentication_results("mx.receiver.example 1; none")
    assert (parsed.authserv_id, parsed.version, parsed.no_result, parsed.results) == (
        "mx.receiver.example",
        "1",
        True,
        [],
    )
    yahoo = parse_authentication_results(
        "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com; dmarc=pass(p=REJECT) "
        "header.from=sender.example;"
    )
    [dmarc] = yahoo.results
    assert dmarc.comments == ["p=REJECT"] and dmarc.get("header.from") == "sender.example"


def test_cfws_around_equals_quoted_reason_and_method_version():
    parsed = parse_authentication_results(
        'mx.receiver.example; dkim = pass reason="good; ok" header.d=sender.example '
        "header.b=ab==; spf/1=FAIL smtp.mailfrom = x@sender.example"
    )
    dkim, spf = parsed.results
    assert (dkim.method, dkim.result, dkim.reason) == ("dkim", "pass", "good; ok")
    assert dkim.get("header.b") == "ab=="
    assert (spf.method, spf.version, spf.result) == ("spf", "1", "fail")
    assert spf.get("smtp.mailfrom") == "x@sender.example"


@pytest.mark.parametrize(
    "value",
    ["", ";;;", "x y z", "garbage (unterminated", '"open quote', "=", "a; =b; c=; ;d=e f", "\x00"],
)
def test_garbage_never_raises(value):
    parsed = parse_authentication_results(value)
    assert isinstance(parsed.to_dict(), dict)
    spf = parse_received_spf(value)
    assert isinstance(spf.to_dict(), dict)


def test_garbage_is_reported_in_errors():
    assert parse_authentication_results("").errors == ["no authserv-id and no results"]
    assert "unterminated comment" in parse_authentication_results("x; spf=pass (oops").errors
    stray = parse_authentication_results("x; spf=pass oops")
    assert stray.errors == ["stray text 'oops' after spf=pass"]
    assert stray.results[0].result == "pass"


def test_received_spf_rfc7208_example():
    spf = parse_received_spf(
        "pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as "
        "permitted sender) receiver=mybox.example.org; client-ip=192.0.2.1; "
        'envelope-from="myname@example.com"; helo=foo.example.com;'
    )
    assert spf.result == "pass" and spf.errors == []
    assert spf.pairs == {
        "receiver": "mybox.example.org",
        "client-ip": "192.0.2.1",
        "envelope-from": "myname@example.com",
        "helo": "foo.example.com",
    }
    assert spf.receiver == "mybox.example.org"


def test_received_spf_policyd_and_gmail_forms():
    policyd = parse_received_spf(
        "Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.1; helo=mail.sender.example; "
        "envelope-from=x@sender.example; receiver=<UNKNOWN>"
    )
    assert (policyd.result, policyd.receiver, policyd.pairs["identity"]) == (
        "pass",
        None,
        "mailfrom",
    )
    gmail = parse_received_spf(
        "softfail (google.com: domain of transitioning x@sender.example does not designate "
        "192.0.2.1 as permitted sender) client-ip=192.0.2.1;"
    )
    assert (gmail.result, gmail.receiver, gmail.pairs) == (
        "softfail",
        "google.com",
        {"client-ip": "192.0.2.1"},
    )


# ----------------------------------------------------------------------------- the check


STAND_IN = StandInVerdicts()  # passed to make_context by run()


@pytest.fixture
def ours():
    """Our verdicts, settable per test: ours(spf="pass", dkim=[...], dmarc="pass", arc="none").

    A value that is an Exception makes that getter raise.
    """
    STAND_IN.set("spf", SpfVerdict("pass", "mailfrom", "sender.example", "192.0.2.25", None, None))
    STAND_IN.set("dkim", [])
    STAND_IN.set(
        "dmarc", DmarcVerdict("pass", "sender.example", "sender.example", None, "reject", "none")
    )
    STAND_IN.set("arc", ArcVerdict("none"))

    def set_ours(spf=None, dkim=None, dmarc=None, arc=None, spf_ip="192.0.2.25"):
        if isinstance(spf, Exception):
            STAND_IN.set("spf", spf)
        elif spf is not None:
            STAND_IN.set("spf", SpfVerdict(spf, "mailfrom", "sender.example", spf_ip, None, None))
        if dkim is not None:
            STAND_IN.set(
                "dkim",
                dkim
                if isinstance(dkim, Exception)
                else [
                    DkimVerdict(
                        i,
                        result,
                        reason,
                        domain=d,
                        selector=s,
                        header=f"v=1; d={d}; s={s}; bh=x; b={b}",
                    )
                    for i, (d, s, result, reason, b) in enumerate(dkim)
                ],
            )
        if isinstance(dmarc, Exception):
            STAND_IN.set("dmarc", dmarc)
        elif dmarc is not None:
            STAND_IN.set(
                "dmarc",
                DmarcVerdict(
                    dmarc, "sender.example", "sender.example", None, "reject", "none", reason="stub"
                ),
            )
        if isinstance(arc, Exception):
            STAND_IN.set("arc", arc)
        elif arc is not None:
            STAND_IN.set("arc", ArcVerdict(arc))

    yield set_ours
    STAND_IN.clear()


def build(*results: str, received_spf: tuple[str, ...] = ()) -> bytes:
    head = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    head += "".join(f"Received-SPF: {r}\r\n" for r in received_spf)
    head += (
        "Received: from mail.sender.example (mail.sender.example [192.0.2.25]) by "
        "mx.receiver.example (Postfix) with ESMTPS id 4X; Tue, 24 Nov 2026 10:00:05 +0000\r\n"
        "From: News <news@sender.example>\r\n"
        "Subject: hello\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <abc@sender.example>\r\n"
    )
    return (head + "\r\nHello.\r\n").encode()


def run(raw: bytes, **envelope):
    ctx = make_context(
        RawMessage("m.eml", raw),
        Resolver(memory_backend({})),
        envelope=EnvelopeOptions(**envelope),
        now=datetime(2026, 11, 24, 12, tzinfo=UTC),
        verdicts=STAND_IN.providers(),
    )
    return asyncio.run(receiver.check(ctx))


PASS_ALL = (
    "mx.receiver.example; dkim=pass header.d=sender.example header.s=s1; "
    "spf=pass smtp.mailfrom=bounce@sender.example; dmarc=pass header.from=sender.example"
)
SIG = ("sender.example", "s1", "pass", "", "AAAA")


def test_no_authentication_results_is_just_facts(ours):
    result = run(build())
    assert result.findings == []
    facts = result.facts["receiver"]
    assert facts["authentication_results"] == [] and facts["receiver"] is None


def test_agreement_gives_no_finding_and_a_side_by_side(ours):
    ours(dkim=[SIG])
    result = run(build(PASS_ALL))
    assert result.findings == []
    comparison = {e["method"]: e for e in result.facts["receiver"]["comparison"]}
    assert comparison["dkim"]["subject"] == "d=sender.example s=s1"
    assert (comparison["dkim"]["receiver"], comparison["dkim"]["ours"]) == ("pass", "pass")
    assert comparison["spf"]["agree"] is True and comparison["dmarc"]["agree"] is True
    facts = result.facts["receiver"]
    assert facts["authentication_results"][0]["trusted"] is True
    assert facts["receiver"]["authserv_ids"] == ["mx.receiver.example"]
    assert facts["ours"]["dkim"] == [
        {"d": "sender.example", "s": "s1", "result": "pass", "reason": ""}
    ]


def test_receiver_dkim_fail_where_we_pass_is_medium(ours):
    ours(dkim=[SIG])
    result = run(build(PASS_ALL.replace("dkim=pass", "dkim=fail")))
    [finding] = result.findings
    assert (finding.rule.id, finding.target) == ("MSG301", "m.eml")
    assert finding.message.startswith(
        "DKIM d=sender.example s=s1: the receiver (mx.receiver.example) says fail, we say pass"
    )
    assert "key in DNS was different" in finding.message
    assert finding.effective_severity is Severity.MEDIUM
    assert finding.evidence[0].startswith("Authentication-Results: mx.receiver.example;")


def test_receiver_dkim_pass_where_we_fail_is_low(ours):
    ours(dkim=[("sender.example", "s1", "fail", "body hash did not verify", "AAAA")])
    [finding] = run(build(PASS_ALL)).findings
    assert "says pass, we say fail" in finding.message
    assert "altered after the receiver verified it" in finding.message
    assert "body hash did not verify" in finding.message
    assert finding.effective_severity is Severity.LOW


def test_only_the_topmost_authentication_results_counts(ours):
    ours(dkim=[SIG])
    forged = "mx.receiver.example; dkim=fail header.d=sender.example"
    result = run(build(PASS_ALL, forged))
    assert result.findings == []
    flags = [a["trusted"] for a in result.facts["receiver"]["authentication_results"]]
    assert flags == [True, False]


def test_receiver_domain_selects_by_authserv_id(ours):
    ours(dkim=[SIG])
    internal = "filter.corp.example; dkim=pass header.d=sender.example"
    edge = "mx1.receiver.example; dkim=fail header.d=sender.example"
    result = run(build(internal, edge), receiver_domain="receiver.example")
    flags = [a["trusted"] for a in result.facts["receiver"]["authentication_results"]]
    assert flags == [False, True]
    [finding] = result.findings
    assert "the receiver (mx1.receiver.example) says fail" in finding.message
    assert "--receiver-domain" in result.facts["receiver"]["trusted"]


def test_receiver_domain_matching_nothing_compares_nothing(ours):
    result = run(build(PASS_ALL), receiver_domain="elsewhere.example")
    assert result.findings == [] and result.facts["receiver"]["receiver"] is None


def test_getters_that_fail_are_unavailable_never_a_crash(ours):
    ours(
        spf=RuntimeError("spf down"),
        dkim=RuntimeError("dkim down"),
        dmarc=RuntimeError("dmarc down"),
        arc=RuntimeError("arc down"),
    )
    result = run(build(PASS_ALL))
    assert result.findings == []
    facts = result.facts["receiver"]
    assert facts["ours"]["dkim"] == "unavailable" and "dkim down" in facts["ours"]["dkim_error"]
    assert facts["ours"]["spf"]["result"] == "unavailable"
    assert {e["method"]: e["ours"] for e in facts["comparison"]} == {
        "spf": "unavailable",
        "dkim": "unavailable",
        "dmarc": "unavailable",
    }
    assert all(e["agree"] is None for e in facts["comparison"])


def test_spf_disagreement_names_the_other_client_ip(ours):
    ours(spf="fail", spf_ip="10.0.0.5")
    raw = build(
        "mx.receiver.example; spf=pass smtp.mailfrom=bounce@sender.example",
        received_spf=("pass (mx.receiver.example: domain of bounce@sender.example designates "
                      "192.0.2.25 as permitted sender) client-ip=192.0.2.25;",),
    )  # fmt: skip
    [finding] = run(raw).findings
    assert finding.message.startswith("SPF smtp.mailfrom=bounce@sender.example:")
    assert "client-ip 192.0.2.25, we evaluated 10.0.0.5" in finding.message
    assert "--ip 192.0.2.25" in finding.message
    assert finding.effective_severity is Severity.LOW


def test_spf_from_received_spf_alone(ours):
    ours(spf="pass")
    raw = build(
        received_spf=("softfail (mx.receiver.example: transitioning) client-ip=192.0.2.25;",)
    )
    [finding] = run(raw).findings
    assert "says softfail, we say pass" in finding.message
    assert finding.effective_severity is Severity.MEDIUM


def test_spf_undecided_on_our_side_is_not_compared(ours):
    ours(spf="none", spf_ip=None)
    result = run(build("mx.receiver.example; spf=pass smtp.mailfrom=bounce@sender.example"))
    assert result.findings == []
    [entry] = result.facts["receiver"]["comparison"]
    assert (entry["ours"], entry["agree"]) == ("unknown", None)


def test_temperror_is_not_a_disagreement(ours):
    ours(dkim=[("sender.example", "s1", "temperror", "DNS timeout", "AAAA")])
    result = run(build("mx.receiver.example; dkim=pass header.d=sender.example"))
    assert result.findings == []


def test_dkim_matched_by_header_b_among_two_signatures(ours):
    ours(
        dkim=[
            ("sender.example", "s1", "fail", "body hash did not verify", "ZZZZ1111"),
            ("sender.example", "s1", "pass", "", "AbCd2222"),
        ]
    )
    raw = build(
        "mx.receiver.example; dkim=pass header.d=sender.example header.s=s1 header.b=AbCd; "
        "dkim=fail header.d=sender.example header.s=s1 header.b=ZZZZ"
    )
    result = run(raw)
    assert result.findings == []
    assert [(e["receiver"], e["ours"]) for e in result.facts["receiver"]["comparison"]] == [
        ("pass", "pass"),
        ("fail", "fail"),
    ]


def test_receiver_saw_no_signature_that_this_copy_has(ours):
    ours(dkim=[SIG])
    [finding] = run(build("mx.receiver.example; dkim=none")).findings
    assert "says none, we say pass" in finding.message
    assert "added after the receiver's check" in finding.message


def test_receiver_verified_a_signature_this_copy_lacks(ours):
    ours(dkim=[])
    [finding] = run(build("mx.receiver.example; dkim=pass header.i=@esp.example")).findings
    assert finding.message.startswith("DKIM d=esp.example:")
    assert "no longer in this copy" in finding.message


def test_dmarc_disagreement(ours):
    ours(dmarc="fail")
    [finding] = run(build("mx.receiver.example; dmarc=pass header.from=sender.example")).findings
    assert finding.message.startswith(
        "DMARC header.from=sender.example: the receiver (mx.receiver.example) says pass, "
        "we say fail"
    )


def test_microsoft_bestguesspass_means_no_policy(ours):
    ours(dmarc="none")
    raw = build("spf=pass smtp.mailfrom=sender.example; dmarc=bestguesspass action=none "
                "header.from=sender.example")  # fmt: skip
    assert run(raw).findings == []


def test_arc_compares_pass_against_fail_only(ours):
    ours(arc="pass")
    assert run(build("mx.receiver.example; arc=none")).findings == []
    ours(arc="fail")
    [finding] = run(build("mx.receiver.example; arc=pass")).findings
    assert finding.message.startswith("ARC arc:")


# ----------------------------------------------------------------------------- real DKIM


def test_real_signature_broken_after_delivery(zone_data):
    """Signed at test time with the fixture key; the receiver verified it (dkim=pass), then a
    footer was appended to this copy: we see fail, and say the copy was altered."""
    import dkim as dkimpy

    from audit.net.dns import StaticBackend
    from tests.conftest import FIXTURES

    body = (
        b"From: News <news@msg-dkim.test>\r\n"
        b"To: user@receiver.example\r\n"
        b"Subject: hello\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        b"Message-ID: <abc@msg-dkim.test>\r\n"
        b"\r\n"
        b"Hello.\r\n"
    )
    key = (FIXTURES / "keys" / "msg-dkim.test.s2048.pem").read_bytes()
    signature = dkimpy.sign(body, b"s2048", b"msg-dkim.test", key)
    b_prefix = signature.split(b" b=", 1)[1][:8].decode()
    ar = (
        "Authentication-Results: mx.receiver.example; dkim=pass header.d=msg-dkim.test "
        f"header.s=s2048 header.b={b_prefix}\r\n"
    ).encode()
    intact = ar + signature + body
    resolver = Resolver(StaticBackend(zone_data))
    result = asyncio.run(receiver.check(make_context(RawMessage("m.eml", intact), resolver)))
    assert result.findings == []
    [entry] = [e for e in result.facts["receiver"]["comparison"] if e["method"] == "dkim"]
    assert (entry["receiver"], entry["ours"], entry["agree"]) == ("pass", "pass", True)

    altered = intact + b"-- \r\nSent from the archive\r\n"
    resolver = Resolver(StaticBackend(zone_data))
    result = asyncio.run(receiver.check(make_context(RawMessage("m.eml", altered), resolver)))
    [finding] = result.findings
    assert (finding.rule.id, finding.effective_severity) == ("MSG301", Severity.LOW)
    assert "says pass, we say fail" in finding.message
    assert "altered after the receiver verified it" in finding.message
