"""Macro expansion (RFC 7208 section 7), including the RFC's own examples (7.4)."""

import asyncio

import pytest

from audit.spf.macro import MacroSyntaxError, expand, transform, truncate_domain

RFC_VALUES = {
    "s": "strong-bad@email.example.com",
    "l": "strong-bad",
    "o": "email.example.com",
    "d": "email.example.com",
    "i": "192.0.2.3",
    "v": "in-addr",
    "h": "mx.example.org",
    "c": "192.0.2.3",
    "r": "receiver.example.net",
    "t": "1700000000",
    "p": "mx.example.org",
}


def run(text: str, exp: bool = False, values=RFC_VALUES) -> str:
    async def value_of(letter: str) -> str:
        return values[letter]

    return asyncio.run(expand(text, value_of, exp))


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        ("%%%_%-", "% %20"),
        ("%{D2}", "example.com"),
    ],
)
def test_rfc_examples(macro, expected):
    assert run(macro) == expected


def test_uppercase_url_escapes():
    values = dict(RFC_VALUES, l="~jack&jill=up-a_b3.c")
    assert run("l=%{L}", values=values) == "l=~jack%26jill%3Dup-a_b3.c"


def test_exp_only_letters():
    assert run("%{c} %{r} %{t}", exp=True) == "192.0.2.3 receiver.example.net 1700000000"
    with pytest.raises(MacroSyntaxError):
        run("%{c}")


@pytest.mark.parametrize("bad", ["%{x}", "%{d0}", "%", "%{d", "%a", "a b"])
def test_bad_macros(bad):
    with pytest.raises(MacroSyntaxError):
        run(bad)


def test_transform_delimiters_and_large_digits():
    assert transform("a-b+c.d", 10, False, "-+") == "a.b.c.d"
    assert transform("a.b.c", None, True, ".") == "c.b.a"


def test_truncate_drops_left_labels():
    long = ".".join(["x" * 60] * 5) + ".example.com"
    out = truncate_domain(long)
    assert len(out) <= 253 and out.endswith("example.com") and long.endswith(out)
