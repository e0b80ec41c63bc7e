"""Signed zones made offline with dnspython, for the DNSSEC tests: a key, a zone signed with it
(NSEC chain, any signature validity window, e.g. one that ended yesterday), the DS a parent
publishes for it, and StaticData for the in-memory backend.

    key = new_key()
    zone = sign_zone(ZONE_TEXT, "child.test.", key, expired=True)
    zone_text(zone)              # master file text, absolute names (Knot serves it unsigned-as-is)
    ds_record("child.test.", key)   # 'child.test. IN DS 12345 13 2 ...'
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import dns.dnssec
import dns.name
import dns.rdtypes.ANY.DNSKEY
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec

from audit.net.dns import StaticData, normalize_name

Key = tuple[ec.EllipticCurvePrivateKey, dns.rdtypes.ANY.DNSKEY.DNSKEY]
DAY = 86400


def new_key(flags: int = 257) -> Key:
    """An ECDSA P-256 key (algorithm 13); flags 257 = a key-signing key (SEP)."""
    private = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(
        private.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=flags
    )
    return private, dnskey


def sign_zone(
    text: str,
    origin: str,
    key: Key,
    *,
    expired: bool = False,
    not_yet: bool = False,
    now: float | None = None,
) -> dns.zone.Zone:
    """The zone in `text` signed with `key` (DNSKEY added, NSEC chain), valid from a day ago for
    30 days; `expired` makes the window end a day ago, `not_yet` start tomorrow."""
    now = time.time() if now is None else now
    inception, expiration = now - DAY, now + 30 * DAY
    if expired:
        inception, expiration = now - 30 * DAY, now - DAY
    if not_yet:
        inception, expiration = now + DAY, now + 30 * DAY
    zone = dns.zone.from_text(text, origin=origin, relativize=False)
    dns.dnssec.sign_zone(zone, keys=[key], inception=inception, expiration=expiration)
    return zone


def zone_text(zone: dns.zone.Zone) -> str:
    return zone.to_text(relativize=False)


def ds_record(owner: str, key: Key) -> str:
    ds = dns.dnssec.make_ds(owner, key[1], "SHA256")
    return f"{dns.name.from_text(owner).to_text()} IN DS {ds.to_text()}"


def static_data(zones: Iterable[dns.zone.Zone]) -> StaticData:
    """The zones as `--zone-dir` would load them (one StaticData, apexes set)."""
    data = StaticData()
    for zone in zones:
        data.apexes.add(normalize_name(zone.origin.to_text()))
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                for rd in rdataset:
                    data.add_rdata(name.to_text(), rd)
    return data
