"""audit.message.dkim_verify gives dkimpy's verdicts with OpenSSL doing the RSA step.

Differential: every case is verified by dkimpy's own classes (pure-Python RSA) and by ours, and
the two must agree on the result, or raise the same exception with the same text. Keys are the
project's test keys (fixtures/keys) and keys made here for the edges (a 512-bit key, e=3, a
4096-bit key); the RFC 8463 example covers ed25519.
"""

from __future__ import annotations

import base64
import hashlib
import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.crypto import RSASSA_PKCS1_v1_5_verify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.message import dkim_verify
from audit.message.dkim_verify import Arc, Dkim, rsa_verify
from tests.conftest import FIXTURES
from tests.unit.test_message_dkim import RFC8463_MESSAGE

KEYS = FIXTURES / "keys"
DOMAIN = b"verify.test"

MESSAGE = (
    b"From: Alice <alice@verify.test>\r\n"
    b"To: Bob <bob@receiver.example>\r\n"
    b"Subject: Statement\r\n"
    b"Date: Tue, 24 Nov 2026 09:59:58 +0000\r\n"
    b"Message-ID: <s-1@verify.test>\r\n"
    b"\r\n"
    b"Hello Bob,\r\n\r\nYour statement is ready.\r\n"
)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _record(key: rsa.RSAPrivateKey, extra: bytes = b"") -> bytes:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; " + extra + b"p=" + base64.b64encode(der)


