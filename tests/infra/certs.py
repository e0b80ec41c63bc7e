"""A test certificate authority for the loopback TLS servers (Postfix, HTTPS, IMAP).

Conventional certificates (non-critical SAN, serverAuth EKU), made with `cryptography` so every
scenario a test needs can be expressed: a name mismatch, an expired or soon-expiring leaf, a
self-signed one, an RSA-1024 key. Nothing here is trusted outside the tests: the CA is made anew
for each run and passed to the tool with --ca-file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key(kind: str) -> PrivateKey:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    bits = int(kind.removeprefix("rsa") or 2048)
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


@dataclass
class IssuedCert:
    """A leaf: its certificate, its key, and the PEM files written for servers."""

    cert: x509.Certificate
    key: PrivateKey
    chain: list[x509.Certificate]  # leaf first, then the issuing CA (empty CA part if self-signed)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    @property
    def key_pem(self) -> bytes:
        return _pem_key(self.key)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Writes STEM.crt (leaf + chain) and STEM.key (mode 0600); returns their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert_path.write_bytes(self.chain_pem)
        key_path.write_bytes(self.key_pem)
        key_path.chmod(0o600)
        return cert_path, key_path


class TestCA:
    """A throwaway CA. `issue("mx1.example.test")` gives a leaf valid for that name."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "audit test CA") -> None:
        self.key = _key("ec")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write_ca(self, path: Path) -> Path:
        """Writes the CA certificate (what --ca-file takes)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.cert_pem)
        return path

    def issue(
        self,
        *names: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        days: float = 365,
        key: str = "rsa2048",
        self_signed: bool = False,
    ) -> IssuedCert:
        """A server certificate for NAMES (DNS names or IP literals; the first is the CN).

        `days` sets the lifetime from now unless `not_after` is given; a past `not_after` makes
        an expired certificate. `self_signed` signs it with its own key (no CA in the chain).
        `key` is "rsa2048", "rsa1024", "rsa4096" or "ec".
        """
        leaf_key = _key(key)
        now = _now()
        start = not_before or now - dt.timedelta(days=1)
        end = not_after or now + dt.timedelta(days=days)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        issuer = subject if self_signed else self.cert.subject
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(_san(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        signer = leaf_key if self_signed else self.key
        cert = builder.sign(signer, hashes.SHA256())
        chain = [cert] if self_signed else [cert, self.cert]
        return IssuedCert(cert=cert, key=leaf_key, chain=chain)
