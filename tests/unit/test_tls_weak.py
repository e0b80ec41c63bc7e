"""TLS308: weak MX certificates (short RSA keys, SHA-1/MD5 signatures)."""

from __future__ import annotations

from audit.checks.smtp_tls import weak_points
from audit.records.certificate import describe_certificate
from tests.infra.certs import TestCA


def _facts_signed_with(algorithm: str):
    """cryptography no longer signs with SHA-1, so the facts of such a leaf are made directly."""
    from dataclasses import replace

    leaf = describe_certificate(TestCA().issue("mx.weak.test").cert)
    return replace(leaf, signature_algorithm=algorithm)


def test_short_rsa_key_is_weak() -> None:
    leaf = describe_certificate(TestCA().issue("mx.weak.test", key="rsa1024").cert)
    assert weak_points(leaf) == ["a 1024-bit RSA key"]


def test_sha1_and_md5_signatures_are_weak() -> None:
    for algorithm in ("sha1WithRSAEncryption", "ecdsa-with-SHA1", "md5WithRSAEncryption"):
        assert weak_points(_facts_signed_with(algorithm)) == [f"a {algorithm} signature"]


def test_modern_keys_are_not_weak() -> None:
    ca = TestCA()
    for key in ("rsa2048", "ec"):
        assert weak_points(describe_certificate(ca.issue("mx.ok.test", key=key).cert)) == []