def _fixture_key(name: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key((KEYS / name).read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return {
        "s2048": _fixture_key("msg-dkim.test.s2048.pem"),
        "weak": _fixture_key("msg-dkim.test.weak.pem"),  # 1024 bits
        "e3": rsa.generate_private_key(public_exponent=3, key_size=1024),
        "big": rsa.generate_private_key(public_exponent=65537, key_size=4096),
        # 512 bits (cryptography will not make one; `openssl genrsa 512` did): dkimpy's own
        # arithmetic, and its "public key too small"
        "tiny": _fixture_key("verify.test.tiny512.pem"),
    }


def _sign(key: rsa.RSAPrivateKey, selector: bytes, raw: bytes = MESSAGE, **options) -> bytes:
    header = dkim.sign(raw, selector, DOMAIN, _pem(key), **options)
    return header + raw


def _dnsfunc(records: dict[bytes, bytes | None]):
    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        return records.get(name)

    return lookup


def _outcome(cls, raw: bytes, dnsfunc, idx: int = 0, **options) -> tuple[str, object]:
    """("ok", verify's result) or ("raise", exception class name and text)."""
    try:
        return "ok", cls(raw, **options).verify(idx=idx, dnsfunc=dnsfunc)
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return "raise", (type(exc).__name__, str(exc))


def _same(raw: bytes, dnsfunc, idx: int = 0, **options) -> tuple[str, object]:
    theirs = _outcome(dkim.DKIM, raw, dnsfunc, idx, **options)
    ours = _outcome(Dkim, raw, dnsfunc, idx, **options)
    assert ours == theirs
    return ours


def _replace_b(raw: bytes, signature: bytes) -> bytes:
    """`raw` with its first signature's b= value replaced (base64 of `signature`)."""
    value = base64.b64encode(signature)
    return re.sub(rb"(\bb=)[A-Za-z0-9+/=\s]+?(;|\r\n[^ \t])", lambda m: m.group(1) + value
                  + m.group(2), raw, count=1)  # fmt: skip


@pytest.mark.parametrize("name", ["s2048", "weak", "e3", "big"])
@pytest.mark.parametrize("algorithm", [b"rsa-sha256", b"rsa-sha1"])
def test_valid_signatures_pass_as_with_dkimpy(keys, name, algorithm):
    raw = _sign(keys[name], b"k", signature_algorithm=algorithm)
    assert _same(raw, _dnsfunc({b"k._domainkey.verify.test.": _record(keys[name])})) == (
        "ok",
        True,
    )


@pytest.mark.parametrize("name", ["s2048", "e3", "big"])
def test_changed_header_fails_as_with_dkimpy(keys, name):
    raw = _sign(keys[name], b"k").replace(b"Subject: Statement", b"Subject: Statemenu")
    assert _same(raw, _dnsfunc({b"k._domainkey.verify.test.": _record(keys[name])})) == (
        "ok",
        False,
    )


def test_changed_body_raises_dkimpys_body_hash_error(keys):
    raw = _sign(keys["s2048"], b"k").replace(b"ready", b"READY")
    kind, (name, text) = _same(
        raw, _dnsfunc({b"k._domainkey.verify.test.": _record(keys["s2048"])})
    )
    assert (kind, name) == ("raise", "ValidationError")
    assert text.startswith("body hash mismatch")


def test_key_under_1024_bits_is_refused_after_verifying(keys):
    raw = _sign(keys["tiny"], b"k")
    records = {b"k._domainkey.verify.test.": _record(keys["tiny"])}
    assert _same(raw, _dnsfunc(records)) == (
        "raise",
        ("KeyFormatError", "public key too small: 512"),
    )
    assert _same(raw, _dnsfunc(records), minkey=512) == ("ok", True)


def test_other_key_fails(keys):
    raw = _sign(keys["s2048"], b"k")
    assert _same(raw, _dnsfunc({b"k._domainkey.verify.test.": _record(keys["big"])})) == (
        "ok",
        False,
    )


@pytest.mark.parametrize(
    "record",
    [None, b"v=DKIM1; k=rsa; p=", b"v=DKIM1; k=rsa; p=AAAA", b"v=DKIM2; p=x", b"k=dsa; p=AAAA"],
)
def test_missing_and_unusable_keys_as_with_dkimpy(keys, record):
    raw = _sign(keys["s2048"], b"k")
    assert _same(raw, _dnsfunc({b"k._domainkey.verify.test.": record})) == ("ok", False)


def test_key_for_tlsrpt_only_raises_as_with_dkimpy(keys):
    raw = _sign(keys["s2048"], b"k")
    record = _record(keys["s2048"], b"s=tlsrpt; ")
    kind, (name, _) = _same(raw, _dnsfunc({b"k._domainkey.verify.test.": record}))
    assert (kind, name) == ("raise", "ValidationError")


def test_dns_timeout_is_false_as_with_dkimpy(keys):
    raw = _sign(keys["s2048"], b"k")

    def timeout(name: bytes, timeout: float = 5) -> bytes:
        raise dkim.DnsTimeoutError("timed out")

    assert _same(raw, timeout) == ("ok", False)


def test_l_tag_verifies_the_covered_part_only(keys):
    raw = _sign(keys["s2048"], b"k", length=True) + b"appended\r\n"
    assert _same(raw, _dnsfunc({b"k._domainkey.verify.test.": _record(keys["s2048"])})) == (
        "ok",
        True,
    )


def test_rfc8463_ed25519_and_rsa_example_as_with_dkimpy():
    zone = (FIXTURES / "zones" / "football.example.com.zone").read_text()
    records = {}
    for selector in ("brisbane", "test"):
        match = re.search(selector + r"\._domainkey\s+TXT\s+\((.*?)\)", zone, re.DOTALL)
        assert match, selector
        text = "".join(re.findall(r'"([^"]*)"', match.group(1)))
        records[f"{selector}._domainkey.football.example.com.".encode()] = text.encode()
    for idx in (0, 1):
        assert _same(RFC8463_MESSAGE, _dnsfunc(records), idx) == ("ok", True)
        changed = RFC8463_MESSAGE.replace(b"Is dinner ready?", b"Is dinner ready!")
        assert changed != RFC8463_MESSAGE
        assert _same(changed, _dnsfunc(records), idx) == ("ok", False)


def _digest(data: bytes, name: str = "sha256"):
    return hashlib.new(name, data)


@pytest.mark.parametrize("name", ["s2048", "weak", "e3", "big", "tiny"])
def test_rsa_step_agrees_on_edge_signatures(keys, name):
    """Leading zeros dropped, the signature plus n (dkimpy reduces it modulo n), longer or
    shorter than the modulus, empty, all ones: the same answer as dkimpy's arithmetic."""
    key = keys[name]
    numbers = key.public_key().public_numbers()
    pk = {"modulus": numbers.n, "publicExponent": numbers.e}
    length = (numbers.n.bit_length() + 7) // 8
    openssl = dkim_verify._openssl_key(numbers.n, numbers.e)
    assert (openssl is None) == (name == "tiny")  # the others are verified by OpenSSL
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    for data in (b"", b"signed header text", b"\x00" * 3):
        good = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        value = int.from_bytes(good, "big")
        candidates = [
            good,
            good.lstrip(b"\x00"),
            b"\x00\x00" + good,
            (value + numbers.n).to_bytes(length + 1, "big"),
            good[:-1],
            b"",
            b"\xff" * length,
            b"\x01",
        ]
        for signature in candidates:
            theirs = RSASSA_PKCS1_v1_5_verify(_digest(data), signature, pk)
            assert rsa_verify(_digest(data), signature, pk) == theirs
        assert rsa_verify(_digest(data), good, pk) is True


def test_rsa_step_with_a_key_openssl_would_refuse_uses_dkimpys_arithmetic():
    """An even exponent: OpenSSL will not load it, dkimpy computes anyway (and fails)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    n = key.public_numbers().n
    pk = {"modulus": n, "publicExponent": 65536}
    assert dkim_verify._openssl_key(n, 65536) is None
    signature = (12345).to_bytes(128, "big")
    assert rsa_verify(_digest(b"x"), signature, pk) is RSASSA_PKCS1_v1_5_verify(
        _digest(b"x"), signature, pk
    )


def test_sha1_digest_is_checked_by_openssl(keys):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = keys["s2048"]
    numbers = key.public_key().public_numbers()
    pk = {"modulus": numbers.n, "publicExponent": numbers.e}
    good = key.sign(b"data", padding.PKCS1v15(), hashes.SHA1())
    assert rsa_verify(_digest(b"data", "sha1"), good, pk) is True
    assert rsa_verify(_digest(b"data", "sha256"), good, pk) is False  # a SHA-1 DigestInfo


def test_key_record_is_parsed_once_per_process(keys):
    dkim_verify._evaluated_key.cache_clear()
    record = _record(keys["s2048"])
    raw = _sign(keys["s2048"], b"k")
    for _ in range(3):
        assert Dkim(raw).verify(dnsfunc=_dnsfunc({b"k._domainkey.verify.test.": record}))
    info = dkim_verify._evaluated_key.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_body_is_hashed_once_for_the_check_and_the_verification(keys, monkeypatch):
    raw = _sign(keys["s2048"], b"k")
    verifier = Dkim(raw)
    from dkim.canonicalization import CanonicalizationPolicy

    policy = CanonicalizationPolicy.from_c_value(b"relaxed/simple")
    calls = []
    original = policy.body_algorithm.canonicalize_body
    monkeypatch.setattr(
        policy.body_algorithm,
        "canonicalize_body",
        classmethod(lambda cls, body: calls.append(1) or original(body)),
    )
    digest = verifier.body_digest(policy, None, hashlib.sha256)
    assert verifier.verify(dnsfunc=_dnsfunc({b"k._domainkey.verify.test.": _record(keys["s2048"])}))
    assert calls == [1]
    assert digest == hashlib.sha256(policy.canonicalize_body(verifier.body)).digest()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), byte=st.integers(min_value=0, max_value=255))
def test_any_one_byte_change_gets_dkimpys_verdict(keys, position, byte):
    raw = _sign(keys["weak"], b"k")
    i = position % len(raw)
    changed = raw[:i] + bytes([byte]) + raw[i + 1 :]
    _same(changed, _dnsfunc({b"k._domainkey.verify.test.": _record(keys["weak"])}))


def test_arc_uses_the_same_verification():
    assert issubclass(Arc, dkim.ARC) and issubclass(Dkim, dkim.DKIM)
    assert Arc.verify_sig is Dkim.verify_sig
