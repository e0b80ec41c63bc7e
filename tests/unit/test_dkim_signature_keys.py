"""signature_keys parses a signature header's relaxed form only where it can name another key
(s= or d= as written holds a space, tab or line break): the same names, in the same order, as
parsing both forms of every header."""

from __future__ import annotations

from dkim.canonicalization import Relaxed
from dkim.util import InvalidTagValueList, parse_tag_value
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.message.dkim_dns import (
    MAX_KEY_LOOKUPS,
    SIGNATURE_HEADERS,
    header_fields,
    key_name,
    signature_keys,
)


def both_forms(raw: bytes) -> list[str]:
    """The reference: every header parsed as written and relaxed."""
    names: dict[str, None] = {}
    for name, value in header_fields(raw):
        if name.lower() not in SIGNATURE_HEADERS:
            continue
        for candidate in (value, Relaxed.canonicalize_headers([(name, value)])[0][1]):
            try:
                tags = parse_tag_value(candidate)
                selector, domain = tags[b"s"].decode("ascii"), tags[b"d"].decode("ascii")
            except (InvalidTagValueList, KeyError, UnicodeDecodeError, ValueError):
                continue
            names[key_name(selector, domain)] = None
        if len(names) >= MAX_KEY_LOOKUPS:
            break
    return list(names)[:MAX_KEY_LOOKUPS]


def test_folded_domain_names_the_relaxed_key_too():
    raw = (
        b"DKIM-Signature: v=1; a=rsa-sha256; d=exa\r\n mple.test; s=sel; h=from; bh=A; b=A\r\n"
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=fwd.test; s=seal\t1; b=AAAA\r\n"
        b"From: a@example.test\r\n\r\nbody\r\n"
    )
    keys = signature_keys(raw)
    assert keys == both_forms(raw)
    assert keys == [
        "sel._domainkey.exa mple.test",  # as header_fields unfolds it
        "seal\t1._domainkey.fwd.test",
        "seal 1._domainkey.fwd.test",
    ]


def test_plain_signature_is_parsed_once(monkeypatch):
    import audit.message.dkim_dns as module

    calls = []
    monkeypatch.setattr(module, "parse_tag_value", lambda v: calls.append(v) or parse_tag_value(v))
    raw = b"DKIM-Signature: v=1; d=a.test; s=s1; h=from; bh=A; b=A\r\nFrom: x@a.test\r\n\r\nb\r\n"
    assert signature_keys(raw) == ["s1._domainkey.a.test"]
    assert len(calls) == 1


PIECES = [b"d=a.test", b"s=s1", b"d=b.test", b" ", b"\t", b"\r\n ", b";", b"=", b"s", b"d",
          b"x=1", b"D=c.test", b"s=\r\n s2", b"d= a.test ", b"\x0b", b"\xff"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from([b"DKIM-Signature", b"ARC-Seal", b"ARC-Message-Signature", b"X"]),
            st.lists(st.sampled_from(PIECES), max_size=8),
        ),
        max_size=4,
    )
)
def test_same_names_as_parsing_both_forms(headers):
    raw = b"".join(name + b": " + b"".join(parts) + b"\r\n" for name, parts in headers)
    raw += b"From: a@b.test\r\n\r\nbody\r\n"
    assert signature_keys(raw) == both_forms(raw)
