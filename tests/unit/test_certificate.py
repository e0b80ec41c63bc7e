"""Certificate analysis (audit/records/certificate.py): RFC 6125 names, trust, expiry, key facts.

Certificates come from the test CA; the clock is injected, so expiry is tested at fixed times.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from audit.records.certificate import analyze_chain, hostname_matches, verify_trust
from tests.infra.certs import TestCA

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # certificates keep whole seconds


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def der(issued) -> list[bytes]:
    return [c.public_bytes(Encoding.DER) for c in issued.chain]


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("mx1.example.com", "mx1.example.com", True),
        ("MX1.Example.COM", "mx1.example.com.", True),
        ("mx1.example.com", "mx2.example.com", False),
        ("*.example.com", "mx1.example.com", True),
        ("*.example.com", "example.com", False),  # exactly one label
        ("*.example.com", "a.mx1.example.com", False),
        ("mx*.example.com", "mx1.example.com", False),  # partial-label wildcard
        ("*.com", "example.com", False),  # too broad
        ("mx1.*.com", "mx1.example.com", False),  # not the leftmost label
        ("*", "localhost", False),
        ("", "mx1.example.com", False),
    ],
)
def test_hostname_matches_rfc6125(pattern, host, matches):
    assert hostname_matches(pattern, host) is matches


def test_trusted_chain_with_the_right_name(ca):
    cert = ca.issue("mx1.a.test", "mx2.a.test", not_after=NOW + dt.timedelta(days=90))
    result = analyze_chain(der(cert), "mx2.a.test", anchors=[ca.cert], now=NOW)
    assert result.trust.trusted is True
    assert result.name_match == "mx2.a.test"
    assert not result.expired and not result.expiring_soon()
    assert result.days_left == 90
    assert result.leaf.san_dns == ["mx1.a.test", "mx2.a.test"]
    assert (result.leaf.key_type, result.leaf.key_bits) == ("RSA", 2048)
    assert result.trust.chain == ["CN=mx1.a.test", "CN=audit test CA"]


def test_every_san_name_and_wildcards(ca):
    cert = ca.issue("other.a.test", "mx1.a.test")  # CN other.a.test, SAN has both
    assert analyze_chain(der(cert), "other.a.test", anchors=[ca.cert], now=NOW).name_ok
    wildcard = ca.issue("*.a.test", key="ec")
    result = analyze_chain(der(wildcard), "mx1.a.test", anchors=[ca.cert], now=NOW)
    assert result.name_match == "*.a.test"
    assert analyze_chain(der(wildcard), "a.test", anchors=[ca.cert], now=NOW).name_match is None


def test_self_signed_and_unknown_issuer_are_untrusted(ca):
    selfsigned = ca.issue("mx1.a.test", self_signed=True, key="ec")
    result = analyze_chain(der(selfsigned), "mx1.a.test", anchors=[ca.cert], now=NOW)
    assert result.trust.trusted is False
    assert "self-signed" in result.trust.reason
    assert result.leaf.self_signed and result.name_ok
    other_ca = TestCA("another CA")
    foreign = other_ca.issue("mx1.a.test", key="ec")
    result = analyze_chain(der(foreign)[:1], "mx1.a.test", anchors=[ca.cert], now=NOW)
    assert result.trust.trusted is False
    assert "CN=another CA" in result.trust.reason


def test_no_anchors_means_unknown_not_untrusted(ca):
    cert = ca.issue("mx1.a.test", key="ec")
    assert analyze_chain(der(cert), "mx1.a.test", anchors=[], now=NOW).trust.trusted is None


def test_expired_leaf_is_expired_but_still_trusted(ca):
    cert = ca.issue(
        "mx1.a.test",
        not_before=NOW - dt.timedelta(hours=20),
        not_after=NOW - dt.timedelta(hours=1),
    )
    result = analyze_chain(der(cert), "mx1.a.test", anchors=[ca.cert], now=NOW)
    assert result.expired and not result.expiring_soon()
    assert result.days_left == -1
    assert result.trust.trusted is True  # judged as of its last valid second
    assert result.trust.as_of is not None


def test_expiry_against_an_injected_clock(ca):
    cert = ca.issue("mx1.a.test", not_after=NOW + dt.timedelta(days=30), key="ec")
    later = NOW + dt.timedelta(days=20, hours=1)
    result = analyze_chain(der(cert), "mx1.a.test", anchors=[ca.cert], now=later)
    assert result.days_left == 9 and result.expiring_soon()
    at_limit = analyze_chain(
        der(cert), "mx1.a.test", anchors=[ca.cert], now=NOW + dt.timedelta(days=16)
    )
    assert at_limit.days_left == 14 and not at_limit.expiring_soon()
    assert not analyze_chain(der(cert), "mx1.a.test", anchors=[ca.cert], now=NOW).expiring_soon()
    early = NOW - dt.timedelta(days=2)
    assert analyze_chain(der(cert), "mx1.a.test", anchors=[ca.cert], now=early).not_yet_valid


def test_ec_key_facts(ca):
    cert = ca.issue("mx1.a.test", key="ec")
    leaf = analyze_chain(der(cert), "mx1.a.test", anchors=[ca.cert], now=NOW).leaf
    assert (leaf.key_type, leaf.key_bits, leaf.curve) == ("EC", 256, "secp256r1")
    assert leaf.signature_algorithm == "ecdsa-with-SHA256"


def test_garbage_and_empty_chains():
    result = analyze_chain([b"not a certificate"], "mx1.a.test", anchors=[], now=NOW)
    assert result.leaf is None and result.trust.trusted is False
    assert "cannot be parsed" in result.parse_error
    empty = analyze_chain([], "mx1.a.test", anchors=[], now=NOW)
    assert empty.leaf is None and empty.trust.trusted is None
    assert verify_trust([], [], NOW).trusted is None
