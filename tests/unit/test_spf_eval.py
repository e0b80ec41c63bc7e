"""check_host() and spf_query() against in-memory zones: results, limits, errors and the trace."""

import asyncio

import pytest

from audit.net.dns import Resolver, memory_backend
from audit.spf import check_host, render_trace, spf_query

ZONE = {
    "example.com": [
        ("TXT", '"v=spf1 ip4:192.0.2.0/28 include:_spf.esp.example.net mx -all exp=why.example.com"'),  # noqa: E501
        ("MX", "10 mx.example.com."),
    ],
    "mx.example.com": [("A", "192.0.2.25"), ("AAAA", "2001:db8::25")],
    "_spf.esp.example.net": [("TXT", '"v=spf1 ip4:198.51.100.0/24 ~all"')],
    "why.example.com": [("TXT", '"%{i} may not send for %{d} (sender %{s})"')],
    "soft.example.com": [("TXT", '"v=spf1 a ~all exp=why.example.com"')],
    "timeout.example.com": [("TIMEOUT", "")],
    "inc-timeout.example.com": [("TXT", '"v=spf1 include:servfail.example.net -all"')],
    "servfail.example.net": [("SERVFAIL", "")],
    "inc-none.example.com": [("TXT", '"v=spf1 include:nothing.example.net -all"')],
    "redir-none.example.com": [("TXT", '"v=spf1 redirect=nothing.example.net"')],
    "redir.example.com": [("TXT", '"v=spf1 redirect=example.com"')],
    "helo.example.org": [("TXT", '"v=spf1 a -all"'), ("A", "203.0.113.5")],
}  # fmt: skip


def evaluate(ip, mail_from, helo="helo.example.org", zone=None):
    resolver = Resolver(memory_backend(zone or ZONE))
    return asyncio.run(spf_query(resolver, ip, mail_from, helo)), resolver


def test_ip4_pass_names_the_matching_term():
    result, _ = evaluate("192.0.2.3", "user@example.com")
    assert (result.result, result.matched, result.matched_domain) == (
        "pass",
        "ip4:192.0.2.0/28",
        "example.com",
    )
    assert result.lookups == 0


def test_include_pass_is_a_match():
    result, _ = evaluate("198.51.100.7", "user@example.com")
    assert result.result == "pass"
    assert result.matched == "include:_spf.esp.example.net"
    record_steps = [s for s in result.trace if s.kind == "record"]
    assert [(s.depth, s.domain) for s in record_steps] == [
        (0, "example.com"),
        (1, "_spf.esp.example.net"),
    ]


def test_mx_match_over_ipv6_and_mapped_ipv4():
    assert evaluate("2001:db8::25", "user@example.com")[0].result == "pass"
    result, _ = evaluate("::ffff:192.0.2.25", "user@example.com")
    assert (result.result, result.ip, result.matched) == ("pass", "192.0.2.25", "mx")


def test_fail_carries_the_expanded_explanation():
    result, _ = evaluate("203.0.113.9", "user@example.com")
    assert result.result == "fail"
    assert result.matched == "-all"
    assert (
        result.explanation == "203.0.113.9 may not send for example.com (sender user@example.com)"
    )
    assert result.lookups == 2  # include + mx


def test_explanation_only_on_fail():
    result, resolver = evaluate("203.0.113.9", "user@soft.example.com")
    assert (result.result, result.explanation) == ("softfail", None)
    assert "why.example.com" not in {q.name for q in resolver.log}


def test_redirect_uses_the_target_policy():
    result, _ = evaluate("203.0.113.9", "user@redir.example.com")
    assert (result.result, result.matched_domain) == ("fail", "example.com")
    # %{d} is the redirect target; %{s} stays the sender
    assert result.explanation == (
        "203.0.113.9 may not send for example.com (sender user@redir.example.com)"
    )
    assert result.lookups == 3


@pytest.mark.parametrize(
    ("sender", "expected", "reason"),
    [
        ("user@timeout.example.com", "temperror", "timeout.example.com TXT lookup"),
        ("user@inc-timeout.example.com", "temperror", "servfail.example.net TXT"),
        ("user@inc-none.example.com", "permerror", "include:nothing.example.net names a domain"),
        ("user@redir-none.example.com", "permerror", "redirect target nothing.example.net"),
        ("user@nothing.example.net", "none", "nothing.example.net publishes no SPF record"),
    ],
)
def test_errors_and_none_say_why(sender, expected, reason):
    result, _ = evaluate("192.0.2.1", sender)
    assert result.result == expected
    assert reason in result.reason


