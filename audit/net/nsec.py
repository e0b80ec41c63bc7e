"""NSEC and NSEC3 denial records: what one lists, and which names it matches or covers.

The one copy of the rules both sides of a DO answer need: the zone-file backend (which NSEC or
NSEC3 records a server sends for a name) and the validator (whether the records sent prove the
absence). RFC 4034 4.1 and 6.1 for NSEC (canonical name order, the last record of the zone
wrapping to the apex), RFC 5155 for NSEC3 (hashed owner names in base32hex, compared in hash
order, the last one wrapping to the first).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Protocol

import dns.dnssec
import dns.name


class TypeBitmap(Protocol):
    """An NSEC or NSEC3 rdata's type bitmap (RFC 4034 4.1.2): (window, bitmap) pairs."""

    @property
    def windows(self) -> Iterable[tuple[int, bytes]]: ...


class HashParameters(Protocol):
    """NSEC3 or NSEC3PARAM hash parameters (RFC 5155 3.1 and 4.1)."""

    @property
    def algorithm(self) -> int: ...

    @property
    def iterations(self) -> int: ...

    @property
    def salt(self) -> bytes: ...


class Nsec3Next(Protocol):
    """An NSEC3 rdata's Next Hashed Owner Name (RFC 5155 3.1.7), raw hash octets."""

    @property
    def next(self) -> bytes: ...


def listed_types(rd: TypeBitmap) -> set[int]:
    """The types an NSEC or NSEC3 record says exist at its owner (its type bitmap)."""
    types: set[int] = set()
    for window, bitmap in rd.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    types.add(window * 256 + i * 8 + bit)
    return types


def nsec_covers(
    owner: dns.name.Name, next_name: dns.name.Name, qname: dns.name.Name, apex: dns.name.Name
) -> bool:
    """Whether the NSEC from `owner` to `next_name` in the zone `apex` covers `qname`: the name
    falls strictly between them in canonical order (RFC 4034 6.1, dnspython's name order). The
    last NSEC of a zone names the apex as next (RFC 4034 4.1.1) and covers every name after its
    owner. A name outside the zone is covered by none."""
    if not qname.is_subdomain(apex):
        return False
    if owner < next_name:
        return owner < qname < next_name
    return owner < qname or qname < next_name  # the wrap: next_name is the apex (or earlier)


def nsec3_digest(name: dns.name.Name, params: HashParameters) -> str:
    """The NSEC3 hash of `name` (RFC 5155 5) in upper-case base32hex, the owner label's form."""
    return dns.dnssec.nsec3_hash(name, params.salt, params.iterations, params.algorithm).upper()


def nsec3_owner_hash(owner: dns.name.Name | str) -> str:
    """The hash an NSEC3 owner name carries: its first label, upper-case."""
    text = owner if isinstance(owner, str) else owner.to_text()
    return text.split(".", 1)[0].upper()


def nsec3_covers(owner_hash: str, rd: Nsec3Next, digest: str) -> bool:
    """Whether the NSEC3 with `owner_hash` covers the hash `digest` (RFC 5155 8.3): strictly
    between the owner and the next hashed owner; the last NSEC3 (next <= owner) wraps around.
    Base32hex keeps the octets' order, so the text forms compare like the hashes."""
    start, digest = owner_hash.upper(), digest.upper()
    end = base64.b32hexencode(rd.next).decode().upper()
    if end <= start:
        return digest > start or digest < end
    return start < digest < end
