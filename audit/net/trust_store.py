"""The trust anchors certificates are judged against: the system store, or `--ca-file`.

Read once per process (cached) from the files OpenSSL itself would use, so "trusted" means
what it means to the mail servers on this machine. Every PEM block is parsed on its own: one
certificate cryptography cannot read does not empty the whole store.
"""

from __future__ import annotations

import functools
import re
import ssl
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

_PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)
# Where distributions keep the bundle when OpenSSL's compiled-in default is missing.
_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSD
)


def _parse_pem(data: bytes) -> list[x509.Certificate]:
    certs = []
    for block in _PEM_BLOCK.findall(data):
        try:
            with warnings.catch_warnings():  # old roots with non-positive serials still count
                warnings.simplefilter("ignore")
                certs.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            continue
    return certs


def _system_files() -> list[Path]:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *_BUNDLES):
        if candidate and Path(candidate).is_file():
            return [Path(candidate)]
    directory = paths.capath or paths.openssl_capath
    if directory and Path(directory).is_dir():
        return sorted(p for p in Path(directory).iterdir() if p.is_file())
    return []


@functools.cache
def load_trust_anchors(ca_file: str | None = None) -> tuple[x509.Certificate, ...]:
    """The CA certificates in `ca_file` (PEM), or the system's when None. Empty when none
    can be read: trust then reads as "could not be judged", never as "untrusted"."""
    files = [Path(ca_file)] if ca_file else _system_files()
    seen: dict[bytes, x509.Certificate] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for cert in _parse_pem(data):
            seen.setdefault(cert.fingerprint(hashes.SHA256()), cert)
    return tuple(seen.values())