def test_empty_mail_from_checks_postmaster_at_helo():
    result, _ = evaluate("203.0.113.5", "", helo="helo.example.org")
    assert (result.result, result.sender, result.domain) == (
        "pass",
        "postmaster@helo.example.org",
        "helo.example.org",
    )


@pytest.mark.parametrize("mail_from", ["user@[192.0.2.1]", "user@localhost", "user@a..example.com"])
def test_bad_domains_give_none(mail_from):
    assert evaluate("192.0.2.1", mail_from)[0].result == "none"


def test_missing_local_part_is_postmaster():
    result, _ = evaluate("203.0.113.9", "@example.com")
    assert result.sender == "postmaster@example.com"
    assert "postmaster@example.com" in result.explanation


def _chain(count: int) -> dict:
    zone = {
        "many.example.com": [
            ("TXT", '"v=spf1 ' + " ".join(f"a:h{i}.example.com" for i in range(count)) + ' -all"')
        ]
    }  # noqa: E501
    for i in range(count):
        zone[f"h{i}.example.com"] = [("A", f"198.51.100.{i + 1}")]
    return zone


def test_ten_lookups_are_allowed_the_eleventh_is_permerror():
    ok = asyncio.run(
        check_host(
            Resolver(memory_backend(_chain(10))),
            "192.0.2.1",
            "many.example.com",
            "u@many.example.com",
        )
    )  # noqa: E501
    assert (ok.result, ok.lookups) == ("fail", 10)
    over = asyncio.run(
        check_host(
            Resolver(memory_backend(_chain(11))),
            "192.0.2.1",
            "many.example.com",
            "u@many.example.com",
        )
    )  # noqa: E501
    assert (over.result, over.lookups) == ("permerror", 11)
    assert "a:h10.example.com" in over.reason
    assert [s.message for s in over.trace if s.kind == "lookup"][-1] == "11/10 a:h10.example.com"


def test_void_lookup_limit():
    zone = {
        "two.example.com": [("TXT", '"v=spf1 a:n1.example.com mx:n2.example.com -all"')],
        "three.example.com": [
            ("TXT", '"v=spf1 a:n1.example.com mx:n2.example.com exists:n3.example.com -all"')
        ],
        "n2.example.com": [("TXT", '"not mx"')],  # exists, but no MX: NODATA is void too
    }
    two, _ = evaluate("192.0.2.1", "u@two.example.com", zone=zone)
    assert (two.result, two.void_lookups) == ("fail", 2)
    three, _ = evaluate("192.0.2.1", "u@three.example.com", zone=zone)
    assert (three.result, three.void_lookups) == ("permerror", 3)
    assert "void" in three.reason


def test_more_than_ten_mx_hosts_is_permerror():
    zone = {
        "mx11.example.com": [("TXT", '"v=spf1 mx -all"')]
        + [("MX", f"{i} m{i}.example.com.") for i in range(11)],
    }
    result, _ = evaluate("192.0.2.1", "u@mx11.example.com", zone=zone)
    assert result.result == "permerror"
    assert "11 MX hosts" in result.reason


def test_ptr_needs_forward_confirmation():
    zone = {
        "ptr.example.com": [("TXT", '"v=spf1 ptr -all"')],
        "1.2.0.192.in-addr.arpa": [
            ("PTR", "good.ptr.example.com."),
            ("PTR", "bad.ptr.example.com."),
        ],
        "good.ptr.example.com": [("A", "192.0.2.1")],
        "bad.ptr.example.com": [("A", "192.0.2.99")],
        "2.2.0.192.in-addr.arpa": [("PTR", "bad.ptr.example.com.")],
    }
    assert evaluate("192.0.2.1", "u@ptr.example.com", zone=zone)[0].result == "pass"
    assert evaluate("192.0.2.2", "u@ptr.example.com", zone=zone)[0].result == "fail"


def test_render_trace_is_readable():
    result, _ = evaluate("203.0.113.9", "user@example.com")
    text = render_trace(result)
    lines = text.splitlines()
    assert lines[0] == "fail: 203.0.113.9 for user@example.com at example.com"
    assert "  matched '-all' in the record of example.com" in lines
    assert any(line.startswith("    record _spf.esp.example.net (via include:") for line in lines)
    assert "  DNS lookups: 2/10, void lookups: 0/2" in lines
    assert "explanation: 203.0.113.9 may not send for example.com" in text
