"""TLSA records (RFC 6698, RFC 7671) matched against a presented certificate chain, the way an
SMTP client does it under DANE (RFC 7672). Pure: no I/O.

On port 25 only usages 2 (DANE-TA) and 3 (DANE-EE) count; 0 (PKIX-TA) and 1 (PKIX-EE) are
"unusable" (RFC 7672 3.1.3). DANE-EE matches the leaf and nothing else (its name and dates do
not matter); DANE-TA matches a CA certificate the server sent, which must sign its way down to
the leaf. The MX name check DANE-TA also asks for is left to the certificate checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "full certificate", 1: "SubjectPublicKeyInfo"}
MATCHING = {0: "exact", 1: "SHA-256", 2: "SHA-512"}
SMTP_USAGES = (2, 3)  # RFC 7672 3.1


@dataclass(frozen=True)
class TlsaMatch:
    """One TLSA record judged against one chain."""

    record: str  # "3 1 1 <hex>"
    usage: int
    selector: int
    mtype: int
    usable: bool  # counts for SMTP: usage 2 or 3 with a known selector and matching type
    matched: bool
    position: int | None = None  # the chain index that matched (0 = the leaf)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "usage": USAGES.get(self.usage, str(self.usage)),
            "usable": self.usable,
            "matched": self.matched,
            "position": self.position,
            "note": self.note or None,
        }


def association_data(cert_der: bytes, selector: int, mtype: int) -> bytes | None:
    """What a TLSA record with `selector`/`mtype` would hold for this certificate (None for
    parameters RFC 6698 does not define)."""
    if selector == 0:
        data = cert_der
    elif selector == 1:
        try:  # a certificate the server sent that cryptography cannot read matches nothing
            cert = x509.load_der_x509_certificate(cert_der)
            data = cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            return None
    else:
        return None
    if mtype == 0:
        return data
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return None


def tlsa_record(cert_der: bytes, usage: int = 3, selector: int = 1, mtype: int = 1) -> str:
    """The TLSA record text (`3 1 1 <hex>`) that matches this certificate."""
    data = association_data(cert_der, selector, mtype)
    if data is None:
        raise ValueError(f"undefined TLSA selector {selector} or matching type {mtype}")
    return f"{usage} {selector} {mtype} {data.hex()}"


def _text(rd: Any) -> str:
    return f"{rd.usage} {rd.selector} {rd.mtype} {bytes(rd.cert).hex()}"


def _links(chain: Sequence[x509.Certificate], upto: int) -> bool:
    """Whether each certificate from the leaf up to `upto` is signed by the next one."""
    try:
        for i in range(upto):
            chain[i].verify_directly_issued_by(chain[i + 1])
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _parse_chain(chain_der: Sequence[bytes]) -> list[x509.Certificate] | None:
    try:
        return [x509.load_der_x509_certificate(c) for c in chain_der]
    except ValueError:
        return None


def match_tlsa(records: Iterable[Any], chain_der: Sequence[bytes]) -> list[TlsaMatch]:
    """Each TLSA record (objects with usage, selector, mtype, cert: dnspython's TLSA rdata)
    against the chain the server presented (DER, leaf first)."""
    chain_der = list(chain_der)
    parsed: list[x509.Certificate] | None = None
    out: list[TlsaMatch] = []
    for rd in records:
        usage, selector, mtype = int(rd.usage), int(rd.selector), int(rd.mtype)
        wanted = bytes(rd.cert)
        base: dict[str, Any] = {
            "record": _text(rd), "usage": usage, "selector": selector, "mtype": mtype
        }
        if usage not in SMTP_USAGES:
            name = USAGES.get(usage, f"usage {usage}")
            note = f"{name} is unusable for SMTP (RFC 7672 3.1.3)"
            out.append(TlsaMatch(**base, usable=False, matched=False, note=note))
            continue
        if selector not in SELECTORS or mtype not in MATCHING:
            note = f"undefined selector {selector} or matching type {mtype}"
            out.append(TlsaMatch(**base, usable=False, matched=False, note=note))
            continue
        if not chain_der:
            out.append(TlsaMatch(**base, usable=True, matched=False, note="no certificate"))
            continue
        positions = [0] if usage == 3 else list(range(1, len(chain_der)))
        hit = next(
            (i for i in positions if association_data(chain_der[i], selector, mtype) == wanted),
            None,
        )
        if hit is None:
            where = "the leaf certificate" if usage == 3 else "no CA certificate the server sent"
            note = f"does not match {where}"
            out.append(TlsaMatch(**base, usable=True, matched=False, note=note))
            continue
        if usage == 2:
            if parsed is None:
                parsed = _parse_chain(chain_der)
            if parsed is None or not _links(parsed, hit):
                note = f"matches chain certificate {hit}, which does not sign down to the leaf"
                out.append(TlsaMatch(**base, usable=True, matched=False, position=hit, note=note))
                continue
        note = "matches the leaf" if hit == 0 else f"matches chain certificate {hit}"
        out.append(TlsaMatch(**base, usable=True, matched=True, position=hit, note=note))
    return out
