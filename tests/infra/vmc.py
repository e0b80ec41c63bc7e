"""Test BIMI assets: SVG Tiny PS logos (good and broken) and Verified Mark Certificates.

A VMC here is what a mark verifying authority issues, made with the test CA: a leaf with the
BIMI extended key usage (1.3.6.1.5.5.7.3.31), a subjectAltName naming the domain, and the
logotype extension (RFC 3709, 1.3.6.1.5.5.7.1.12) as an unrecognised non-critical extension
whose DER holds the logo as a `data:image/svg+xml;base64,` URI of the gzipped SVG, as real VMCs
do. The PEM is the leaf followed by the CA.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from tests.infra.certs import TestCA

LOGOTYPE_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.12")
BIMI_EKU = ObjectIdentifier("1.3.6.1.5.5.7.3.31")
_SHA256_OID_DER = bytes.fromhex("0609608648016503040201")

GOOD_SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100">
  <title>Example Brand</title>
  <rect width="100" height="100" fill="#1a73e8"/>
  <circle cx="50" cy="50" r="30" fill="#ffffff"/>
</svg>
"""

BAD_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     version="1.1" x="0" y="0" viewBox="0 0 200 100">
  <script>alert(1)</script>
  <image xlink:href="http://tracker.example/pixel.png" width="1" height="1"/>
  <rect width="200" height="100" fill="red"/>
</svg>
"""

DTD_SVG = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps">
  <title>&b;</title>
</svg>
"""


def oversize_svg(size: int = 40 * 1024) -> bytes:
    """A valid-looking SVG Tiny PS padded beyond BIMI's 32 KiB."""
    padding = b"<!-- " + b"x" * size + b" -->\n"
    return GOOD_SVG.replace(b"<title>", padding + b"<title>", 1)


def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        header = bytes([length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + header + content


def logotype_extension(svg: bytes) -> bytes:
    """LogotypeExtn { subjectLogo [2] direct [0] LogotypeData { image { LogotypeImage {
    LogotypeDetails { mediaType, logotypeHash, logotypeURI } } } } } in DER."""
    uri = b"data:image/svg+xml;base64," + base64.b64encode(gzip.compress(svg, mtime=0))
    hash_and_value = _tlv(
        0x30, _tlv(0x30, _SHA256_OID_DER) + _tlv(0x04, hashlib.sha256(svg).digest())
    )
    details = _tlv(
        0x30,
        _tlv(0x16, b"image/svg+xml") + _tlv(0x30, hash_and_value) + _tlv(0x30, _tlv(0x16, uri)),
    )
    image = _tlv(0x30, details)  # LogotypeImage (no imageInfo)
    data = _tlv(0xA0, _tlv(0x30, image))  # direct [0] LogotypeData { image SEQUENCE OF }
    return _tlv(0x30, _tlv(0xA2, data))  # LogotypeExtn { subjectLogo [2] EXPLICIT }


def make_vmc(
    ca: TestCA,
    domain: str,
    svg: bytes = GOOD_SVG,
    *,
    names: tuple[str, ...] | None = None,
    days: float = 365,
    not_after: dt.datetime | None = None,
    logotype: bool = True,
    eku: bool = True,
) -> bytes:
    """A VMC PEM chain (leaf + CA) for `domain` (SAN: `names`, default the domain)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    end = not_after or now + dt.timedelta(days=days)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{domain} mark"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Brand Inc"),
        ]
    )
    san = x509.SubjectAlternativeName([x509.DNSName(n) for n in (names or (domain,))])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now - dt.timedelta(days=1), end - dt.timedelta(days=2)))
        .not_valid_after(end)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([BIMI_EKU]), critical=False)
    if logotype:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(LOGOTYPE_OID, logotype_extension(svg)), critical=False
        )
    cert = builder.sign(ca.key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM) + ca.cert_pem
