"""The DKIM key record parser: key type and size, flags, and every way a record breaks."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization as S
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from audit.records.dkim_key import looks_like_dkim_key, parse_dkim_key


def spki(key) -> str:
    der = key.public_key().public_bytes(S.Encoding.DER, S.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def rsa2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rsa_2048(rsa2048):
    key = parse_dkim_key(f"v=DKIM1; k=rsa; p={spki(rsa2048)}")
    assert key.valid and (key.key_type, key.key_bits) == ("rsa", 2048)


def test_rsa_1024_and_whitespace_in_p():
    k = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p = spki(k)
    key = parse_dkim_key(f"v=DKIM1; p={p[:40]} {p[40:]}")
    assert key.valid and key.key_bits == 1024 and key.key_type == "rsa"


def test_pkcs1_rsa_key_is_accepted(rsa2048):
    der = rsa2048.public_key().public_bytes(S.Encoding.DER, S.PublicFormat.PKCS1)
    key = parse_dkim_key("v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode())
    assert key.valid and key.key_bits == 2048


def test_ed25519():
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(S.Encoding.Raw, S.PublicFormat.Raw)
    )
    key = parse_dkim_key("v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode())
    assert key.valid and (key.key_type, key.key_bits) == ("ed25519", 256)
    short = parse_dkim_key("v=DKIM1; k=ed25519; p=" + base64.b64encode(raw[:20]).decode())
    assert "an ed25519 p= must be 32 bytes, this one is 20" in short.errors


def test_flags_revoked_and_hashes(rsa2048):
    key = parse_dkim_key(f"v=DKIM1; t=y:s; h=sha256; p={spki(rsa2048)}")
    assert key.testing and key.strict and key.hash_algorithms == ["sha256"]
    assert parse_dkim_key("v=DKIM1; p=").revoked
    assert any("sha1" in e for e in parse_dkim_key(f"h=sha1; p={spki(rsa2048)}").errors)


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ("v=DKIM1; k=rsa; p=not base64!", "p= is not valid base64"),
        ("v=DKIM1; k=dsa; p=AAAA", "k=dsa is not a key type receivers know (rsa, ed25519)"),
        ("v=DKIM1; k=rsa", "p= (the public key) is missing"),
        ("k=rsa; v=DKIM1; p=", "v= must be the first tag"),
        ("v=DKIM2; p=", "v=DKIM2 is not DKIM1"),
        ("v=DKIM1; p=AAAA", "p= does not hold an RSA public key (SubjectPublicKeyInfo)"),
    ],
)
def test_errors(record, error):
    assert error in parse_dkim_key(record).errors


def test_selection_of_dkim_like_records():
    assert looks_like_dkim_key("v=DKIM1; p=abc")
    assert looks_like_dkim_key("k=rsa; p=abc")
    assert not looks_like_dkim_key("v=spf1 -all")
    assert not looks_like_dkim_key("google-site-verification=xyz")


def test_garbage_never_raises():
    for text in ["", ";", "=", "p", "v=DKIM1;;;", "\x00\xff", "p=" + "A" * 5000]:
        parse_dkim_key(text)
