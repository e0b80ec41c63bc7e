"""DKIM key records (RFC 6376 3.6.1; ed25519 per RFC 8463). Pure: no I/O.

Problems are collected, never raised: a receiver treats a broken key as a permerror, and the
report needs to say which part is broken.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from audit.records.tag_list import DKIM, parse_tag_list

KNOWN_KEY_TYPES = ("rsa", "ed25519")


@dataclass
class DkimKey:
    raw: str
    tags: dict[str, str] = field(default_factory=dict)
    key_type: str = "rsa"
    key_bits: int | None = None
    revoked: bool = False
    testing: bool = False
    strict: bool = False  # t=s: i= must equal d=, no subdomains
    hash_algorithms: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_type": self.key_type,
            "key_bits": self.key_bits,
            "revoked": self.revoked,
            "testing": self.testing,
            "strict": self.strict,
            "hash_algorithms": self.hash_algorithms,
            "tags": {k: v for k, v in self.tags.items() if k != "p"},
            "errors": self.errors,
        }


def looks_like_dkim_key(txt: str) -> bool:
    """A TXT record that means to be a DKIM key: v=DKIM1 first, or a p= tag without v=."""
    head = txt.lstrip().split(";", 1)[0].replace(" ", "")
    if head.lower().startswith("v="):
        return head.lower() == "v=dkim1"
    return bool(re.search(r"(^|;)\s*p\s*=", txt))


def parse_dkim_key(txt: str) -> DkimKey:
    key = DkimKey(raw=txt)
    parsed = parse_tag_list(txt, DKIM)
    key.errors.extend(parsed.errors)
    key.tags = parsed.tags
    if parsed.positions.get("v", 0) != 0:
        key.errors.append("v= must be the first tag")
    if "v" in key.tags and key.tags["v"] != "DKIM1":
        key.errors.append(f"v={key.tags['v']} is not DKIM1")
    key.key_type = key.tags.get("k", "rsa").strip().lower() or "rsa"
    if key.key_type not in KNOWN_KEY_TYPES:
        key.errors.append(f"k={key.key_type} is not a key type receivers know (rsa, ed25519)")
    flags = [f.strip() for f in key.tags.get("t", "").split(":") if f.strip()]
    key.testing, key.strict = "y" in flags, "s" in flags
    key.hash_algorithms = [h.strip() for h in key.tags.get("h", "").split(":") if h.strip()]
    if "sha1" in key.hash_algorithms and "sha256" not in key.hash_algorithms:
        key.errors.append("h= allows only sha1, which receivers no longer accept (RFC 8301)")
    if "p" not in key.tags:
        key.errors.append("p= (the public key) is missing")
        return key
    data = re.sub(r"\s+", "", key.tags["p"])
    if not data:
        key.revoked = True
        return key
    try:
        der = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        key.errors.append("p= is not valid base64")
        return key
    _load_key(key, der)
    return key


def _load_key(key: DkimKey, der: bytes) -> None:
    if key.key_type == "ed25519":
        if len(der) == 32:
            key.key_bits = 256
        else:
            key.errors.append(f"an ed25519 p= must be 32 bytes, this one is {len(der)}")
        return
    if key.key_type != "rsa":
        return
    try:
        public = load_der_public_key(der)
    except (ValueError, TypeError):
        pkcs1 = _pkcs1_rsa(der)
        if pkcs1 is None:
            key.errors.append("p= does not hold an RSA public key (SubjectPublicKeyInfo)")
            return
        public = pkcs1
    if isinstance(public, rsa.RSAPublicKey):
        key.key_bits = public.key_size
    elif isinstance(public, ed25519.Ed25519PublicKey):
        key.errors.append("p= holds an ed25519 key but k= says rsa")
    else:
        key.errors.append(f"p= holds a {type(public).__name__}, not an RSA key")


def _pkcs1_rsa(der: bytes) -> rsa.RSAPublicKey | None:
    """Some signers publish a bare PKCS#1 RSAPublicKey; receivers (OpenDKIM) accept it."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pem = (
        b"-----BEGIN RSA PUBLIC KEY-----\n"
        + base64.encodebytes(der)
        + b"-----END RSA PUBLIC KEY-----\n"
    )
    try:
        public = load_pem_public_key(pem)
    except (ValueError, TypeError):
        return None
    return public if isinstance(public, rsa.RSAPublicKey) else None
