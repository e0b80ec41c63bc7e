"""BIMI evidence documents: a Verified (or Common) Mark Certificate as a PEM chain. Pure.

What a receiver needs from the `a=` file: PEM certificates, leaf first, each signed by the next;
the leaf carries the logotype extension (RFC 3709, OID 1.3.6.1.5.5.7.1.12) holding the logo,
the BIMI extended key usage, a validity period covering today, and a subjectAltName naming the
domain (or `<selector>._bimi.<domain>`). Trust in the issuing mark authority is not judged here:
the tool ships no VMC root list, and the facts say so.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ObjectIdentifier

MAX_VMC_BYTES = 64 * 1024
LOGOTYPE_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.12")
BIMI_EKU_OID = ObjectIdentifier("1.3.6.1.5.5.7.3.31")
_DATA_URI = re.compile(rb"data:image/svg\+xml[^,]*;base64,([A-Za-z0-9+/=]+)")


@dataclass
class VmcReport:
    certificates: int = 0
    subject: str | None = None
    issuer: str | None = None
    names: list[str] = field(default_factory=list)
    not_after: str | None = None
    has_logotype: bool = False
    has_bimi_eku: bool = False
    embedded_logo: bytes | None = None  # the SVG inside the logotype extension, if readable
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "certificates": self.certificates,
            "subject": self.subject,
            "issuer": self.issuer,
            "names": list(self.names),
            "not_after": self.not_after,
            "logotype_extension": self.has_logotype,
            "bimi_eku": self.has_bimi_eku,
            "embedded_logo_size": len(self.embedded_logo) if self.embedded_logo else None,
            "issuer_trust": "not checked (no mark-authority root list)",
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }


def check_vmc(
    data: bytes,
    domain_names: list[str],
    *,
    now: dt.datetime | None = None,
    truncated: bool = False,
) -> VmcReport:
    """Judges a VMC/CMC PEM file for the BIMI record of `domain_names` (any one must be in the
    leaf's SAN: the domain, its organizational domain, or `<selector>._bimi.<domain>`)."""
    report = VmcReport()
    if truncated:
        report.errors.append(f"the file is over {MAX_VMC_BYTES // 1024} KiB")
        return report
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        report.errors.append("not a PEM certificate chain (-----BEGIN CERTIFICATE-----)")
        return report
    report.certificates = len(chain)
    leaf = chain[0]
    try:
        report.subject = leaf.subject.rfc4514_string()
        report.issuer = leaf.issuer.rfc4514_string()
        report.not_after = leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        _check_dates(report, chain, now or dt.datetime.now(dt.UTC))
        _check_extensions(report, leaf)
        _check_names(report, leaf, domain_names)
        _check_chain(report, chain)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # cryptography parses extensions lazily: a malformed SAN or logotype surfaces here
        report.errors.append(f"the certificate cannot be read: {exc}")
    return report


def _check_dates(report: VmcReport, chain: list[x509.Certificate], now: dt.datetime) -> None:
    for index, cert in enumerate(chain):
        which = "the VMC" if index == 0 else f"issuer certificate {index}"
        if cert.not_valid_after_utc < now:
            report.errors.append(
                f"{which} expired on {cert.not_valid_after_utc:%Y-%m-%d} ({_cn(cert)})"
            )
        elif cert.not_valid_before_utc > now:
            report.errors.append(
                f"{which} is not valid before {cert.not_valid_before_utc:%Y-%m-%d} ({_cn(cert)})"
            )


def _check_extensions(report: VmcReport, leaf: x509.Certificate) -> None:
    try:
        logotype = leaf.extensions.get_extension_for_oid(LOGOTYPE_OID)
    except x509.ExtensionNotFound:
        report.errors.append("the leaf has no logotype extension (1.3.6.1.5.5.7.1.12): no mark")
    else:
        report.has_logotype = True
        value = logotype.value
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        report.embedded_logo = _embedded_svg(raw)
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        report.has_bimi_eku = BIMI_EKU_OID in list(usages)
    except x509.ExtensionNotFound:
        pass
    if not report.has_bimi_eku:
        report.errors.append("the leaf lacks the BIMI extended key usage (1.3.6.1.5.5.7.3.31)")


def _embedded_svg(raw: bytes) -> bytes | None:
    """The logo inside the logotype extension: a data: URI, base64 of (usually gzipped) SVG."""
    match = _DATA_URI.search(raw)
    if not match:
        return None
    try:
        data = base64.b64decode(match.group(1), validate=True)
    except (binascii.Error, ValueError):
        return None
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError):
            return None
    return data


def _check_names(report: VmcReport, leaf: x509.Certificate, domain_names: list[str]) -> None:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        report.names = [n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        report.errors.append("the leaf has no subjectAltName: it names no domain")
        return
    wanted = [n.lower().rstrip(".") for n in domain_names]
    if not set(wanted) & set(report.names):
        report.errors.append(
            f"the VMC is for {', '.join(report.names) or 'no DNS name'}, not {wanted[0]}"
        )


def _check_chain(report: VmcReport, chain: list[x509.Certificate]) -> None:
    if len(chain) == 1:
        report.warnings.append("the file holds only the VMC: include its issuing CA certificates")
        return
    for index, (cert, issuer) in enumerate(zip(chain, chain[1:], strict=False)):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as exc:
            reason = str(exc) or "bad signature"
            report.errors.append(
                f"certificate {index} is not issued by the next one in the file ({reason})"
            )


def _cn(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()
