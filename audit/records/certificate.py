"""The certificate an MX presented: what it says, whom it names, whether a sender can trust it.

Pure: takes the chain as DER (leaf first, as `audit.net.smtp` records it), the MX host name, the
trust anchors and the clock, and returns facts plus the verdict pieces the TLS rules need:

* trust: does the presented chain lead to a trust anchor? Judged apart from the name (a
  mismatch is its own finding) and, for an expired leaf, as of the leaf's last valid moment (the
  expiry is its own finding too), with cryptography's RFC 5280 path validation;
* name: does a subjectAltName dNSName match the MX host (RFC 6125 6.4: the subject CN is
  ignored, `*` only as the whole leftmost label and matching exactly one label);
* expiry: days left against an injectable `now`;
* key type and size, signature algorithm.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

EXPIRING_SOON_DAYS = 14  # TLS305: under two weeks left (ACME clients renew at 30, certbot at 30)


@dataclass
class CertificateFacts:
    """One certificate, described for a report."""

    subject: str
    issuer: str
    common_name: str | None
    san_dns: list[str]
    san_ip: list[str]
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    key_type: str
    key_bits: int | None
    curve: str | None
    signature_algorithm: str
    self_signed: bool
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "common_name": self.common_name,
            "san_dns": self.san_dns,
            "san_ip": self.san_ip,
            "serial": self.serial,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
            "key_type": self.key_type,
            "key_bits": self.key_bits,
            "curve": self.curve,
            "signature_algorithm": self.signature_algorithm,
            "self_signed": self.self_signed,
            "sha256": self.sha256,
        }


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    try:
        key = cert.public_key()
    except Exception:  # noqa: BLE001 - an unknown or broken key is a fact, not a crash
        return "unknown", None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, None, None


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 - any failure means "not signed by itself"
        return False
    return True


def _san(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    except Exception:  # noqa: BLE001 - a malformed SAN names nothing
        return [], []
    dns_names = [n.lower() for n in ext.get_values_for_type(x509.DNSName)]
    ips = [str(a) for a in ext.get_values_for_type(x509.IPAddress)]
    return dns_names, ips


def describe_certificate(cert: x509.Certificate) -> CertificateFacts:
    key_type, key_bits, curve = _key(cert)
    san_dns, san_ip = _san(cert)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    oid = cert.signature_algorithm_oid
    return CertificateFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=str(cns[0].value) if cns else None,
        san_dns=san_dns,
        san_ip=san_ip,
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=key_bits,
        curve=curve,
        signature_algorithm=getattr(oid, "_name", None) or oid.dotted_string,
        self_signed=_is_self_signed(cert),
        sha256=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
    )


def hostname_matches(pattern: str, host: str) -> bool:
    """RFC 6125 6.4.3: exact (case-insensitive) match, or `*` as the whole leftmost label
    standing for exactly one label. `*.com`-style two-label wildcards and partial-label
    wildcards (`mx*.example.com`) never match."""
    pattern, host = pattern.strip().rstrip(".").lower(), host.strip().rstrip(".").lower()
    if not pattern or not host:
        return False
    if "*" not in pattern:
        return pattern == host
    p_labels, h_labels = pattern.split("."), host.split(".")
    if p_labels[0] != "*" or any("*" in label for label in p_labels[1:]) or len(p_labels) < 3:
        return False
    return len(h_labels) == len(p_labels) and h_labels[0] != "" and h_labels[1:] == p_labels[1:]


def matching_name(names: Sequence[str], host: str) -> str | None:
    """The first SAN dNSName that matches `host`, if any."""
    return next((n for n in names if hostname_matches(n, host)), None)


@dataclass
class TrustVerdict:
    trusted: bool | None  # None: could not be judged
    reason: str | None = None  # why not trusted / why unknown
    chain: list[str] = field(default_factory=list)  # the validated path's subjects, leaf first
    as_of: dt.datetime | None = None  # the validation time, when not `now` (expired leaf)


def _verifier(store: verification.Store, when: dt.datetime) -> verification.ClientVerifier:
    # A client verifier with the end-entity extension policy relaxed: the chain and the CA
    # certificates are judged as RFC 5280 says, but no name is asked for (the name is judged on
    # its own) and the leaf's extensions are left to the other findings.
    return (
        verification.PolicyBuilder()
        .store(store)
        .time(when)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )


def verify_trust(
    chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: dt.datetime
) -> TrustVerdict:
    """Whether the presented chain (leaf first) leads to one of `anchors`.

    An expired (or not yet valid) leaf is judged as of its last (first) valid second, so
    "expired" and "untrusted" stay two findings.
    """
    if not chain:
        return TrustVerdict(None, "no certificate was presented")
    if not anchors:
        return TrustVerdict(None, "no trust anchors were loaded")
    leaf, intermediates = chain[0], list(chain[1:])
    store = verification.Store(list(anchors))
    times = [now]
    if now > leaf.not_valid_after_utc:
        times.append(leaf.not_valid_after_utc - dt.timedelta(seconds=1))
    elif now < leaf.not_valid_before_utc:
        times.append(leaf.not_valid_before_utc + dt.timedelta(seconds=1))
    error: Exception | None = None
    for when in times:
        try:
            verified = _verifier(store, when).verify(leaf, intermediates)
        except verification.VerificationError as exc:
            error = exc
            continue
        except Exception as exc:  # noqa: BLE001 - a certificate the validator cannot take
            error = exc
            break
        return TrustVerdict(
            True,
            chain=[c.subject.rfc4514_string() for c in verified.chain],
            as_of=None if when is now else when,
        )
    return TrustVerdict(False, _explain(leaf, intermediates, anchors, error))


def _explain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    error: Exception | None,
) -> str:
    if _is_self_signed(leaf):
        return "the certificate is self-signed"
    known = {c.subject for c in [*intermediates, *anchors]}
    if leaf.issuer not in known:
        return (
            f"its issuer ({leaf.issuer.rfc4514_string()}) is not a trusted CA and the server "
            "did not send it (a missing intermediate, or a private CA)"
        )
    text = str(error or "")
    if "candidates exhausted" in text or "max depth" in text:
        return (
            "no chain from it to a trusted root could be built (an intermediate the server sent "
            "is itself issued by a CA outside the trust store, or the chain is out of order)"
        )
    return f"path validation failed: {text}" if text else "path validation failed"


@dataclass
class CertificateAnalysis:
    """The verdict pieces about the chain one MX address presented."""

    host: str
    now: dt.datetime
    leaf: CertificateFacts | None = None
    chain: list[CertificateFacts] = field(default_factory=list)
    parse_error: str | None = None
    name_match: str | None = None
    trust: TrustVerdict = field(default_factory=lambda: TrustVerdict(None))

    @property
    def name_ok(self) -> bool:
        return self.name_match is not None

    @property
    def expired(self) -> bool:
        return self.leaf is not None and self.now > self.leaf.not_after

    @property
    def not_yet_valid(self) -> bool:
        return self.leaf is not None and self.now < self.leaf.not_before

    @property
    def days_left(self) -> int | None:
        """Whole days until notAfter (negative once expired)."""
        if self.leaf is None:
            return None
        return math.floor((self.leaf.not_after - self.now).total_seconds() / 86400)

    def expiring_soon(self, days: int = EXPIRING_SOON_DAYS) -> bool:
        left = self.days_left
        return not self.expired and left is not None and left < days

    def to_dict(self) -> dict[str, Any]:
        return {
            "leaf": self.leaf.to_dict() if self.leaf else None,
            "chain": [c.subject for c in self.chain],
            "parse_error": self.parse_error,
            "name_match": self.name_match,
            "trusted": self.trust.trusted,
            "trust_reason": self.trust.reason,
            "trust_path": self.trust.chain,
            "days_left": self.days_left,
            "expired": self.expired,
            "not_yet_valid": self.not_yet_valid,
        }


def analyze_chain(
    chain_der: Sequence[bytes],
    host: str,
    *,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
) -> CertificateAnalysis:
    """Judge the presented chain for MX `host` against `anchors` at `now`."""
    result = CertificateAnalysis(host=host, now=now)
    if not chain_der:
        result.parse_error = "no certificate was presented"
        result.trust = TrustVerdict(None, result.parse_error)
        return result
    certs: list[x509.Certificate] = []
    for index, der in enumerate(chain_der):
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            if index == 0:
                result.parse_error = f"the leaf certificate cannot be parsed: {exc}"
                result.trust = TrustVerdict(False, result.parse_error)
                return result
            result.parse_error = f"chain certificate {index} cannot be parsed: {exc}"
    result.chain = [describe_certificate(c) for c in certs]
    result.leaf = result.chain[0]
    result.name_match = matching_name(result.leaf.san_dns, host)
    result.trust = verify_trust(certs, anchors, now)
    return result
