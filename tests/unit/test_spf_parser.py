"""The SPF record parser: every mechanism, qualifiers, modifiers, CIDR forms and clear errors."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.net.dns import Resolver, memory_backend
from audit.spf import (
    Mechanism,
    Modifier,
    SpfSyntaxError,
    check_host,
    is_spf_record,
    parse_record,
    render_trace,
)
from audit.spf.trace import RESULTS


def test_every_mechanism_and_modifier():
    record = parse_record(
        "v=spf1 +all include:_spf.example.com -a ~a:h.example.com/24 ?mx//64 "
        "mx:m.example.com/28//96 ptr ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 "
        "exists:%{i}.x.example.com redirect=_r.example.com exp=why.example.com foo.bar=baz"
    )
    mechs = record.mechanisms
    assert [(m.qualifier, m.name) for m in mechs] == [
        ("+", "all"), ("+", "include"), ("-", "a"), ("~", "a"), ("?", "mx"), ("+", "mx"),
        ("+", "ptr"), ("+", "ptr"), ("+", "ip4"), ("+", "ip6"), ("+", "exists"),
    ]  # fmt: skip
    assert mechs[3] == Mechanism("~", "a", "h.example.com", cidr4=24, text="~a:h.example.com/24")
    assert (mechs[4].domain_spec, mechs[4].cidr4, mechs[4].cidr6) == (None, None, 64)
    assert (mechs[5].domain_spec, mechs[5].cidr4, mechs[5].cidr6) == ("m.example.com", 28, 96)
    assert (mechs[8].network, mechs[8].cidr4) == ("192.0.2.0", 24)
    assert (mechs[9].network, mechs[9].cidr6) == ("2001:db8::", 32)
    assert record.redirect == "_r.example.com"
    assert record.exp == "why.example.com"
    assert Modifier("foo.bar", "baz", "foo.bar=baz") in record.terms
    assert record.all is mechs[0]
    assert [m.result for m in mechs[:5]] == ["pass", "pass", "fail", "softfail", "neutral"]


def test_case_insensitive_names_and_version():
    record = parse_record("V=SPF1 MX:Example.COM -ALL Redirect=x.example.com")
    assert [m.name for m in record.mechanisms] == ["mx", "all"]
    assert record.redirect == "x.example.com"


def test_domain_spec_may_hold_slash_and_colon():
    (mech, _) = parse_record("v=spf1 a:foo:bar/baz.example.com/24 -all").mechanisms
    assert (mech.domain_spec, mech.cidr4) == ("foo:bar/baz.example.com", 24)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v=spf1 ip4:192.0.2.300 -all", "invalid IPv4 address '192.0.2.300'"),
        ("v=spf1 ip4:192.0.2.0/33", "exceeds /32"),
        ("v=spf1 ip6:2001:db8::/129", "exceeds /128"),
        ("v=spf1 a/024", "invalid CIDR"),
        ("v=spf1 -all.", "'all' takes no argument"),
        ("v=spf1 -all:foo", "'all' takes no argument"),
        ("v=spf1 include", "include needs ':domain'"),
        ("v=spf1 include:", "include needs ':domain'"),
        ("v=spf1 ptr/0", "ptr takes only ':domain'"),
        ("v=spf1 moo", "unknown mechanism 'moo'"),
        ("v=spf1 redirect:x.example.com", "unknown mechanism 'redirect'"),
        ("v=spf1 a:foo-bar -all", "valid top-level label"),
        ("v=spf1 a:example.123", "valid top-level label"),
        ("v=spf1 exists:%{z}.example.com", "unknown macro letter 'z'"),
        ("v=spf1 exists:%{c}.example.com", "only allowed in exp= text"),
        ("v=spf1 exists:%{d0}.example.com", "keeps zero labels"),
        ("v=spf1 a:%x.example.com", "invalid macro"),
        ("v=spf1 -all exp=", "exp= needs a domain"),
        ("v=spf1 redirect=a.example.com redirect=b.example.com", "more than once"),
        ("v=spf1 1foo=bar", "unknown term"),
        ("v=spf1 =bar", "unknown term"),
        ("v=spf1 mx\r-all", "invalid character"),
        ("v=spf1 a:caf\u00e9.example.com", "7-bit ASCII"),
    ],
)
def test_syntax_errors_say_what_is_wrong(text, fragment):
    with pytest.raises(SpfSyntaxError) as info:
        parse_record(text)
    assert fragment in str(info.value)


def test_error_names_the_term():
    with pytest.raises(SpfSyntaxError) as info:
        parse_record("v=spf1 mx ip4:1.2.3 -all")
    assert info.value.term == "ip4:1.2.3"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=spf1", True),
        ("v=spf1 -all", True),
        ("V=Spf1 -all", True),
        ("v=spf10", False),
        ("v=spf1-all", False),
        ("spf1 -all", False),
        ("", False),
    ],
)
def test_record_selection(text, expected):
    assert is_spf_record(text) is expected


def test_extra_spaces_are_allowed():
    record = parse_record("v=spf1  mx   -all  ")
    assert [m.text for m in record.mechanisms] == ["mx", "-all"]


TERMS = [
    "all", "-all", "~all", "?all", "+all", "a", "a/24", "a//64", "a:h.example.com/24//64",
    "mx", "mx:%{d}", "ptr", "ptr:example.com", "ip4:192.0.2.1", "ip4:192.0.2.0/33",
    "ip6:2001:db8::/64", "ip6:zz::", "include:%{l}.example.com", "exists:%{ir}.%{v}.x.example",
    "redirect=r.example.com", "exp=e.example.com", "x-y=%{h}", "%{", "a:%%", "=", ":", "/",
    "include:", "mx:example.com/", "v=spf1", "exists:%{Z}.example.com", "\t", "a:\u00e9.example",
]  # fmt: skip


@given(st.lists(st.sampled_from(TERMS) | st.text(max_size=12), max_size=8))
@settings(max_examples=300, deadline=None)
def test_parser_only_raises_syntax_errors(words):
    text = " ".join(["v=spf1", *words])
    try:
        record = parse_record(text)
    except SpfSyntaxError:
        return
    assert record.text == text


@given(st.lists(st.sampled_from(TERMS), max_size=6), st.sampled_from(["192.0.2.1", "2001:db8::1"]))
@settings(max_examples=100, deadline=None)
def test_evaluation_always_ends_in_a_result(words, ip):
    zone = {
        "example.com": [("TXT", '"' + " ".join(["v=spf1", *words]) + '"')],
        "h.example.com": [("A", "192.0.2.1")],
    }
    resolver = Resolver(memory_backend(zone))
    result = asyncio.run(check_host(resolver, ip, "example.com", "u@example.com", "h.example.com"))
    assert result.result in RESULTS
    assert render_trace(result).startswith(result.result + ":")
